import XCTest
import Foundation
import GradientCheck
import Tensors

final class SiLUTests: XCTestCase {
    /// silu(z) = z / (1 + e^−z) against Double at points across both tails and the bend.
    /// FastMath.exp is within 2e-7 and the division and product add ≤ 2 roundings (1.2e-7),
    /// so 5e-7 relative bounds it; at z = 0 both are exactly 0.
    /// 16-float SwiGLU (AVX-512) gives the 8-float loops' bits, forward and both gradients,
    /// with tails (1000·37 elements split over the threads) and saturated gates (std 8).
    func testSwiGLUIsBitwiseTheSameOnEightAndSixteenLanes() throws {
        let gate = randomInput([1000, 37], std: 8, seed: 301), up = randomInput([1000, 37], seed: 302)
        let seed = randomSeed(for: [gate, up]) { swiGLU($0[0], $0[1]) }
        try assertSameOnEightAndSixteenLanes([gate, up], seed: seed) { swiGLU($0[0], $0[1]) }
    }

    func testSiLUAtKnownPoints() {
        let points: [Float] = [0, 1, -1, 0.5, -2.5, 5, -5, 20, -20, 40, -40, 3.25, -0.125, 7]
        let y = silu(Tensor(shape: [2, 7], values: points)).array
        for (z, got) in zip(points, y) {
            let expected = Double(z) / (1 + Foundation.exp(-Double(z)))
            XCTAssertEqual(Double(got), expected, accuracy: 5e-7 * abs(expected), "silu(\(z))")
        }
        XCTAssertEqual(y[0], 0)
        XCTAssertEqual(y[1], 0.7310586, accuracy: 1e-7)  // σ(1) = 1/(1 + e^−1)
    }

    func testSwiGLUIsSiLUOfGateTimesUp() {
        let gate = randomInput([3, 19], seed: 31), up = randomInput([3, 19], seed: 32)
        let fused = swiGLU(gate, up).array, s = silu(gate).array
        for i in 0..<gate.count { XCTAssertEqual(fused[i], s[i] * up[i], accuracy: 1e-6 * abs(fused[i])) }
    }
}

final class SiLUGradTests: XCTestCase {
    /// silu is smooth with |silu'''| ≤ 0.6, so with h = 1e-2 truncation is ≤ h²/6·0.6 ≈ 1e-5;
    /// Float32 rounding of the O(10) loss over 2h adds ≈ 1e-4. A bound of 2e-3 (as for
    /// linear) leaves margin and catches any missing term (errors of O(0.1–1)).
    /// Shapes [2, 5, 19]: 190 elements, several SIMD vectors and a 6-element tail.
    func testSiLUBackwardMatchesFiniteDifferences() {
        let x = randomInput([2, 5, 19], std: 2, seed: 33)
        XCTAssertLessThan(gradCheck([x]) { silu($0[0]) }.worst, 2e-3)
    }

    func testSwiGLUBackwardMatchesFiniteDifferencesForBothInputs() {
        let gate = randomInput([2, 5, 19], std: 2, seed: 34), up = randomInput([2, 5, 19], seed: 35)
        let result = gradCheck([gate, up]) { swiGLU($0[0], $0[1]) }
        XCTAssertEqual(result.relativeErrors.count, 2)
        XCTAssertLessThan(result.worst, 2e-3, "errors \(result.relativeErrors)")
    }

    /// swiGLU(x, x) = silu(x)·x: the gate and up gradients land in one buffer and must add.
    func testSwiGLUWithOneTensorAsGateAndUp() {
        let x = randomInput([3, 13], seed: 36)
        XCTAssertLessThan(gradCheck([x]) { swiGLU($0[0], $0[0]) }.worst, 2e-3)
    }

    func testBackwardAccumulatesIntoExistingGradients() {
        let gate = randomInput([4, 21], seed: 37), up = randomInput([4, 21], seed: 38)
        for e in accumulationErrors([gate, up], { swiGLU($0[0], $0[1]) }) { XCTAssertLessThan(e, 1e-6) }
        for e in accumulationErrors([gate], { silu($0[0]) }) { XCTAssertLessThan(e, 1e-6) }
    }
}
