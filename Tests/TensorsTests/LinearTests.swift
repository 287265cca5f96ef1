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
