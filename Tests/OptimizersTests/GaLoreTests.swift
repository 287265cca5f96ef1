// GaLore through the real optimizer path (optimizers-lowrank.md §1.4, tests §1.7.2 and
// §1.7.4–7; memory §1.2, §1.3, §6): identity projector ≡ AdamHF, the first-update vector,
// moments carried across a refresh, the refresh schedule, state bytes (32- and 8-bit).
import XCTest
import Optimizers
import Tensors

final class GaLoreTests: XCTestCase {
    func testIdentityProjectorEqualsAdamHFOnTheFullMatrix() throws {
        // G₀ = [[3, 0], [0, 1], [0, 0]]: right singular vectors e₁, e₂, so P = I₂; r = 2, α = 1,
        // T beyond the test: GaLore is AdamHF (ε 1e-6, decay after the step) element for element.
        let theta0: [Float] = [0.5, -0.25, 1, 0.75, -1.5, 0.125]
        let galore = try RuleHarness(GaLore(core: try lrCore(.svd, rank: 2, gap: 100), scale: 1), theta: theta0, shape: [3, 2],
                                     weightDecay: 0.1, placement: .after)
        let adam = try RuleHarness(AdamW(beta1: 0.9, beta2: 0.999, eps: 1e-6, style: .hf), theta: theta0, shape: [3, 2],
                                   weightDecay: 0.1, placement: .after)
        var grads: [[Float]] = [[3, 0, 0, 1, 0, 0]]
        for k in 1..<6 { grads.append(lrGaussian(6, seed: UInt64(100 + k)).map { $0 * Float(k) }) }
        for (k, g) in grads.enumerated() {
            let a = try adam.run(g, lr: 0.05)
            assertClose(try galore.run(g, lr: 0.05), lrDouble(a), rel: 1e-6, abs: 1e-7)
            if k == 0 { assertClose(galore.buffer("projector"), [1, 0, 0, 1], rel: 0, abs: 1e-7) }
        }
        assertClose(galore.buffer("exp_avg"), lrDouble(adam.buffer("exp_avg")), rel: 1e-6, abs: 1e-9)
        assertClose(galore.buffer("exp_avg_sq"), lrDouble(adam.buffer("exp_avg_sq")), rel: 1e-6, abs: 1e-12)
    }

    func testFirstUpdateClosedFormVector() throws {
        // §1.7.4: G = [[2, 1, 2], [1, −1, 0]] (left), r = 1, α = 0.25, η = 0.1, θ₀ = 0.
        let g: [Float] = [2, 1, 2, 1, -1, 0]
        let h = try RuleHarness(GaLore(core: try lrCore(.svd, rank: 1), scale: 0.25), theta: [Float](repeating: 0, count: 6), shape: [2, 3])
        let theta = try h.run(g, lr: 0.1)
        assertClose(h.buffer("projector"), [0.9903343, 0.1387012], rel: 1e-6)
        let r = [2.1193698, 0.8516331, 1.9806685]
        assertClose(h.buffer("exp_avg"), r.map { 0.1 * $0 }, rel: 1e-6)
        assertClose(h.buffer("exp_avg_sq"), r.map { 0.001 * $0 * $0 }, rel: 1e-5)
        let expected = [0.9903195, 0.9902975, 0.9903185, 0.1386991, 0.1386961, 0.1386990]
        assertClose(theta, expected.map { -0.1 * 0.25 * $0 }, rel: 2e-6)
        XCTAssertEqual(h.state.updates, 1)
        XCTAssertEqual(h.state.buffers["projector"]?.shape, [2, 1])
        XCTAssertEqual(h.state.buffers["exp_avg"]?.shape, [1, 3])
    }

    func testMomentsSurviveARefreshAndUseTheNewProjector() throws {
        // T = 2: update 3 refreshes P; M₃ = β1·M₂ + (1−β1)·R₃ and V₃ = β2·V₂ + (1−β2)·R₃² with R₃ = P₃ᵀ·G₃.
        let m = 4, n = 6, r = 2
        let h = try RuleHarness(GaLore(core: try lrCore(.svd, rank: r, gap: 2)), theta: lrGaussian(24, seed: 1), shape: [m, n])
        try h.run(lrGaussian(24, seed: 11), lr: 0.01)
        try h.run(lrGaussian(24, seed: 12), lr: 0.01)
        let m2 = h.buffer("exp_avg"), v2 = h.buffer("exp_avg_sq"), p2 = h.buffer("projector")
        let g3 = lrGaussian(24, seed: 13)
        try h.run(g3, lr: 0.01)
        let p3 = h.buffer("projector")
        XCTAssertGreaterThan(zip(p3, p2).map { abs($0 - $1) }.max()!, 0.1, "update 3 refreshed P")
        let r3 = lrMatmul(lrTransposed(lrDouble(p3), m, r), lrDouble(g3), r, m, n)
        assertClose(h.buffer("exp_avg"), (0..<(r * n)).map { 0.9 * Double(m2[$0]) + 0.1 * r3[$0] }, rel: 1e-5, abs: 1e-6)
        assertClose(h.buffer("exp_avg_sq"), (0..<(r * n)).map { 0.999 * Double(v2[$0]) + 0.001 * r3[$0] * r3[$0] }, rel: 1e-5, abs: 1e-8)
    }

