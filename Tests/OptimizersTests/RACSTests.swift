// RACS through the real optimizer path (optimizers-lowrank.md §4.3 update and guards, §4.6
// tests 1–5, §8 item 10 guards; memory §4.2): the rank-1 fixed point, the first two steps,
// the general vector, scale invariance, transpose equivariance, the limiter, zero rows/columns.
import XCTest
import Optimizers
import Tensors

final class RACSTests: XCTestCase {
    private let general: [Float] = [1, -2, 0.5, 0, 3, 1]  // §4.6 test 2, [2, 3]

    /// Δθ / (−η·α) of one step: the direction ν·G̃.
    private func direction(_ before: [Float], _ after: [Float], lr: Double, alpha: Double) -> [Double] {
        zip(before, after).map { (Double($1) - Double($0)) / (-lr * alpha) }
    }

    private func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    func testRankOneSecondMomentIsSolvedInOneIterationAndFirstTwoSteps() throws {
        // §4.6 test 1: G = [[1, 2], [3, 6]], A = (1, 9)ᵀ(1, 4); β 0.9, η 0.02, α 0.05.
        let g: [Float] = [1, 2, 3, 6]
        for iterations in [1, 5] {
            let (s, q) = RACS.fixedPoint(Tensor(shape: [2, 2], values: g), iterations: iterations)
            assertClose(s.map(Float.init), [5, 20], rel: 1e-6)
            assertClose(q.map(Float.init), [0.2, 1.8], rel: 1e-6)
        }
        let h = try RuleHarness(RACS(beta: 0.9, alpha: 0.05), theta: [0, 0, 0, 0], shape: [2, 2])
        assertClose(try h.run(g, lr: 0.02), [-0.01, -0.01, -0.01, -0.01], rel: 1e-6)
        assertClose(h.buffer("col_scale"), [0.5, 2], rel: 1e-6)
        assertClose(h.buffer("row_scale"), [0.02, 0.18], rel: 1e-6)
        assertClose(h.buffer("nl_norm"), [20], rel: 1e-6)
        XCTAssertFalse(h.optimizer.metrics.values.contains { $0.0 == "limiter_activations" })
        // Step 2, same G: every G̃_ij = 1/0.19, ratio 10.526/20 < γ → ν = 1.
        let theta = try h.run(g, lr: 0.02)
        assertClose(h.buffer("col_scale"), [0.95, 3.8], rel: 1e-6)
        assertClose(h.buffer("row_scale"), [0.038, 0.342], rel: 1e-6)
        assertClose(h.buffer("nl_norm"), [10.5263158], rel: 1e-6)
        assertClose(theta, [Double](repeating: -0.01 - 0.001 * 5.2631579, count: 4), rel: 1e-6)
        XCTAssertFalse(h.optimizer.metrics.values.contains { $0.0 == "limiter_activations" })
        XCTAssertEqual(h.state.updates, 2)
    }

    func testGeneralCaseConvergesToBestRankOneApproximationOfGSquared() throws {
        // §4.6 test 2: ŝ, q̂ after 5 iterations (same after 100), q̂ŝᵀ = σ₁u₁v₁ᵀ of G⊙G, step-1 G̃.
        let (s, q) = RACS.fixedPoint(Tensor(shape: [2, 3], values: general), iterations: 5)
        assertClose(s.map(Float.init), [0.2697693, 6.5131902, 0.6712326], rel: 2e-6)
        assertClose(q.map(Float.init), [0.6168437, 1.3806026], rel: 2e-6)
        let (s100, q100) = RACS.fixedPoint(Tensor(shape: [2, 3], values: general), iterations: 100)
        assertClose(s100.map(Float.init), s, rel: 1e-6)
        assertClose(q100.map(Float.init), q, rel: 1e-6)
        let a = Tensor(shape: [2, 3], values: general.map { $0 * $0 })
        let (u, sv, vt) = try LAPACK.svd(a)
        for i in 0..<2 {
            for j in 0..<3 {
                let best = Double(sv[0]) * Double(u[i * 2]) * Double(vt[j])
                XCTAssertEqual(q[i] * s[j], best, accuracy: 1e-6 * 9, "(\(i), \(j))")
            }
        }
        let h = try RuleHarness(RACS(beta: 0.9, alpha: 0.05), theta: [Float](repeating: 0, count: 6), shape: [2, 3])
        let theta = try h.run(general, lr: 0.02)
        let gTilde = direction([Float](repeating: 0, count: 6), theta, lr: 0.02, alpha: 0.05)
        assertClose(gTilde.map(Float.init), [24.5141097, -9.9780469, 7.7704451, 0, 10.0043766, 10.3879325], rel: 2e-6, abs: 1e-9)
        XCTAssertEqual(norm(gTilde), 31.1268293, accuracy: 31.1268293 * 2e-6)
        assertClose(h.buffer("nl_norm"), [31.1268293], rel: 1e-6)
        assertClose(h.buffer("col_scale"), s.map { 0.1 * $0 }, rel: 1e-6)
        assertClose(h.buffer("row_scale"), q.map { 0.1 * $0 }, rel: 1e-6)
    }

