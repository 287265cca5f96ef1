import XCTest
import GradientCheck
import Tensors

final class RMSNormTests: XCTestCase {
    /// x = [[1, 2, 3], [2, −2, 2]], w = [1, 0.5, 2], eps = 1e-6:
    ///   row 0: mean(x²) = (1 + 4 + 9)/3 = 14/3, rms = √(14/3) = 2.1602469;
    ///          x/rms = [0.46291005, 0.9258201, 1.3887302], ⊙ w → [0.46291005, 0.46291005, 2.7774603]
    ///   row 1: mean(x²) = (4 + 4 + 4)/3 = 4, rms = 2; x/rms = [1, −1, 1], ⊙ w → [1, −0.5, 2]
    /// eps shifts 1/rms by eps/(2·mean(x²)) ≤ 1.3e-7 relative; Float32 rounding adds a few
    /// 1e-7, so the values must agree to 1e-6 relative.
    func testTwoByThreeMatchesHandComputedValues() {
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 2, -2, 2])
        let w = Tensor(shape: [3], values: [1, 0.5, 2])
        let y = rmsNorm(x, w, eps: 1e-6)
        XCTAssertEqual(y.shape, [2, 3])
        let expected: [Float] = [0.46291005, 0.46291005, 2.7774603, 1, -0.5, 2]
        for (got, want) in zip(y.array, expected) { XCTAssertEqual(got, want, accuracy: 1e-6 * abs(want)) }
    }

    /// With w = 1, every output row has mean(y²) = mean(x²)/(mean(x²) + eps) ≈ 1.
    func testUnitWeightGivesUnitRootMeanSquare() {
        let x = randomInput([4, 37], std: 3, seed: 41)
        let y = rmsNorm(x, Tensor.filled([37], with: 1), eps: 1e-6)
        for r in 0..<4 {
            var s = 0.0
            for j in 0..<37 { s += Double(y[r * 37 + j] * y[r * 37 + j]) }
            XCTAssertEqual(s / 37, 1, accuracy: 1e-5)
        }
    }
}

final class RMSNormGradTests: XCTestCase {
    /// RMSNorm is smooth in x and linear in w. For O(1) inputs and rows of ≥ 9 elements its
    /// third derivatives are O(1), so truncation with h = 1e-2 is ≈ 1e-5 and Float32 rounding
    /// of the loss over 2h ≈ 1e-4; 3e-3 bounds both with margin, while a dropped term of the
    /// backward (e.g. the −(r³/d)(Σ dy w x)·x projection) gives errors of O(0.1–1).
    /// Shape [3, 4, 13]: B·T = 12 rows, d = 13 (one SIMD vector plus a 5-element tail).
    func testBackwardMatchesFiniteDifferences() {
        let x = randomInput([3, 4, 13], seed: 42)
        let w = randomInput([13], seed: 43)
        let result = gradCheck([x, w]) { rmsNorm($0[0], $0[1], eps: 1e-6) }
        XCTAssertEqual(result.relativeErrors.count, 2)
        XCTAssertLessThan(result.worst, 3e-3, "errors \(result.relativeErrors)")
    }

    /// 150 rows span three 64-row blocks of the weight gradient (the last one partial).
    func testWeightGradientOverSeveralRowBlocks() {
        let x = randomInput([2, 75, 11], seed: 44)
        let w = randomInput([11], seed: 45)
        let result = gradCheck([x, w]) { rmsNorm($0[0], $0[1], eps: 1e-5) }
        XCTAssertLessThan(result.worst, 3e-3, "errors \(result.relativeErrors)")
    }

    func testBackwardAccumulatesIntoExistingGradients() {
        let x = randomInput([70, 24], seed: 46), w = randomInput([24], seed: 47)
        for e in accumulationErrors([x, w], { rmsNorm($0[0], $0[1], eps: 1e-6) }) { XCTAssertLessThan(e, 1e-6) }
    }
}
