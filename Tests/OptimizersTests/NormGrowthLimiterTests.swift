// NormGrowthLimiterTests: Fira's norm-growth limiter of optimizers-lowrank.md §0.5 — the
// worked example (φ 10, ‖S‖ 12, γ 1.01 → 10.1), pass-through below γ·φ, the first call that
// only records φ, the bound ‖S_out‖ ≤ γ·φ, and homogeneity.
import XCTest
import Optimizers
import Tensors

final class NormGrowthLimiterTests: XCTestCase {
    private func norm(_ t: Tensor) -> Double { t.array.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

    func testWorkedExampleCapsGrowthToGamma() {
        // ‖[7.2, 9.6]‖ = 12, φ = 10: ρ = 1.2, κ = 1.1881188, ‖S_out‖ = 10.1, φ ← 10.1.
        let s = Tensor(shape: [2], values: [7.2, 9.6])
        let r = NormGrowthLimiter(gamma: 1.01).limit(s, previous: 10)
        XCTAssertTrue(r.limited)
        XCTAssertEqual(r.norm, 10.1, accuracy: 1e-6)
        XCTAssertEqual(norm(s), 10.1, accuracy: 1e-5)
        let k = 1.2 / 1.01  // κ
        XCTAssertEqual(k, 1.1881188, accuracy: 1e-7)
        assertClose(s.array, [7.2 / k, 9.6 / k], rel: 1e-6)
    }

    func testGrowthBelowGammaPassesUnchanged() {
        // ‖[6.03, 8.04]‖ = 10.05 < 1.01·10.
        let values: [Float] = [6.03, 8.04]
        let s = Tensor(shape: [2], values: values)
        let r = NormGrowthLimiter().limit(s, previous: 10)
        XCTAssertFalse(r.limited)
        XCTAssertEqual(r.norm, 10.05, accuracy: 1e-5)
        XCTAssertEqual(s.array, values)
        // A shrinking update passes as well.
        let small = Tensor(shape: [2], values: [0.3, 0.4])
        let r2 = NormGrowthLimiter().limit(small, previous: 10)
        XCTAssertFalse(r2.limited)
        XCTAssertEqual(r2.norm, 0.5, accuracy: 1e-7)
        XCTAssertEqual(small.array, [0.3, 0.4])
    }

    func testFirstCallOnlyRecordsTheNorm() {
        let values: [Float] = [300, -400, 0, 1200]  // norm 1300
        let s = Tensor(shape: [2, 2], values: values)
        let r = NormGrowthLimiter().limit(s, previous: nil)
        XCTAssertFalse(r.limited)
        XCTAssertEqual(r.norm, 1300, accuracy: 1e-9)
        XCTAssertEqual(s.array, values)
    }

    func testOutputNormIsAtMostGammaTimesPrevious() {
        var phi: Double? = nil
        let limiter = NormGrowthLimiter(gamma: 1.05)
        for k in 0..<8 {
            // Norms 1, 4, 16, …: every call after the first is limited.
            let scale = Float(pow(4.0, Double(k)))
            let s = Tensor(shape: [3], values: [scale, -2 * scale, 2 * scale].map { $0 / 3 })
            let r = limiter.limit(s, previous: phi)
            if let p = phi {
                XCTAssertTrue(r.limited)
                XCTAssertLessThanOrEqual(norm(s), 1.05 * p * (1 + 1e-6) + 1e-8)
                XCTAssertEqual(r.norm, 1.05 * p, accuracy: 1e-6 * p)
            }
            phi = r.norm
        }
        XCTAssertEqual(phi!, pow(1.05, 7), accuracy: 1e-5)
    }

    func testLimiterIsHomogeneous() {
        // Scaling S and φ by c leaves κ unchanged: the output scales by c.
        let base: [Float] = [1.5, -2.5, 0.5, 3, -1, 2]
        let s1 = Tensor(shape: [2, 3], values: base)
        let r1 = NormGrowthLimiter().limit(s1, previous: 2)
        for c: Float in [1000, 1e-3] {
            let sc = Tensor(shape: [2, 3], values: base.map { $0 * c })
            let rc = NormGrowthLimiter().limit(sc, previous: 2 * Double(c))
            XCTAssertEqual(rc.limited, r1.limited)
            XCTAssertEqual(rc.norm, r1.norm * Double(c), accuracy: 1e-5 * r1.norm * Double(c))
            assertClose(sc.array, s1.array.map { Double($0 * c) }, rel: 1e-5)
        }
        XCTAssertTrue(r1.limited)
        XCTAssertEqual(r1.norm, 2.02, accuracy: 1e-6)
    }
}
