// TensorTrain and TTAdapter (optimizers-elementwise-zo.md §7.9): the parallel contraction
// against a full TT contraction done here in Double, the rank-1 hand example, the
// initialisation scale over many draws, parameter counts, factor3, the identity start,
// gradients against finite differences, and the adapter metadata.
import Foundation
import XCTest
import GradientCheck
import LlamaModel
import Tensors

final class TensorTrainTests: XCTestCase {
    // MARK: helpers

    private func randomCores(_ shape: TTShape, std: Float = 0.7, seed: UInt64) -> [Tensor] {
        var rng = RandomGenerator(seed: seed)
        return shape.coreShapes.map { Tensor.randn($0, std: std, rng: &rng, requiresGrad: true) }
    }

    /// W[(i..), (o..)] = G_1[0, i_1, :] · G_2[:, i_2, :] ⋯ G_D[:, o_q, 0], in Double, one entry
    /// at a time with row-major multi-indices: [N_in][N_out].
    private func fullContraction(_ cores: [Tensor], _ shape: TTShape) -> [[Double]] {
        func digits(_ index: Int, _ modes: [Int]) -> [Int] {
            var rest = index, out = [Int](repeating: 0, count: modes.count)
            for k in modes.indices.reversed() { out[k] = rest % modes[k]; rest /= modes[k] }
            return out
        }
        let shapes = shape.coreShapes
        return (0..<shape.inFeatures).map { row in
            (0..<shape.outFeatures).map { col in
                let idx = digits(row, shape.inModes) + digits(col, shape.outModes)
                var v = [1.0]
                for (k, g) in cores.enumerated() {
                    let (r0, n, r1) = (shapes[k][0], shapes[k][1], shapes[k][2])
                    v = (0..<r1).map { b in
                        (0..<r0).reduce(0.0) { $0 + v[$1] * Double(g[($1 * n + idx[k]) * r1 + b]) }
                    }
                }
                return v[0]
            }
        }
    }

    // MARK: contraction

    /// L·R and (x L) R against the Double contraction, for balanced and unbalanced trains.
    /// Float products over ≤ 4 ranks and ≤ 6 inputs: 1e-5 of the largest entry is ample.
    func testParallelContractionEqualsFullContraction() throws {
        for (inModes, outModes) in [([2, 3], [2, 2]), ([3], [2, 2]), ([2, 2, 2], [3])] {
            let shape = try TTShape(inModes: inModes, outModes: outModes, rank: 2)
            let cores = randomCores(shape, seed: 11)
            let w = fullContraction(cores, shape)
            let (left, right) = ttFactors(cores: cores, shape: shape)
            XCTAssertEqual(left.shape, [shape.inFeatures, 2])
            XCTAssertEqual(right.shape, [2, shape.outFeatures])
            let wScale = w.flatMap { $0 }.map(abs).max()!
            for i in 0..<shape.inFeatures {
                for j in 0..<shape.outFeatures {
                    let lr = (0..<2).reduce(0.0) { $0 + Double(left[i * 2 + $1]) * Double(right[$1 * shape.outFeatures + j]) }
                    XCTAssertEqual(lr, w[i][j], accuracy: 1e-5 * wScale, "\(inModes)|\(outModes) W[\(i), \(j)]")
                }
            }
            var rng = RandomGenerator(seed: 12)
            let x = Tensor.randn([3, shape.inFeatures], rng: &rng)
            let y = matmul(matmul(x, left), right)
            let zero = Tensor.zeros([shape.outFeatures])
            let yLinear = ttLinear(x, cores: cores, bias: zero, shape: shape)
            for r in 0..<3 {
                for j in 0..<shape.outFeatures {
                    let xw = (0..<shape.inFeatures).reduce(0.0) { $0 + Double(x[r * shape.inFeatures + $1]) * w[$1][j] }
                    XCTAssertEqual(Double(y[r * shape.outFeatures + j]), xw, accuracy: 1e-5 * wScale * 6)
                    XCTAssertEqual(yLinear[r * shape.outFeatures + j], y[r * shape.outFeatures + j])
                }
            }
        }
    }

