// Muon and its quintic Newton–Schulz iteration (optimizers-elementwise-zo.md §8.3, memory §9):
// NS₅ of an orthogonal Q, singular values of NS₅ of Gaussian matrices, scale invariance,
// transposition, shared singular vectors, one plain step = −η'·NS₅(G), the lr adjustments.
import XCTest
import Optimizers
import Tensors

final class MuonTests: XCTestCase {
    func gaussian(_ m: Int, _ n: Int, seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.randn([m, n], rng: &rng)
    }

    func ns(_ u: Tensor) -> Tensor {
        let out = Tensor(uninitializedShape: u.shape)
        NewtonSchulz.orthogonalize(u.pointer, rows: u.shape[0], cols: u.shape[1], into: out.pointer)
        return out
    }

    /// ‖a − b‖_F / ‖b‖_F.
    func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a, b) {
            num += (Double(x) - Double(y)) * (Double(x) - Double(y))
            den += Double(y) * Double(y)
        }
        return (num / den).squareRoot()
    }

    func testOrthogonalMatrixMapsToConstantTimesItself() throws {
        // Every singular value is 1/√128 after normalisation; five quintic steps take it to
        // 0.72276216 (float64), the same for all, so NS₅(Q) = 0.72276·Q.
        let q = try LAPACK.qr(gaussian(128, 128, seed: 11))
        let qa = q.array
        var gram = 0.0
        for j in 0..<128 { gram += Double(qa[j * 128 + 5] * qa[j * 128 + 5]) }
        XCTAssertEqual(gram, 1, accuracy: 1e-5, "Q has orthonormal columns")
        let o = ns(q).array
        XCTAssertLessThan(relativeError(o, qa.map { $0 * 0.72276216 }), 1e-4)
        XCTAssertGreaterThan(relativeError(o, qa.map { $0 * 0.7228 }), 1e-5, "the factor is 0.72276, not 0.7228")
    }

    func testSingularValuesOfGaussianResultsLieInBand() throws {
        for (m, n) in [(352, 128), (128, 352)] {
            let s = try LAPACK.svd(ns(gaussian(m, n, seed: UInt64(m)))).s
            XCTAssertEqual(s.count, 128)
            XCTAssertGreaterThanOrEqual(s.min()!, 0.68, "\(m)×\(n)")
            XCTAssertLessThanOrEqual(s.max()!, 1.14, "\(m)×\(n)")
        }
    }

    func testScaleInvariance() {
        let u = gaussian(48, 20, seed: 3)
        let base = ns(u).array
        for s: Float in [1e-3, 0.37, 250] {
            let scaled = Tensor(shape: u.shape, values: u.array.map { $0 * s })
            XCTAssertLessThan(relativeError(ns(scaled).array, base), 2e-6, "s = \(s)")
        }
    }

    func testTallAndItsTransposeGiveTransposedResults() {
        let u = gaussian(40, 24, seed: 5)
        let tall = ns(u)
        let wide = ns(MatrixOps.transposed(u))
        XCTAssertEqual(wide.shape, [24, 40])
        assertClose(MatrixOps.transposed(wide).array, tall.array.map(Double.init), rel: 1e-6, abs: 1e-7)
    }

    func testResultSharesSingularVectorsWithInput() throws {
        // O = U_s·f(Σ)·Vᵀ, so Oᵀ·U = V f(Σ) Σ Vᵀ is symmetric positive semi-definite (m ≥ n).
        let m = 60, n = 24
        let u = gaussian(m, n, seed: 9)
        let o = ns(u)
        let s = Tensor(uninitializedShape: [n, n])
        BLAS.sgemm(transA: true, m: n, n: n, k: m, a: o.pointer, lda: n, b: u.pointer, ldb: n, c: s.pointer, ldc: n)
        let sa = s.array
        XCTAssertLessThan(relativeError(sa, MatrixOps.transposed(s).array), 1e-5)
        let eig = try LAPACK.symmetricEigen(s)
        XCTAssertGreaterThan(eig.values.min()!, 0)
    }

    func testPlainStepMovesByAdjustedLrTimesNewtonSchulzOfGradient() throws {
        // μ = 0, no Nesterov: B = G, U = G; θ1 = θ0(1 − ηλ) − η'·NS₅(G).
        for (m, n, factor) in [(6, 4, 1.5.squareRoot()), (4, 6, 1.0)] {
            let t0 = gaussian(m, n, seed: 21).array, g = gaussian(m, n, seed: 22)
            let h = try RuleHarness(Muon(momentum: 0, nesterov: false), theta: t0, shape: [m, n], weightDecay: 0.1)
            let o = ns(g).array
            let expected = (0..<(m * n)).map { Double(t0[$0]) * (1 - 0.02 * 0.1) - 0.02 * factor * Double(o[$0]) }
            assertClose(try h.run(g.array, lr: 0.02), expected, rel: 1e-6, abs: 1e-7)
            assertClose(h.buffer("momentum_buffer"), g.array.map(Double.init), rel: 0, abs: 0)
        }
    }

    func testFirstNesterovStepIsNewtonSchulzOfGradientByScaleInvariance() throws {
        // B1 = 0.05·G, U = lerp(G, B1, 0.95) = 0.0975·G; NS₅ ignores the scale.
        let t0 = gaussian(6, 4, seed: 31).array, g = gaussian(6, 4, seed: 32)
        let h = try RuleHarness(Muon(), theta: t0, shape: [6, 4])
        let o = ns(g).array
        assertClose(try h.run(g.array, lr: 0.02),
                    (0..<24).map { Double(t0[$0]) - 0.02 * 1.5.squareRoot() * Double(o[$0]) }, rel: 1e-5, abs: 1e-6)
        assertClose(h.buffer("momentum_buffer"), g.array.map { 0.05 * Double($0) }, rel: 1e-6, abs: 1e-9)
    }

    func testLrAdjustmentOriginalAndMatchRMSAdamW() throws {
        let original = Muon(), match = Muon(adjust: .matchRMSAdamW)
        XCTAssertEqual(original.lrFactor(rows: 352, cols: 128), (352.0 / 128).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(original.lrFactor(rows: 128, cols: 352), 1, accuracy: 1e-12)
        XCTAssertEqual(original.lrFactor(rows: 128, cols: 128), 1, accuracy: 1e-12)
        XCTAssertEqual(match.lrFactor(rows: 352, cols: 128), 0.2 * 352.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(match.lrFactor(rows: 128, cols: 352), 0.2 * 352.0.squareRoot(), accuracy: 1e-12)
        // Through the step: match_rms_adamw moves a 4×6 matrix by 0.2·√6·η·NS₅(G).
        let t0 = [Float](repeating: 0, count: 24), g = gaussian(4, 6, seed: 41)
        let h = try RuleHarness(Muon(momentum: 0, nesterov: false, adjust: .matchRMSAdamW), theta: t0, shape: [4, 6])
        assertClose(try h.run(g.array, lr: 0.02), ns(g).array.map { -0.02 * 0.2 * 6.0.squareRoot() * Double($0) }, rel: 1e-6, abs: 1e-8)
    }

    func testStateBytesAreOneBufferOfMatrixSizeAndVectorsAreRejected() throws {
        XCTAssertEqual(Muon().stateBytesFormula(for: info("w", [12, 7])), 4 * 84)
        let h = try RuleHarness(Muon(), theta: [Float](repeating: 0.1, count: 84), shape: [12, 7])
        try h.run([Float](repeating: 0.2, count: 84), lr: 0.02)
        XCTAssertEqual(h.optimizer.stateBytes, 4 * 84)
        XCTAssertEqual(h.optimizer.stateBytesFormula, 4 * 84)
        XCTAssertThrowsError(try RuleHarness(Muon(), theta: [1, 2, 3], shape: [3], name: "model.norm.weight", role: .norm))
    }
}
