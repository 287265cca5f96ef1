// Fira through the real optimizer path (optimizers-lowrank.md §2.3 reference and paper modes,
// tests §2.6.1, 2, 4, 5; limiter §0.5; memory §2.2, §6): the rank-1 vectors, full rank ≡
// GaLore, the channel axis and tensor scaling against a float64 model, the limiter on G, 3G.
import XCTest
import Optimizers
import Tensors

/// ΔW₁/(−η) of Fira's first update (no limiting yet) in float64, from G [m, n] and P (§2.3).
private func firaFirstUpdate(_ g: [Double], _ p: [Double], m: Int, n: Int, r: Int, alpha: Double,
                             paper: Bool, tensor: Bool) -> [Double] {
    let right = m >= n
    let lowR = right ? lrMatmul(g, lrTransposed(p, r, n), m, n, r) : lrMatmul(lrTransposed(p, m, r), g, r, m, n)
    let lowN = lowR.map { 0.1 * $0 / ((0.001 * $0 * $0).squareRoot() + 1e-6) }
    let ct = 0.001.squareRoot() / 0.1
    func back(_ x: [Double]) -> [Double] { right ? lrMatmul(x, p, m, r, n) : lrMatmul(p, x, m, r, n) }
    func norm(_ x: [Double], channel c: Int?) -> Double {
        var s = 0.0
        for (i, v) in x.enumerated() where c == nil || (right ? i / r : i % n) == c! { s += v * v }
        return s.squareRoot()
    }
    let phi = tensor ? [Double](repeating: norm(lowN, channel: nil) / (norm(lowR, channel: nil) + 1e-8), count: right ? m : n)
        : (0..<(right ? m : n)).map { norm(lowN, channel: $0) / (norm(lowR, channel: $0) + 1e-8) }
    let backR = back(lowR), backN = back(lowN)
    return (0..<(m * n)).map { i in
        let e = g[i] - (paper ? 1 : alpha) * backR[i]
        let s = e * phi[right ? i / n : i % n]
        return paper ? alpha * (ct * backN[i] + ct * s) : ct * (alpha * backN[i] + s)
    }
}

final class FiraTests: XCTestCase {
    private let g: [Float] = [2, 1, 2, 1, -1, 0]
    private let zero = [Float](repeating: 0, count: 6)

    func testRankOneFirstUpdateVectorsAndRecordedNorm() throws {
        // §2.6.1: G = [[2, 1, 2], [1, −1, 0]], r = 1, η = 0.1, θ₀ = 0: the reference mode gives the
        // same ΔW₁ for α = 1 and α = 0.25; the paper mode at α = 0.25 gives α times it.
        let reference = [0.9436627, 1.1741710, 1.0097439, 0.4718313, -1.1741710, 0]
        for alpha in [1.0, 0.25] {
            let h = try RuleHarness(Fira(core: try lrCore(.svd, rank: 1), scale: alpha), theta: zero, shape: [2, 3])
            assertClose(try h.run(g, lr: 0.1), reference.map { -0.1 * $0 }, rel: 2e-6, abs: 1e-7)
            assertClose(h.buffer("projector"), [0.9903343, 0.1387012], rel: 1e-6)
            if alpha == 0.25 { assertClose(h.buffer("nl_norm"), [5.9813222], rel: 1e-6) }  // ‖S‖_F, not limited
        }
        let paper = try RuleHarness(Fira(core: try lrCore(.svd, rank: 1), scale: 0.25, mode: .paper), theta: zero, shape: [2, 3])
        assertClose(try paper.run(g, lr: 0.1), [0.2359157, 0.2935428, 0.2524360, 0.1179578, -0.2935428, 0].map { -0.1 * $0 },
                    rel: 2e-6, abs: 1e-7)
    }

    func testFullRankPaperModeAndReferenceAtAlphaOneEqualGaLore() throws {
        // r = d_lo: G − back(R) = 0 up to rounding, so S vanishes (§2.6.2).
        for (m, n) in [(5, 3), (3, 5)] {
            let cases: [(Fira, Double)] = [(Fira(core: try lrCore(.svd, rank: 3, gap: 2), scale: 0.25, mode: .paper), 0.25),
                                           (Fira(core: try lrCore(.svd, rank: 3, gap: 2), scale: 1, mode: .reference), 1)]
            for (fira, alpha) in cases {
                let f = try RuleHarness(fira, theta: [Float](repeating: 0, count: 15), shape: [m, n], weightDecay: 0.1, placement: .after)
                let gl = try RuleHarness(GaLore(core: try lrCore(.svd, rank: 3, gap: 2), scale: alpha),
                                         theta: [Float](repeating: 0, count: 15), shape: [m, n], weightDecay: 0.1, placement: .after)
                for k in 0..<5 {
                    let grad = lrGaussian(15, seed: UInt64(300 + k))
                    assertClose(try f.run(grad, lr: 0.1), lrDouble(try gl.run(grad, lr: 0.1)), rel: 1e-5, abs: 1e-7)
                }
                XCTAssertLessThan(f.buffer("nl_norm")[0], 1e-4, "‖S‖ is rounding only")
            }
        }
    }

