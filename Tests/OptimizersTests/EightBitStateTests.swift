// EightBitStateTests: 8-bit block-wise optimizer state (optimizers-elementwise-zo.md §8.2) in
// AdamW, Lion, SGD and Muon through the real optimizer path — buffer layout, the memory formula,
// the 4096-value threshold, closeness to 32-bit AdamW, exact restore and restore errors.
import XCTest
import LlamaModel
import Optimizers
import Tensors

private let paramName = "model.layers.0.mlp.up_proj.weight"

/// A single-parameter optimizer with an explicit `stateBits` (RuleHarness leaves it at 32).
private func makeOptimizer(_ rule: UpdateRule, bits: Int, theta: [Float], shape: [Int]) throws -> (Optimizer, Tensor) {
    let t = Tensor(shape: shape, values: theta)
    let p = Parameter(name: paramName, role: .mlpUp, layer: 0, tensor: t)
    let g = ParameterGroup(name: "test", rule: rule, parameters: [p], weightDecay: 0.01)
    return (try Optimizer(name: "adamw", groups: [g], modelParameters: [p], stateBits: bits), t)
}

/// The gradient of step `k` (seeded normals with a per-element scale, so blocks differ).
private func gradient(_ k: Int, count: Int) -> [Float] {
    var g = [Float](repeating: 0, count: count)
    g.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: 42, key: UInt64(k)) }
    return g.enumerated().map { $1 * (0.01 + Float($0 % 97) * 0.001) }
}

private func dequantized(_ state: RuleState, _ key: String, signed: Bool) -> [Float] {
    let codes = state.bytes(key + ".codes"), absmax = state.float(key + ".absmax")
    let out = Tensor(uninitializedShape: [codes.count])
    BlockwiseQuantizer.dequantize(codes: codes.pointer, absmax: absmax.pointer, count: codes.count, signed: signed, into: out.pointer)
    return out.array
}

private func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) { num += Double(x - y) * Double(x - y); den += Double(y) * Double(y) }
    return (num / den).squareRoot()
}

final class EightBitStateTests: XCTestCase {
    private let shape = [64, 80]
    private var n: Int { 64 * 80 }
    private var theta0: [Float] { (0..<n).map { Float($0 % 13) * 0.01 - 0.06 } }

    private func rules() throws -> [(UpdateRule, [String])] {
        [(AdamW(stateBits: 8), ["exp_avg", "exp_avg_sq"]), (Lion(stateBits: 8), ["exp_avg"]),
         (try SGD(momentum: 0.9, stateBits: 8), ["momentum_buffer"]), (Muon(stateBits: 8), ["momentum_buffer"])]
    }

    func testEightBitBuffersAreCodesAndAbsmaxWithFormulaBytes() throws {
        // n = 5120: 20 blocks, n + 4·20 = 5200 bytes per moment.
        XCTAssertEqual(BlockwiseQuantizer.blocks(n), 20)
        for (rule, moments) in try rules() {
            let h = try RuleHarness(rule, theta: theta0, shape: shape)
            for k in 1...2 { try h.run(gradient(k, count: n), lr: 1e-3) }
            var expectedKeys: Set<String> = []
            for key in moments {
                expectedKeys.formUnion([key + ".codes", key + ".absmax"])
                XCTAssertTrue(h.state.isQuantized(key), "\(rule.summary) \(key)")
                XCTAssertEqual(h.state.buffers[key + ".codes"]?.dtype, "U8")
                XCTAssertEqual(h.state.bytes(key + ".codes").shape, shape)
                XCTAssertEqual(h.state.buffers[key + ".absmax"]?.dtype, "F32")
                XCTAssertEqual(h.state.float(key + ".absmax").shape, [20])
                XCTAssertTrue(h.state.float(key + ".absmax").array.allSatisfy { $0 > 0 }, "\(rule.summary) \(key) absmax")
            }
            XCTAssertEqual(Set(h.state.buffers.keys), expectedKeys, rule.summary)
            XCTAssertEqual(h.optimizer.stateBytes, moments.count * 5200, rule.summary)
            XCTAssertEqual(h.optimizer.stateBytes, h.optimizer.stateBytesFormula, rule.summary)
        }
    }

    func testSignedMomentBlocksHoldTheirAbsmaxAtAnEndCode() throws {
        // After the requantization the largest |m| of each block is ±absmax: code 255 or 0.
        let h = try RuleHarness(Lion(stateBits: 8), theta: theta0, shape: shape)
        for k in 1...3 { try h.run(gradient(k, count: n), lr: 1e-3) }
        let codes = h.state.bytes("exp_avg.codes").array
        for b in 0..<20 { XCTAssertTrue(codes[(b * 256)..<(b * 256 + 256)].contains { $0 == 255 || $0 == 0 }, "block \(b)") }
    }

