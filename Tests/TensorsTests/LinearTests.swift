import XCTest
import GradientCheck
import Tensors

final class LinearTests: XCTestCase {
    func testForwardMatchesHandComputedProduct() {
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let w = Tensor(shape: [2, 3], values: [1, 0, -1, 0.5, 0.5, 0.5])
        let y = linear(x, w)
        XCTAssertEqual(y.shape, [2, 2])
        XCTAssertEqual(y.array, [-2, 3, -2, 7.5])
    }

    /// The residual form: r + x·Wᵀ, the same values as linear then add (bitwise here: one
    /// K block), with r left as it was.
    func testPlusResidualAddsTheProductToACopy() {
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let w = Tensor(shape: [2, 3], values: [1, 0, -1, 0.5, 0.5, 0.5])
        let r = Tensor(shape: [2, 2], values: [10, -1, 0.25, 3])
        let y = linear(x, w, plus: r)
        XCTAssertEqual(y.array, [8, 2, -1.75, 10.5])
        XCTAssertEqual(r.array, [10, -1, 0.25, 3])
        let big = randomInput([300, 64], seed: 3), wb = randomInput([96, 64], seed: 4), rb = randomInput([300, 96], seed: 5)
        XCTAssertEqual(linear(big, wb, plus: rb).array, add(linear(big, wb), rb).array)
    }
}

final class LinearGradTests: XCTestCase {
    /// Float32 forward passes with h = 1e-2 on O(1) values: a relative error of a few 1e-3
    /// is rounding noise, a wrong backward gives O(1).
    func testBackwardMatchesFiniteDifferences() {
        let x = randomInput([2, 3, 5], seed: 1)   // leading dims [B=2, T=3], in = 5
        let w = randomInput([4, 5], seed: 2)      // out = 4
        let result = gradCheck([x, w]) { linear($0[0], $0[1]) }
        XCTAssertLessThan(result.worst, 5e-3, "errors \(result.relativeErrors)")
    }
}

final class LinearPlusGradTests: XCTestCase {
    /// r + x·Wᵀ: gradients of x, W and the residual r against central differences, and a
    /// residual that also feeds another op (its gradient is added to, not replaced).
    func testBackwardMatchesFiniteDifferences() {
        let x = randomInput([2, 3, 5], seed: 1), w = randomInput([4, 5], seed: 2), r = randomInput([2, 3, 4], seed: 3)
        let result = gradCheck([x, w, r]) { linear($0[0], $0[1], plus: $0[2]) }
        XCTAssertLessThan(result.worst, 5e-3, "errors \(result.relativeErrors)")
        let shared = gradCheck([x, w, r]) { t in mul(linear(t[0], t[1], plus: t[2]), t[2]) }
        XCTAssertLessThan(shared.worst, 5e-3, "errors \(shared.relativeErrors)")
    }
}