    func testChannelAxisAndTensorScalingMatchFloat64Model() throws {
        // §2.6.4: m ≥ n scales the m rows (right projection), m < n the n columns (left); the
        // tensor option uses one factor ‖N‖_F/‖R‖_F. Both modes, α = 0.25, r = 2, η = 1, θ₀ = 0.
        for (m, n) in [(6, 4), (4, 6)] {
            for mode in [Fira.Mode.reference, .paper] {
                for scaling in [Fira.Scaling.channel, .tensor] {
                    let grad = lrGaussian(24, seed: UInt64(m * 10 + n))
                    let rule = Fira(core: try lrCore(.svd, rank: 2), scale: 0.25, mode: mode, scaling: scaling)
                    let h = try RuleHarness(rule, theta: [Float](repeating: 0, count: 24), shape: [m, n])
                    let theta = try h.run(grad, lr: 1)
                    let expected = firaFirstUpdate(lrDouble(grad), lrDouble(h.buffer("projector")), m: m, n: n, r: 2, alpha: 0.25,
                                                   paper: mode == .paper, tensor: scaling == .tensor)
                    assertClose(theta, expected.map { -$0 }, rel: 1e-5, abs: 1e-6)
                }
            }
        }
        // The two scalings really differ (the test above can tell them apart).
        let grad = lrGaussian(24, seed: 64)
        let channel = try RuleHarness(Fira(core: try lrCore(.svd, rank: 2)), theta: [Float](repeating: 0, count: 24), shape: [6, 4])
        let tensor = try RuleHarness(Fira(core: try lrCore(.svd, rank: 2), scaling: .tensor), theta: [Float](repeating: 0, count: 24), shape: [6, 4])
        let a = try channel.run(grad, lr: 1), b = try tensor.run(grad, lr: 1)
        XCTAssertGreaterThan(zip(a, b).map { abs($0 - $1) }.max()!, 1e-2)
    }

    func testLimiterHoldsSecondNormWithinGammaOnGThenThreeG() throws {
        // §2.6.5 with an injected P (right, r = 1): ‖S₂‖_F ≤ 1.01·‖S₁‖_F; without the limiter it would grow more.
        let p: [Float] = [0.6, 0, 0.8]
        let grad = lrGaussian(12, seed: 77)
        var norms: [[Float]] = []
        for gamma in [1.01, 1e9] {
            var rule = Fira(core: try lrCore(.svd, rank: 1, fixed: p))
            rule.limiter = NormGrowthLimiter(gamma: gamma)
            let h = try RuleHarness(rule, theta: [Float](repeating: 0, count: 12), shape: [4, 3])
            XCTAssertEqual(h.buffer("nl_norm"), [-1], "unset before the first update")
            try h.run(grad, lr: 0.01)
            let first = h.buffer("nl_norm")[0]
            try h.run(grad.map { 3 * $0 }, lr: 0.01)
            norms.append([first, h.buffer("nl_norm")[0]])
            XCTAssertEqual(h.buffer("projector"), p)
            let activations = h.optimizer.metrics.values.first { $0.0 == "limiter_activations" }?.1
            XCTAssertEqual(activations, gamma == 1.01 ? 1 : nil)
        }
        XCTAssertGreaterThan(norms[0][0], 0)
        XCTAssertEqual(norms[0][0], norms[1][0], "same first update")
        XCTAssertLessThanOrEqual(Double(norms[0][1]), 1.01 * Double(norms[0][0]) * (1 + 1e-6))
        XCTAssertEqual(Double(norms[0][1]), 1.01 * Double(norms[0][0]), accuracy: 1e-5 * Double(norms[0][0]))
        XCTAssertGreaterThan(Double(norms[1][1]), 1.05 * Double(norms[0][0]), "unlimited ‖S₂‖ grows past γ")
    }

    func testStateBytesAreGaLorePlusOneFloat() throws {
        for shape in [[12, 5], [5, 12], [6, 6]] {
            let core = try lrCore(.svd, rank: 3)
            let floats = 3 * min(shape[0], shape[1]) + 2 * 3 * max(shape[0], shape[1]) + 1
            XCTAssertEqual(Fira(core: core).stateBytesFormula(for: info("w", shape)), 4 * floats)
            XCTAssertEqual(Fira(core: core).stateBytesFormula(for: info("w", shape)),
                           GaLore(core: core).stateBytesFormula(for: info("w", shape)) + 4)
            let count = shape[0] * shape[1]
            let h = try RuleHarness(Fira(core: core), theta: lrGaussian(count, seed: 1), shape: shape)
            try h.run(lrGaussian(count, seed: 2), lr: 0.01)
            XCTAssertEqual(h.optimizer.stateBytes, 4 * floats)
            XCTAssertEqual(Set(h.state.buffers.keys), ["projector", "exp_avg", "exp_avg_sq", "nl_norm"])
        }
    }

    func testNonFiniteGradientIsSkippedAndReported() throws {
        try lrAssertNaNGradientSkipped(Fira(core: try lrCore(.svd, rank: 2)))
        try lrAssertNaNGradientSkipped(Fira(core: try lrCore(.svd, rank: 2), mode: .paper))
    }
}