    func testFirstAdamWStepStoresTheQuantizedMoments() throws {
        // From zero state: m = (1−β1)·g, v = (1−β2)·g², in Float as AdamCore computes them, then quantized.
        let g = gradient(1, count: n)
        let h = try RuleHarness(AdamW(stateBits: 8), theta: theta0, shape: shape)
        try h.run(g, lr: 1e-3)
        for (key, values, signed) in [("exp_avg", g.map { Float(1 - Double(0.9)) * $0 }, true),
                                      ("exp_avg_sq", g.map { Float(1 - Double(0.999)) * ($0 * $0) }, false)] {
            var codes = [UInt8](repeating: 0, count: n), absmax = [Float](repeating: 0, count: 20)
            BlockwiseQuantizer.quantize(values, count: n, signed: signed, codes: &codes, absmax: &absmax)
            XCTAssertEqual(h.state.bytes(key + ".codes").array, codes, key)
            XCTAssertEqual(h.state.float(key + ".absmax").array, absmax, key)
        }
    }

    func testTensorBelow4096ValuesKeepsFloat32State() throws {
        let small = [63, 65]  // 4095 values
        let theta = [Float](repeating: 0.5, count: 4095)
        for (rule, moments) in try rules() {
            let h = try RuleHarness(rule, theta: theta, shape: small)
            try h.run(gradient(1, count: 4095), lr: 1e-3)
            XCTAssertEqual(Set(h.state.buffers.keys), Set(moments), rule.summary)
            for key in moments {
                XCTAssertFalse(h.state.isQuantized(key))
                XCTAssertEqual(h.state.float(key).shape, small)
            }
            XCTAssertEqual(h.optimizer.stateBytes, moments.count * 4 * 4095, rule.summary)
            XCTAssertEqual(h.optimizer.stateBytes, h.optimizer.stateBytesFormula, rule.summary)
        }
    }

    func testMomentBytesFormula() {
        XCTAssertEqual(RuleState.momentBytes(count: 5120, bits: 8), 5120 + 4 * 20)
        XCTAssertEqual(RuleState.momentBytes(count: 4096, bits: 8), 4096 + 4 * 16)
        XCTAssertEqual(RuleState.momentBytes(count: 4097, bits: 8), 4097 + 4 * 17)
        XCTAssertEqual(RuleState.momentBytes(count: 4095, bits: 8), 4 * 4095)
        XCTAssertEqual(RuleState.momentBytes(count: 5120, bits: 32), 4 * 5120)
        // An m×n matrix: mn/4 + ⌈mn/256⌉ floats per 8-bit moment.
        XCTAssertEqual(RuleState.momentBytes(count: 1024 * 1024, bits: 8), 4 * (1024 * 1024 / 4 + 4096))
    }

    func testEightBitAdamWStaysCloseToFloat32AdamW() throws {
        let h8 = try RuleHarness(AdamW(stateBits: 8), theta: theta0, shape: shape, weightDecay: 0.1)
        let h32 = try RuleHarness(AdamW(), theta: theta0, shape: shape, weightDecay: 0.1)
        for k in 1...5 {
            let g = gradient(k, count: n)
            try h8.run(g, lr: 1e-3)
            try h32.run(g, lr: 1e-3)
        }
        let m8 = dequantized(h8.state, "exp_avg", signed: true), v8 = dequantized(h8.state, "exp_avg_sq", signed: false)
        XCTAssertLessThan(relativeError(m8, h32.buffer("exp_avg")), 0.03)
        XCTAssertLessThan(relativeError(v8, h32.buffer("exp_avg_sq")), 0.03)
        // θ moved by about 5e-3 from θ0; the two runs agree to a few percent of that motion.
        let moved = zip(h32.theta.array, theta0).map { abs($0 - $1) }.max()!
        let diff = zip(h8.theta.array, h32.theta.array).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(moved, 2e-3)
        XCTAssertLessThan(diff, 0.1 * moved, "max |θ8 − θ32| \(diff)")
        XCTAssertNotEqual(h8.theta.array, h32.theta.array, "the 8-bit run is really quantized")
    }

    /// Copies the optimizer's buffers as a checkpoint would read them back.
    private func saved(_ o: Optimizer) -> [String: SavedBuffer] {
        var out: [String: SavedBuffer] = [:]
        for (name, b) in o.stateBuffers() {
            switch b {
            case .u8(let bytes): out[name] = .u8(shape: bytes.shape, bytes: bytes.array)
            case .f32(let t): out[name] = .f32(t.clone())
            }
        }
        return out
    }

    private func step(_ o: Optimizer, _ t: Tensor, _ k: Int) throws {
        t.grad = Tensor(shape: shape, values: gradient(k, count: n))
        try o.step(k, lr: 1e-3, seed: 0)
    }