    /// Rank 1, modes [2, 2 | 2, 2]: L = [1, 1, 2, 2]ᵀ, R = [0, 1, 0, 0], x = [1, 0, 0, 1] → xW = [0, 3, 0, 0].
    func testRankOneHandExample() throws {
        let shape = try TTShape(inModes: [2, 2], outModes: [2, 2], rank: 1)
        let cores = [[1, 2], [1, 1], [1, 0], [0, 1]].map { Tensor(shape: [1, 2, 1], values: $0) }
        let (left, right) = ttFactors(cores: cores, shape: shape)
        XCTAssertEqual(left.shape, [4, 1])
        XCTAssertEqual(left.array, [1, 1, 2, 2])
        XCTAssertEqual(right.shape, [1, 4])
        XCTAssertEqual(right.array, [0, 1, 0, 0])
        let x = Tensor(shape: [1, 4], values: [1, 0, 0, 1])
        XCTAssertEqual(ttLinear(x, cores: cores, bias: Tensor.zeros([4]), shape: shape).array, [0, 3, 0, 0])
    }

    // MARK: shapes and factorisation

    func testParameterCounts() throws {
        XCTAssertEqual(try TTShape(inModes: [16, 16, 16], outModes: [4, 4, 4], rank: 5).parameterCount, 1_100)
        XCTAssertEqual(try TTShape(inModes: [4, 4, 4], outModes: [16, 16, 16], rank: 5).parameterCount, 1_100)
        XCTAssertEqual(try TTShape(inModes: [8, 8, 8], outModes: [4, 4, 4], rank: 5).parameterCount, 660)
        let s = try TTShape(inModes: [8, 8, 8], outModes: [4, 4, 4], rank: 5)
        XCTAssertEqual(s.coreShapes, [[1, 8, 5], [5, 8, 5], [5, 8, 5], [5, 4, 5], [5, 4, 5], [5, 4, 1]])
        XCTAssertEqual(s.inFeatures, 512)
        XCTAssertEqual(s.outFeatures, 64)
        XCTAssertEqual(s.modes, [8, 8, 8, 4, 4, 4])
    }

    func testInvalidShapesAreRejected() {
        XCTAssertThrowsError(try TTShape(inModes: [], outModes: [4], rank: 2))
        XCTAssertThrowsError(try TTShape(inModes: [4, 1], outModes: [4], rank: 2))
        XCTAssertThrowsError(try TTShape(inModes: [4], outModes: [4], rank: 0))
        // Modes [4 | 4]: the one bond can use rank 4 at most; [4, 4 | 4, 4]: 16 in the middle.
        XCTAssertNoThrow(try TTShape(inModes: [4], outModes: [4], rank: 4))
        XCTAssertThrowsError(try TTShape(inModes: [4], outModes: [4], rank: 5))
        XCTAssertNoThrow(try TTShape(inModes: [4, 4], outModes: [4, 4], rank: 16))
        XCTAssertThrowsError(try TTShape(inModes: [4, 4], outModes: [4, 4], rank: 17))
    }

    func testFactor3() throws {
        let expected: [Int: [Int]] = [64: [4, 4, 4], 256: [8, 8, 4], 512: [8, 8, 8], 768: [12, 8, 8],
                                      1024: [16, 8, 8], 2048: [16, 16, 8], 4096: [16, 16, 16],
                                      5120: [20, 16, 16], 8: [2, 2, 2], 12: [3, 2, 2]]
        for (n, modes) in expected { XCTAssertEqual(try TTShape.factor3(n), modes, "factor3(\(n))") }
        for n in [257, 4099, 6, 1, 0] {
            XCTAssertThrowsError(try TTShape.factor3(n)) { error in
                let text = String(describing: error)
                XCTAssertTrue(text.contains("\(n)") && text.contains("three"), text)
                XCTAssertTrue(text.contains("modes explicitly"), text)
            }
        }
    }

    // MARK: initialisation

    /// Modes [8, 8, 8 | 4, 4, 4], r = 5: σ² = 1/576. A single draw's mean(W²) spreads widely
    /// (§7.2), so the ratio is averaged over 200 draws (its std is then ≈ 0.03).
    func testReferenceInitScaleAveragedOverDraws() throws {
        var rng = RandomGenerator(seed: 2024)
        let config = AdapterConfig(rank: 5, bottleneck: 64)
        var downRatio = 0.0, upRatio = 0.0
        let draws = 200
        for _ in 0..<draws {
            let a = try TTAdapter(hiddenSize: 512, config: config, rng: &rng)
            XCTAssertEqual(a.shapes.down.modes, [8, 8, 8, 4, 4, 4])
            XCTAssertEqual(a.shapes.up.modes, [4, 4, 4, 8, 8, 8])
            for (cores, shape, isDown) in [(a.downCores, a.shapes.down, true), (a.upCores, a.shapes.up, false)] {
                let (l, r) = ttFactors(cores: cores, shape: shape)
                let w = matmul(l, r)
                let meanSquare = (0..<w.count).reduce(0.0) { $0 + Double(w[$1]) * Double(w[$1]) } / Double(w.count)
                if isDown { downRatio += meanSquare * 576 } else { upRatio += meanSquare * 576 }
            }
            XCTAssertLessThanOrEqual(a.downBias.array.map(abs).max()!, 1 / 8)
            XCTAssertLessThanOrEqual(a.upBias.array.map(abs).max()!, Float(1 / Double(512).squareRoot()))
        }
        downRatio /= Double(draws)
        upRatio /= Double(draws)
        XCTAssertTrue((0.85...1.15).contains(downRatio), "down: mean(W²)/σ² averaged = \(downRatio)")
        XCTAssertTrue((0.85...1.15).contains(upRatio), "up: mean(W²)/σ² averaged = \(upRatio)")
    }