    func testScaleInvarianceOverSeveralSteps() throws {
        // §4.6 test 3: every gradient times c leaves every update unchanged (here c = 1e-4 and 1e3).
        let m = 5, n = 7
        let grads: [[Float]] = (0..<6).map { (k: Int) -> [Float] in
            let scale = Float(1 + k % 3)
            return lrGaussian(m * n, seed: UInt64(40 + k)).map { $0 * scale }
        }
        func run(_ c: Float) throws -> [[Float]] {
            let h = try RuleHarness(RACS(), theta: lrGaussian(m * n, seed: 1), shape: [m, n])
            return try grads.map { try h.run($0.map { $0 * c }, lr: 0.02) }
        }
        let base = try run(1)
        XCTAssertNotEqual(base[0], lrGaussian(m * n, seed: 1))
        for c: Float in [1e-4, 1e3] {
            for (x, y) in zip(try run(c), base) { assertClose(x, lrDouble(y), rel: 2e-6, abs: 1e-7) }
        }
    }

    func testTransposeEquivariance() throws {
        // §4.6 test 4: RACS on Gᵀ gives ΔWᵀ, exactly for rank-1 G⊙G, to 1e-6 for the general G.
        for (g, m, n, tol) in [([Float]([1, 2, 3, 6]), 2, 2, 1e-6), (general, 2, 3, 1e-6)] {
            let gT = lrTransposed(lrDouble(g), m, n).map(Float.init)
            let wide = try RuleHarness(RACS(), theta: [Float](repeating: 0, count: m * n), shape: [m, n])
            let tall = try RuleHarness(RACS(), theta: [Float](repeating: 0, count: m * n), shape: [n, m])
            for k in 1...3 {
                let scale = Float(k)  // a changing magnitude, so the limiter acts too
                let a = try wide.run(g.map { $0 * scale }, lr: 0.02), b = try tall.run(gT.map { $0 * scale }, lr: 0.02)
                assertClose(b, lrTransposed(lrDouble(a), m, n), rel: tol, abs: 1e-9)
            }
            assertClose(tall.buffer("nl_norm"), lrDouble(wide.buffer("nl_norm")), rel: 1e-6)
        }
    }

