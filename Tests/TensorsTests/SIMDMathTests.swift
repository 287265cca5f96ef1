import XCTest
import Foundation
import Tensors

final class SIMDMathTests: XCTestCase {
    /// A grid of 1.75 million points 1e-4 apart over [−87, 88] against Double exp. Measured
    /// maximum 8.5e-8 relative: the polynomial's own error plus the final rounding to Float
    /// (≤ 6e-8). The bound 2e-7 (≈ 1.7 ulp) is the design target.
    func testExpRelativeErrorOverDenseGrid() {
        var worst = 0.0, worstAt: Float = 0, scalarMismatches = 0
        var x: Float = -87
        var lanes = SIMD8<Float>()
        while x <= 88 {
            for k in 0..<8 { lanes[k] = x; x += 1e-4 }
            let y = FastMath.exp(lanes)
            for k in 0..<8 {
                let exact = Foundation.exp(Double(lanes[k]))
                let rel = abs(Double(y[k]) - exact) / exact
                if rel > worst { worst = rel; worstAt = lanes[k] }
                if FastMath.exp(lanes[k]) != y[k] { scalarMismatches += 1 }
            }
        }
        XCTAssertLessThan(worst, 2e-7, "worst at \(worstAt)")
        XCTAssertEqual(scalarMismatches, 0, "the scalar form must match the lanes bitwise")
    }

    /// Exact values where they must be exact, zero below −87 (no denormals), finite at the top.
    func testExpEdgeCases() {
        let y = FastMath.exp(SIMD8<Float>(0, -87.5, -1000, -.infinity, 100, .infinity, .nan, 1))
        XCTAssertEqual(y[0], 1)
        XCTAssertEqual(y[1], 0)
        XCTAssertEqual(y[2], 0)
        XCTAssertEqual(y[3], 0)
        XCTAssertTrue(y[4].isFinite && y[4] > 2e38)
        XCTAssertTrue(y[5].isFinite && y[5] > 2e38)
        XCTAssertTrue(y[6].isNaN)
        XCTAssertEqual(y[7], Float(M_E), accuracy: 3e-7)
        let nearBottom: Float = -86.9  // e^x ≈ 1.8e-38, just above the smallest normal float
        let exact = Float(Foundation.exp(Double(nearBottom)))
        XCTAssertEqual(FastMath.exp(nearBottom), exact, accuracy: 2e-7 * exact)
    }

    /// σ over [−30, 30] against Double: e^−|x| to 2e-7 plus a division and a product
    /// (≤ 2 roundings) bound the relative error by 4e-7 in both tails.
    func testSigmoidRelativeError() {
        var worst = 0.0
        var x: Float = -30
        while x <= 30 {
            var lanes = SIMD8<Float>()
            for k in 0..<8 { lanes[k] = x + Float(k) * 1e-3 }
            let y = FastMath.sigmoid(lanes)
            for k in 0..<8 {
                let exact = 1 / (1 + Foundation.exp(-Double(lanes[k])))
                worst = max(worst, abs(Double(y[k]) - exact) / exact)
                XCTAssertEqual(FastMath.sigmoid(lanes[k]), y[k])
            }
            x += 8e-3
        }
        XCTAssertLessThan(worst, 4e-7)
        XCTAssertEqual(FastMath.sigmoid(0), 0.5)
        XCTAssertEqual(FastMath.sigmoid(-200), 0)
        XCTAssertEqual(FastMath.sigmoid(200), 1)
    }
}
