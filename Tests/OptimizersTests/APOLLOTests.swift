// APOLLO and APOLLO-Mini through the real optimizer path (optimizers-lowrank.md §3.3–3.4,
// tests §3.7.1–3 and 5–6, memory §3.2 and §6): injected-P vectors, identity P ≡ channel-scaled
// AdamHF, scale_front, the seeded projector schedule and restore, state bytes, the catalog plan.
import XCTest
import LlamaModel
import Optimizers
import Tensors

final class APOLLOTests: XCTestCase {
    private let g: [Float] = [2, 1, 2, 1, -1, 0]
    private let zero = [Float](repeating: 0, count: 6)

    func testFirstUpdateClosedFormWithInjectedProjector() throws {
        // §3.7.2: P = (0.6, 0.8)ᵀ (left, r = 1), scale 4 (a = 2), η = 0.1, θ₀ = 0: θ₁ = −η·a·vector.
        let channel = [0.9999842, 4.9992093, 1.6666227, 0.4999921, -4.9992093, 0]
        let tensor = [1.4796921, 0.7398460, 1.4796921, 0.7398460, -0.7398460, 0]
        for (type, expected) in [(APOLLO.ScaleType.channel, channel), (.tensor, tensor)] {
            let rule = APOLLO(core: try lrCore(.random, rank: 1, fixed: [0.6, 0.8]), scale: 4, scaleType: type)
            let h = try RuleHarness(rule, theta: zero, shape: [2, 3])
            assertClose(try h.run(g, lr: 0.1), expected.map { -0.2 * $0 }, rel: 2e-6, abs: 1e-7)
            assertClose(h.buffer("exp_avg"), [0.2, -0.02, 0.12], rel: 1e-6)  // (1 − β1)·R, R = (2.0, −0.2, 1.2)
            XCTAssertEqual(h.buffer("nl_norm")[0], Float(expected.reduce(0) { $0 + $1 * $1 }.squareRoot() / 0.001.squareRoot() * 0.1),
                           accuracy: 1e-5, "φ = ‖S‖ = ‖ΔW/(−η·a)‖/c₁, without √scale and c_t")
        }
    }

    func testIdentityProjectorGivesChannelNormsOfAdamHFAlongTheRawGradient() throws {
        // §3.7.1: P = I₃ (right, r = d_lo = 3), no limiter, scale 4: per channel (row)
        // ‖ΔW_c‖ = η·a·c_t·‖N_full,c‖ = a·‖ΔW_AdamHF,c‖ at every t, along −G_c; tensor mode: Frobenius norms.
        let m = 4, n = 3
        let identity: [Float] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        for type in [APOLLO.ScaleType.channel, .tensor] {
            let rule = APOLLO(core: try lrCore(.random, rank: 3, fixed: identity), scale: 4, scaleType: type, disableLimiter: true)
            let ap = try RuleHarness(rule, theta: [Float](repeating: 0, count: 12), shape: [m, n])
            let adam = try RuleHarness(AdamW(eps: 1e-6, style: .hf), theta: [Float](repeating: 0, count: 12), shape: [m, n])
            for k in 0..<5 {
                let grad = lrGaussian(12, seed: UInt64(400 + k)).map { $0 * Float(1 + k) }
                ap.theta.fillZero()
                adam.theta.fillZero()
                let da = lrDouble(try ap.run(grad, lr: 1)), dw = lrDouble(try adam.run(grad, lr: 1))
                let channels: [[Int]] = type == .channel ? (0..<m).map { i in (0..<n).map { i * n + $0 } } : [Array(0..<12)]
                for c in channels {
                    let na = c.map { da[$0] * da[$0] }.reduce(0, +).squareRoot()
                    let nw = c.map { dw[$0] * dw[$0] }.reduce(0, +).squareRoot()
                    let ng = c.map { Double(grad[$0] * grad[$0]) }.reduce(0, +).squareRoot()
                    XCTAssertEqual(na, 2 * nw, accuracy: 1e-5 * na, "\(type) t \(k + 1) channel \(c)")
                    let cosine = -c.map { da[$0] * Double(grad[$0]) }.reduce(0, +) / (na * ng)
                    XCTAssertEqual(cosine, 1, accuracy: 1e-6, "\(type) t \(k + 1): along −G")
                }
            }
        }
    }