    func testRestoreThenContinueIsBitIdentical() throws {
        for (rule, moments) in try rules() {
            let (a, ta) = try makeOptimizer(rule, bits: 8, theta: theta0, shape: shape)
            for k in 1...3 { try step(a, ta, k) }
            let (b, tb) = try makeOptimizer(rule, bits: 8, theta: ta.array, shape: shape)
            try b.restoreState(buffers: saved(a), metadata: a.stateMetadata, scalars: a.stateScalars())
            XCTAssertEqual(b.stateScalars(), a.stateScalars())
            for k in 4...6 {
                try step(a, ta, k)
                try step(b, tb, k)
            }
            XCTAssertEqual(tb.array, ta.array, rule.summary)
            let sa = a.assignments[0].state, sb = b.assignments[0].state
            for key in moments {
                XCTAssertEqual(sb.bytes(key + ".codes").array, sa.bytes(key + ".codes").array, "\(rule.summary) \(key)")
                XCTAssertEqual(sb.float(key + ".absmax").array, sa.float(key + ".absmax").array, "\(rule.summary) \(key)")
            }
        }
    }

    private func assertRestoreFails(_ o: Optimizer, _ buffers: [String: SavedBuffer], metadata: [String: String]? = nil,
                                    mentions needles: [String], line: UInt = #line) {
        XCTAssertThrowsError(try o.restoreState(buffers: buffers, metadata: metadata ?? o.stateMetadata, scalars: o.stateScalars()),
                             line: line) { error in
            guard let e = error as? OptimizerError else { return XCTFail("not an OptimizerError: \(error)", line: line) }
            for s in needles { XCTAssertTrue(e.description.contains(s), "\"\(s)\" not in: \(e.description)", line: line) }
        }
    }

    func testRestoreRejectsMissingMisshapenWrongDtypeAndExtraBuffers() throws {
        let (a, ta) = try makeOptimizer(AdamW(stateBits: 8), bits: 8, theta: theta0, shape: shape)
        try step(a, ta, 1)
        let good = saved(a)
        let (b, _) = try makeOptimizer(AdamW(stateBits: 8), bits: 8, theta: theta0, shape: shape)
        let codes = paramName + "/exp_avg.codes", absmax = paramName + "/exp_avg_sq.absmax"
        XCTAssertEqual(Set(good.keys), [codes, absmax, paramName + "/exp_avg.absmax", paramName + "/exp_avg_sq.codes"])

        var missing = good
        missing[absmax] = nil
        assertRestoreFails(b, missing, mentions: [absmax, "missing"])

        var misshapen = good
        misshapen[codes] = .u8(shape: [80, 64], bytes: [UInt8](repeating: 1, count: n))
        assertRestoreFails(b, misshapen, mentions: [codes, "[80, 64]"])
        var shortAbsmax = good
        shortAbsmax[absmax] = .f32(Tensor.zeros([19]))
        assertRestoreFails(b, shortAbsmax, mentions: [absmax])

        var wrongType = good
        wrongType[codes] = .f32(Tensor.zeros(shape))
        assertRestoreFails(b, wrongType, mentions: [codes, "F32", "U8"])

        var extra = good
        extra[paramName + "/exp_avg"] = .f32(Tensor.zeros(shape))
        assertRestoreFails(b, extra, mentions: [paramName + "/exp_avg\"", "not part of"])

        assertRestoreFails(b, good, metadata: ["optimizer": "lion", "state_bits": "8"], mentions: ["lion", "adamw"])
        assertRestoreFails(b, good, metadata: ["optimizer": "adamw", "state_bits": "32"], mentions: ["state_bits"])

        // Nothing was loaded by the failed attempts: b still has its zero state.
        XCTAssertTrue(b.assignments[0].state.bytes("exp_avg.codes").array.allSatisfy { $0 == 0 })
        XCTAssertEqual(b.assignments[0].state.updates, 0)
        // And the good set restores.
        try b.restoreState(buffers: good, metadata: a.stateMetadata, scalars: a.stateScalars())
        XCTAssertEqual(b.assignments[0].state.bytes("exp_avg.codes").array, a.assignments[0].state.bytes("exp_avg.codes").array)
    }

    func testRestoreRejectsFloat32StateIntoEightBitPlan() throws {
        // A 32-bit checkpoint (one F32 buffer per moment) cannot restore an 8-bit plan.
        let (a32, t32) = try makeOptimizer(AdamW(), bits: 32, theta: theta0, shape: shape)
        try step(a32, t32, 1)
        let (b8, _) = try makeOptimizer(AdamW(stateBits: 8), bits: 8, theta: theta0, shape: shape)
        assertRestoreFails(b8, saved(a32), metadata: ["optimizer": "adamw"], mentions: [paramName + "/exp_avg.absmax"])
    }
}
