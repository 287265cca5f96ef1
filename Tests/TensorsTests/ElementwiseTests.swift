import XCTest
import GradientCheck
import Tensors

final class ElementwiseTests: XCTestCase {
    func testForwardValuesMatchHandComputed() {
        let a = Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, 4, -1])
        let b = Tensor(shape: [2, 3], values: [0.5, 2, -1, 7, 0.25, -3])
        XCTAssertEqual(add(a, b).array, [1.5, 0, 2.5, 7, 4.25, -4])
        XCTAssertEqual(mul(a, b).array, [0.5, -4, -3.5, 0, 1, 3])
        XCTAssertEqual(scale(a, -2).array, [-2, 4, -7, 0, -8, 2])
        XCTAssertEqual(add(a, b).shape, [2, 3])
    }

    /// Lengths past one SIMD vector with a ragged tail (3·7·5 = 105 = 13·8 + 1) exercise both
    /// the vector loop and the scalar tail; all three ops give exactly rounded results there.
    func testVectorAndTailPathsAgreeWithScalarArithmetic() {
        let a = randomInput([3, 7, 5], seed: 11), b = randomInput([3, 7, 5], seed: 12)
        let sum = add(a, b).array, prod = mul(a, b).array, scaled = scale(a, 0.3).array
        for i in 0..<a.count {
            XCTAssertEqual(sum[i], a[i] + b[i])
            XCTAssertEqual(prod[i], a[i] * b[i])
            XCTAssertEqual(scaled[i], 0.3 * a[i])
        }
    }
}

final class ElementwiseGradTests: XCTestCase {
    /// add, mul and scale are (bi)linear, so central differences have no truncation error;
    /// what is left is Float32 rounding of the O(10) loss over 2h = 0.02: a few 1e-4 at most.
    /// 1e-3 leaves margin and still catches any wrong factor (an O(1) error).
    func testBackwardMatchesFiniteDifferences() {
        let a = randomInput([3, 7, 5], seed: 1), b = randomInput([3, 7, 5], seed: 2)
        XCTAssertLessThan(gradCheck([a, b]) { add($0[0], $0[1]) }.worst, 1e-3)
        XCTAssertLessThan(gradCheck([a, b]) { mul($0[0], $0[1]) }.worst, 1e-3)
        XCTAssertLessThan(gradCheck([a]) { scale($0[0], -1.7) }.worst, 1e-3)
    }

    /// The same tensor on both sides: d(x + x) = 2, d(x ⊙ x) = 2x. mul is quadratic here, so
    /// the check is exact only up to rounding, as above.
    func testAliasedOperandsGetBothContributions() {
        let x = randomInput([4, 9], seed: 3)
        XCTAssertLessThan(gradCheck([x]) { add($0[0], $0[0]) }.worst, 1e-3)
        XCTAssertLessThan(gradCheck([x]) { mul($0[0], $0[0]) }.worst, 1e-3)
    }

    /// A gradient that already holds a contribution is added to, not overwritten.
    func testBackwardAccumulatesIntoExistingGradients() {
        let a = randomInput([5, 11], seed: 4), b = randomInput([5, 11], seed: 5)
        for e in accumulationErrors([a, b], { add($0[0], $0[1]) }) { XCTAssertLessThan(e, 1e-6) }
        for e in accumulationErrors([a, b], { mul($0[0], $0[1]) }) { XCTAssertLessThan(e, 1e-6) }
        for e in accumulationErrors([a], { scale($0[0], 0.37) }) { XCTAssertLessThan(e, 1e-6) }
    }

    /// An input that does not require grad gets none.
    func testConstantOperandGetsNoGradient() {
        let a = randomInput([3, 4], seed: 6)
        let b = Tensor.filled([3, 4], with: 2)
        let (y, tape) = Tape.record { mul(a, b) }
        tape.backward(from: y, seed: Tensor.filled([3, 4], with: 1))
        XCTAssertNil(b.grad)
        XCTAssertEqual(a.grad?.array, [Float](repeating: 2, count: 12))
    }
}