    func testScaleFrontAgreesWithScaleAfterTheLimiter() throws {
        // §3.7.3: the limiter is homogeneous, so √scale before or after it agree (growing gradients engage it).
        // Each update is compared on its own (θ reset to 0), as a relative Frobenius error.
        var activations = 0
        let harnesses = try [false, true].map { front in
            try RuleHarness(APOLLO(core: try lrCore(.random, rank: 2, gap: 3), scale: 128, scaleType: .channel, scaleFront: front),
                            theta: [Float](repeating: 0, count: 35), shape: [7, 5])
        }
        for k in 0..<6 {
            let grad = lrGaussian(35, seed: UInt64(500 + k)).map { $0 * Float(1 + 2 * k) }
            let updates = try harnesses.map { h -> [Float] in
                h.theta.fillZero()
                let d = try h.run(grad, lr: 0.01)
                activations += h.optimizer.metrics.values.contains { $0.0 == "limiter_activations" } ? 1 : 0
                return d
            }
            let diff = zip(updates[0], updates[1]).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
            let norm = updates[0].map { Double($0 * $0) }.reduce(0, +).squareRoot()
            XCTAssertLessThan(diff, 1e-6 * norm, "update \(k + 1)")
        }
        XCTAssertGreaterThanOrEqual(activations, 6, "the limiter acted in both runs")
        XCTAssertEqual(Double(harnesses[1].buffer("nl_norm")[0]), 128.0.squareRoot() * Double(harnesses[0].buffer("nl_norm")[0]),
                       accuracy: 1e-5 * Double(harnesses[1].buffer("nl_norm")[0]), "front: φ carries √scale")
    }

    func testSeededProjectorScheduleAndMidIntervalRestoreAreBitIdentical() throws {
        // §3.7.5: P for update k is the Gaussian keyed by (seed 0, parameter 0, refresh k / T), never
        // stored; T = 2, so updates 1–2 use refresh 0 and update 3 refresh 1. Moments are carried.
        let m = 6, n = 4, r = 2
        let rule = APOLLO(core: try lrCore(.random, rank: r, gap: 2))
        let proj = rule.core.projector
        func lowRank(_ grad: [Float], refresh: Int) -> [Double] {
            let p = Tensor(uninitializedShape: proj.projectorShape(rows: m, cols: n))
            proj.randomProjector(seed: 0, parameter: 0, refresh: refresh, into: p)
            let out = Tensor(uninitializedShape: proj.lowRankShape(rows: m, cols: n))
            proj.project(Tensor(shape: [m, n], values: grad), p, into: out)
            return lrDouble(out.array)
        }
        let a = try RuleHarness(rule, theta: lrGaussian(24, seed: 1), shape: [m, n])
        XCTAssertEqual(Set(a.state.buffers.keys), ["exp_avg", "exp_avg_sq", "nl_norm"], "P is not stored")
        let grads = (1...7).map { lrGaussian(24, seed: UInt64(600 + $0)) }
        var expected = [Double](repeating: 0, count: m * r)
        for k in 0..<3 {
            try a.run(grads[k], lr: 0.01)
            let previous = expected
            expected = zip(previous, lowRank(grads[k], refresh: k / 2)).map { 0.9 * $0 + 0.1 * $1 }
            assertClose(a.buffer("exp_avg"), expected, rel: 1e-5, abs: 1e-7)
            if k == 2 {  // the old P would give another M
                let stale = zip(previous, lowRank(grads[k], refresh: 0)).map { 0.9 * $0 + 0.1 * $1 }
                XCTAssertGreaterThan(zip(a.buffer("exp_avg"), stale).map { abs(Double($0) - $1) }.max()!, 1e-3)
            }
        }
        // Restore after update 3 (k = 3: mid-interval) into a fresh optimizer, then continue both.
        let b = try RuleHarness(rule, theta: a.theta.array, shape: [m, n])
        var saved: [String: SavedBuffer] = [:]
        for (name, buffer) in a.optimizer.stateBuffers() {
            guard case .f32(let t) = buffer else { return XCTFail("\(name) is not F32") }
            saved[name] = .f32(t.clone())
        }
        try b.optimizer.restoreState(buffers: saved, metadata: a.optimizer.stateMetadata, scalars: a.optimizer.stateScalars())
        b.step = a.step
        XCTAssertEqual(b.state.updates, 3)
        for k in 3..<7 {
            XCTAssertEqual(try b.run(grads[k], lr: 0.01), try a.run(grads[k], lr: 0.01), "update \(k + 1)")
        }
        for key in ["exp_avg", "exp_avg_sq", "nl_norm"] { XCTAssertEqual(b.buffer(key), a.buffer(key), key) }
    }