    func testAdapterTensorsAreTrainableParametersInOrder() throws {
        var rng = RandomGenerator(seed: 1)
        let a = try TTAdapter(hiddenSize: 64, config: AdapterConfig(rank: 3, bottleneck: 8), rng: &rng)
        XCTAssertEqual(a.tensors.count, 6 + 1 + 6 + 1)
        XCTAssertTrue(a.tensors.allSatisfy { $0.requiresGrad && $0.kind == .parameter })
        XCTAssertTrue(a.tensors[6] === a.downBias && a.tensors[13] === a.upBias)
        XCTAssertEqual(a.downBias.shape, [8])
        XCTAssertEqual(a.upBias.shape, [64])
        XCTAssertEqual(a.tensors.reduce(0) { $0 + $1.count },
                       a.shapes.down.parameterCount + a.shapes.up.parameterCount + 8 + 64)
    }

    /// identity: the same draws as reference, then TT_up's last core and bias are zero, so
    /// A(x) is exactly 0 for any x.
    func testIdentityInitGivesZeroAdapterOutput() throws {
        var rngA = RandomGenerator(seed: 9), rngB = RandomGenerator(seed: 9)
        let reference = try TTAdapter(hiddenSize: 64, config: AdapterConfig(bottleneck: 8), rng: &rngA)
        let identity = try TTAdapter(hiddenSize: 64, config: AdapterConfig(bottleneck: 8, initialization: .identity), rng: &rngB)
        for (r, i) in zip(reference.tensors.dropLast(2), identity.tensors.dropLast(2)) { XCTAssertEqual(r.array, i.array) }
        XCTAssertTrue(identity.upCores.last!.array.allSatisfy { $0 == 0 })
        XCTAssertTrue(identity.upBias.array.allSatisfy { $0 == 0 })
        var rng = RandomGenerator(seed: 10)
        let x = Tensor.randn([2, 5, 64], std: 3, rng: &rng)
        let y = identity(x)
        XCTAssertEqual(y.shape, [2, 5, 64])
        XCTAssertTrue(y.array.allSatisfy { $0 == 0 })
        XCTAssertFalse(reference(x).array.allSatisfy { $0 == 0 })
    }

    // MARK: gradients

    /// ttLinear is linear in x, in each core and in the bias, so central differences are exact
    /// up to Float32 rounding of the forward (≈1e-6 relative): 2e-3 leaves margin, a missing
    /// or transposed term gives O(1).
    func testTTLinearGradientsMatchFiniteDifferences() throws {
        let shape = try TTShape(inModes: [2, 3], outModes: [2, 2], rank: 2)
        let cores = randomCores(shape, seed: 21)
        var rng = RandomGenerator(seed: 22)
        let x = Tensor.randn([2, 3, 6], rng: &rng, requiresGrad: true)
        let bias = Tensor.randn([4], rng: &rng, requiresGrad: true)
        let errors = gradCheck([x] + cores + [bias]) { _ in ttLinear(x, cores: cores, bias: bias, shape: shape) }.relativeErrors
        XCTAssertEqual(errors.count, 6)
        for (k, e) in errors.enumerated() { XCTAssertLessThan(e, 2e-3, "input \(k) (0 = x, 1…4 cores, 5 bias)") }
    }

    /// The whole adapter (silu, smooth) with respect to its input and all 14 tensors, at the
    /// reference initialisation (d = b = 8: W entries ≈ 0.25, outputs O(0.5)). Truncation
    /// through silu is O(h²) ≈ 1e-4 relative; 5e-3 leaves room for Float32 rounding.
    func testAdapterGradientsMatchFiniteDifferences() throws {
        var rng = RandomGenerator(seed: 31)
        let config = AdapterConfig(rank: 2, bottleneck: 8, activation: .silu)
        let a = try TTAdapter(hiddenSize: 8, config: config, rng: &rng)
        let x = Tensor.randn([3, 8], rng: &rng, requiresGrad: true)
        let errors = gradCheck([x] + a.tensors) { _ in a(x) }.relativeErrors
        XCTAssertEqual(errors.count, 15)
        for (k, e) in errors.enumerated() { XCTAssertLessThan(e, 5e-3, "input \(k)") }
    }