    func testProjectorRefreshesExactlyAtMultiplesOfT() throws {
        // T = 3, a new Gaussian gradient every step: "projector" changes at k = 0, 3, 6 only.
        let h = try RuleHarness(GaLore(core: try lrCore(.svd, rank: 2, gap: 3)), theta: lrGaussian(35, seed: 2), shape: [7, 5])
        var previous = h.buffer("projector")
        XCTAssertTrue(previous.allSatisfy { $0 == 0 })
        var changedAt: [Int] = [], countedAt: [Int] = []
        for k in 0..<8 {
            try h.run(lrGaussian(35, seed: UInt64(200 + k)), lr: 0.01)
            let p = h.buffer("projector")
            if p != previous { changedAt.append(k) }
            if h.optimizer.metrics.values.contains(where: { $0.0 == "refreshes" && $0.1 == 1 }) { countedAt.append(k) }
            previous = p
        }
        XCTAssertEqual(changedAt, [0, 3, 6])
        XCTAssertEqual(countedAt, [0, 3, 6])
        XCTAssertEqual(h.state.updates, 8)
    }

    func testStateBytesMatchTheMemoryTable() throws {
        // §1.3/§6: std r·d_lo + 2r·d_hi (tall, wide, square); reverse_std r·d_hi + 2r·d_lo; r capped at d_lo.
        let cases: [(LowRankProjector.ProjType, [Int], Int, Int)] = [
            (.std, [12, 5], 3, 3 * 5 + 2 * 3 * 12), (.std, [5, 12], 3, 3 * 5 + 2 * 3 * 12), (.std, [6, 6], 3, 3 * 6 + 2 * 3 * 6),
            (.reverseStd, [12, 5], 3, 3 * 12 + 2 * 3 * 5), (.reverseStd, [5, 12], 3, 3 * 12 + 2 * 3 * 5),
            (.std, [12, 5], 8, 5 * 5 + 2 * 5 * 12), (.right, [5, 12], 2, 2 * 12 + 2 * 2 * 5), (.left, [12, 5], 2, 2 * 12 + 2 * 2 * 5),
        ]
        for (type, shape, rank, floats) in cases {
            let rule = GaLore(core: try lrCore(.svd, rank: rank, projType: type))
            XCTAssertEqual(rule.stateBytesFormula(for: info("w", shape)), 4 * floats, "\(type) \(shape) r \(rank)")
            let count = shape[0] * shape[1]
            let h = try RuleHarness(rule, theta: lrGaussian(count, seed: 1), shape: shape)
            try h.run(lrGaussian(count, seed: 2), lr: 0.01)
            XCTAssertEqual(h.optimizer.stateBytes, 4 * floats, "\(type) \(shape) r \(rank)")
            XCTAssertEqual(Set(h.state.buffers.keys), ["projector", "exp_avg", "exp_avg_sq"])
        }
    }

    func testEightBitMomentsHoldCodesPlusAbsmax() throws {
        // 2048×64, r = 4: P [4, 64] in Float32 (1024 bytes); each moment [2048, 4] = 8192 values
        // → 8192 code bytes + 32 blocks × 4 bytes of absmax.
        let rule = GaLore(core: try lrCore(.svd, rank: 4, bits: 8))
        let expected = 4 * 4 * 64 + 2 * (8192 + 4 * 32)
        XCTAssertEqual(rule.stateBytesFormula(for: info("w", [2048, 64])), expected)
        let h = try RuleHarness(rule, theta: [Float](repeating: 0.1, count: 2048 * 64), shape: [2048, 64])
        try h.run(lrGaussian(2048 * 64, seed: 9), lr: 0.01)
        XCTAssertEqual(h.optimizer.stateBytes, expected)
        XCTAssertEqual(Set(h.state.buffers.keys), ["projector", "exp_avg.codes", "exp_avg.absmax", "exp_avg_sq.codes", "exp_avg_sq.absmax"])
        XCTAssertTrue(h.state.isQuantized("exp_avg") && h.state.isQuantized("exp_avg_sq"))
        XCTAssertTrue(h.theta.array.allSatisfy { $0.isFinite } && h.theta.array.contains { $0 != 0.1 })
    }

    func testNonFiniteGradientIsSkippedAndReported() throws {
        try lrAssertNaNGradientSkipped(GaLore(core: try lrCore(.svd, rank: 2)))
    }
}