    func testStateBytesRegeneratedAndSVDProjector() throws {
        // §3.2/§6: 2r·d_hi + 1 floats with P regenerated (r not capped), + r·d_lo with proj svd (r capped).
        let cases: [(LowRankProjector.Kind, [Int], Int, Int)] = [
            (.random, [12, 5], 3, 2 * 3 * 12 + 1), (.random, [5, 12], 3, 2 * 3 * 12 + 1), (.random, [6, 6], 3, 2 * 3 * 6 + 1),
            (.random, [12, 5], 8, 2 * 8 * 12 + 1), (.svd, [12, 5], 3, 2 * 3 * 12 + 3 * 5 + 1), (.svd, [12, 5], 8, 2 * 5 * 12 + 5 * 5 + 1),
        ]
        for (kind, shape, rank, floats) in cases {
            let rule = APOLLO(core: try lrCore(kind, rank: rank))
            XCTAssertEqual(rule.stateBytesFormula(for: info("w", shape)), 4 * floats, "\(kind) \(shape) r \(rank)")
            let count = shape[0] * shape[1]
            let h = try RuleHarness(rule, theta: lrGaussian(count, seed: 1), shape: shape)
            try h.run(lrGaussian(count, seed: 2), lr: 0.01)
            XCTAssertEqual(h.optimizer.stateBytes, 4 * floats, "\(kind) \(shape) r \(rank)")
        }
    }

    func testApolloMiniFromCatalogIsRankOneTensorScaledWithHFAdamWOnTheRest() throws {
        let config = LlamaConfig(vocabSize: 64, hiddenSize: 16, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 2)
        let model = Llama(config: config, seed: 1)
        let opt = try OptimizerCatalog.make(OptimizerSettings(name: "apollo-mini", numbers: ["lr": 1e-3]),
                                            model: ModelDescription(config), parameters: model.parameters)
        let mini = try XCTUnwrap(opt.groups[0].rule as? APOLLO)
        XCTAssertEqual(mini.core.projector.rank, 1)
        XCTAssertEqual(mini.core.projector.kind, .random)
        XCTAssertEqual(mini.scaleType, .tensor)
        XCTAssertEqual(mini.scale, 128)
        XCTAssertEqual(opt.groups[0].decayPlacement, .after)
        XCTAssertEqual((opt.groups[1].rule as? AdamW)?.style, .hf)
        XCTAssertEqual((opt.groups[1].rule as? AdamW)?.eps, 1e-6)
        var expected = 0, matrices = 0
        for a in opt.assignments {
            let bytes = a.info.role.isBlockMatrix ? 4 * (2 * max(a.info.rows, a.info.cols) + 1) : 2 * 4 * a.info.count
            matrices += a.info.role.isBlockMatrix ? 1 : 0
            XCTAssertEqual(a.state.stateBytes, bytes, a.info.name)
            expected += bytes
        }
        XCTAssertEqual(matrices, 14)
        XCTAssertEqual(opt.stateBytes, expected)
        XCTAssertEqual(opt.stateBytesFormula, expected)
        for p in model.parameters { p.tensor.grad = Tensor.filled(p.shape, with: 0.01) }
        try opt.step(1, lr: 1e-3, seed: 0)
        XCTAssertEqual(opt.stateBytes, expected)
        XCTAssertTrue(model.parameters.allSatisfy { $0.tensor.array.allSatisfy(\.isFinite) })
        // Full APOLLO: rank hidden/4, channel scaling, scale 1; Mini takes no rank.
        let full = try OptimizerCatalog.make(OptimizerSettings(name: "apollo", numbers: ["lr": 1e-3]),
                                             model: ModelDescription(config), parameters: model.parameters)
        let apollo = try XCTUnwrap(full.groups[0].rule as? APOLLO)
        XCTAssertEqual([apollo.core.projector.rank, apollo.scaleType == .channel ? 1 : 0], [4, 1])
        XCTAssertEqual(apollo.scale, 1)
        XCTAssertThrowsError(try OptimizerCatalog.make(OptimizerSettings(name: "apollo-mini", numbers: ["rank": 2]),
                                                       model: ModelDescription(config), parameters: model.parameters))
    }

    func testNonFiniteGradientIsSkippedAndReported() throws {
        try lrAssertNaNGradientSkipped(APOLLO(core: try lrCore(.random, rank: 2)))
        try lrAssertNaNGradientSkipped(APOLLO(core: try lrCore(.svd, rank: 2), scaleType: .tensor))
    }
}