    /// Every core and bias is read through `weight`, once each: scaling the copies it returns
    /// gives the same output as scaling the tensors themselves.
    func testAdapterReadsEveryTensorThroughWeight() throws {
        var rng = RandomGenerator(seed: 41)
        let a = try TTAdapter(hiddenSize: 64, config: AdapterConfig(bottleneck: 8), rng: &rng)
        let x = Tensor.randn([4, 64], rng: &rng)
        var seen: [ObjectIdentifier] = []
        let viaWeight = a(x) { t in
            seen.append(ObjectIdentifier(t))
            let c = t.clone()
            for i in 0..<c.count { c[i] *= 1.25 }
            return c
        }
        XCTAssertEqual(Set(seen), Set(a.tensors.map(ObjectIdentifier.init)))
        XCTAssertEqual(seen.count, a.tensors.count)
        for t in a.tensors { for i in 0..<t.count { t[i] *= 1.25 } }
        XCTAssertEqual(viaWeight.array, a(x).array)
    }

    // MARK: configuration

    func testShapesFromConfig() throws {
        let s = try AdapterConfig().shapes(hiddenSize: 4096)
        XCTAssertEqual(s.down.inModes, [16, 16, 16])
        XCTAssertEqual(s.down.outModes, [4, 4, 4])
        XCTAssertEqual(s.up.inModes, [4, 4, 4])
        XCTAssertEqual(s.up.outModes, [16, 16, 16])
        let roberta = try AdapterConfig(modelModes: [8, 8, 16], bottleneckModes: [8, 8]).shapes(hiddenSize: 1024)
        XCTAssertEqual(roberta.down.modes, [8, 8, 16, 8, 8])
        XCTAssertThrowsError(try AdapterConfig(modelModes: [16, 16]).shapes(hiddenSize: 4096)) { error in
            XCTAssertTrue(String(describing: error).contains("adapter_model_modes"), "\(error)")
        }
        XCTAssertThrowsError(try AdapterConfig(bottleneckModes: [4, 4]).shapes(hiddenSize: 4096)) { error in
            XCTAssertTrue(String(describing: error).contains("adapter_bottleneck_modes"), "\(error)")
        }
        XCTAssertThrowsError(try AdapterConfig().shapes(hiddenSize: 4099)) { error in
            XCTAssertTrue(String(describing: error).contains("4099"), "\(error)")
        }
        let resolved = try AdapterConfig().resolved(hiddenSize: 768)
        XCTAssertEqual(resolved.modelModes, [12, 8, 8])
        XCTAssertEqual(resolved.bottleneckModes, [4, 4, 4])
    }

    func testMetadataRoundTrip() throws {
        let configs = [AdapterConfig(),
                       AdapterConfig(rank: 3, bottleneck: 32, activation: .silu, placement: .houlsby,
                                     initialization: .identity, modelModes: [16, 16, 16], bottleneckModes: [4, 4, 2])]
        for c in configs { XCTAssertEqual(try AdapterConfig(metadata: c.metadata), c) }
        XCTAssertEqual(configs[1].metadata["adapter_model_modes"], "16,16,16")
        XCTAssertEqual(configs[1].metadata["adapter_init"], "identity")
        XCTAssertNil(configs[0].metadata["adapter_model_modes"])
        var extra = configs[0].metadata
        extra["format"] = "pt"
        XCTAssertEqual(try AdapterConfig(metadata: extra), configs[0])
    }

    func testBadMetadataNamesTheKey() {
        let good = AdapterConfig(modelModes: [16, 16, 16]).metadata
        let cases: [(String, String?)] = [("adapter_rank", nil), ("adapter_rank", "five"), ("adapter_bottleneck", "0"),
                                          ("adapter_activation", "gelu"), ("adapter_placement", nil),
                                          ("adapter_init", "xavier"), ("adapter_model_modes", "16,x,16"),
                                          ("adapter_model_modes", "16,1,16")]
        for (key, value) in cases {
            var m = good
            m[key] = value
            XCTAssertThrowsError(try AdapterConfig(metadata: m), "\(key) = \(value ?? "missing")") { error in
                XCTAssertTrue(String(describing: error).contains(key), "\(error)")
            }
        }
    }
}