    func testLimiterCapsTheThirdStepAtGammaTimesPhi2() throws {
        // §4.6 test 5: G, G, then 10·G: unlimited ‖G̃₃‖ ≈ 1.1444·φ₂, limited to exactly γ·φ₂.
        let h = try RuleHarness(RACS(gamma: 1.01), theta: [Float](repeating: 0, count: 6), shape: [2, 3])
        try h.run(general, lr: 0.02)
        let before = try h.run(general, lr: 0.02)
        let phi2 = Double(h.buffer("nl_norm")[0])
        XCTAssertEqual(phi2, 16.3825417, accuracy: 16.3825417 * 1e-6, "‖G/(0.19·√(q̂ŝᵀ))‖")
        XCTAssertFalse(h.optimizer.metrics.values.contains { $0.0 == "limiter_activations" })
        let after = try h.run(general.map { $0 * 10 }, lr: 0.02)
        let d3 = direction(before, after, lr: 0.02, alpha: 0.05)
        XCTAssertEqual(norm(d3), 1.01 * phi2, accuracy: 1.01 * phi2 * 1e-5)
        assertClose(h.buffer("nl_norm"), [1.01 * phi2], rel: 1e-6)
        XCTAssertTrue(h.optimizer.metrics.values.contains { $0.0 == "limiter_activations" && $0.1 == 1 })
        // The direction is the unlimited G̃₃ (s = 0.271·ŝ·c², q = 0.271·q̂ after 3 EMAs) times ν.
        let (s, q) = RACS.fixedPoint(Tensor(shape: [2, 3], values: general), iterations: 5)
        let s3 = s.map { 0.19 * 0.9 * $0 + 0.1 * 100 * $0 }, q3 = q.map { 0.271 * $0 }
        let raw = (0..<6).map { 10 * Double(general[$0]) / (q3[$0 / 3] * s3[$0 % 3]).squareRoot() }
        XCTAssertEqual(norm(raw) / phi2, 1.1444245, accuracy: 1e-5)
        let nu = 1.01 * phi2 / norm(raw)
        assertClose(d3.map(Float.init), raw.map { $0 * nu }, rel: 1e-5, abs: 1e-6)
    }

    func testZeroRowAndColumnGiveZeroNotNaN() throws {
        // §4.3 guards: an all-zero row i or column j has q_i·s_j = 0 → G̃ = 0 there, no NaN.
        let g: [Float] = [1, 0, 2, 0, 0, 0, 3, 0, -1]  // row 1 and column 1 zero
        let theta0: [Float] = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
        let h = try RuleHarness(RACS(), theta: theta0, shape: [3, 3])
        for _ in 0..<3 {
            let theta = try h.run(g, lr: 0.02)
            XCTAssertTrue(theta.allSatisfy { $0.isFinite })
            for k in [1, 3, 4, 5, 7] { XCTAssertEqual(theta[k], 0.5, "entry \(k) unchanged") }
            for k in [0, 2, 6, 8] { XCTAssertNotEqual(theta[k], 0.5, "entry \(k) moved") }
        }
        XCTAssertEqual(h.buffer("col_scale")[1], 0)
        XCTAssertEqual(h.buffer("row_scale")[1], 0)
        // An all-zero first gradient records φ = 0: the next step is not frozen (ν = 1, §8 item 10).
        let z = try RuleHarness(RACS(beta: 0.9, alpha: 0.05), theta: [0, 0, 0, 0], shape: [2, 2])
        XCTAssertEqual(try z.run([0, 0, 0, 0], lr: 0.02), [0, 0, 0, 0])
        XCTAssertEqual(z.buffer("nl_norm"), [0])
        let theta = try z.run([1, 2, 3, 6], lr: 0.02)
        assertClose(theta, [-0.01, -0.01, -0.01, -0.01], rel: 1e-6)
        assertClose(z.buffer("nl_norm"), [20], rel: 1e-6)
    }

    func testStateIsRowsPlusColumnsPlusOne() throws {
        // §4.2: m + n + 1 floats (col_scale [n], row_scale [m], nl_norm [1]).
        for (m, n) in [(5, 7), (7, 5), (4, 4)] {
            let rule = RACS()
            XCTAssertEqual(rule.stateBytesFormula(for: info("w", [m, n])), 4 * (m + n + 1))
            let h = try RuleHarness(rule, theta: lrGaussian(m * n, seed: 1), shape: [m, n])
            try h.run(lrGaussian(m * n, seed: 2), lr: 0.02)
            XCTAssertEqual(h.optimizer.stateBytes, 4 * (m + n + 1))
            XCTAssertEqual(h.optimizer.stateBytes, h.optimizer.stateBytesFormula)
            XCTAssertEqual(h.state.buffers["col_scale"]?.shape, [n])
            XCTAssertEqual(h.state.buffers["row_scale"]?.shape, [m])
            XCTAssertEqual(h.state.buffers["nl_norm"]?.shape, [1])
        }
        XCTAssertEqual(RACS().stateBytesFormula(for: info("w", [128, 512])), 4 * 641)
    }
}
