import XCTest
import GradientCheck
import Tensors

final class MatmulTests: XCTestCase {
    /// a [2, 3, 7] · b [7, 5] against a Double triple loop: 7 Float products and sums carry
    /// at most ~1e-6 relative error on O(1) values.
    func testForwardMatchesNaiveDoubleProduct() {
        let a = randomInput([2, 3, 7], seed: 101), b = randomInput([7, 5], seed: 102)
        let y = matmul(a, b)
        XCTAssertEqual(y.shape, [2, 3, 5])
        for i in 0..<6 {
            for j in 0..<5 {
                var s = 0.0
                for k in 0..<7 { s += Double(a[i * 7 + k]) * Double(b[k * 5 + j]) }
                XCTAssertEqual(Double(y[i * 5 + j]), s, accuracy: 1e-5 * max(1, abs(s)), "(\(i), \(j))")
            }
        }
    }

    func testForwardHandExample() {
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4]), b = Tensor(shape: [2, 3], values: [1, 0, -1, 2, 1, 0.5])
        XCTAssertEqual(matmul(a, b).array, [5, 2, 0, 11, 4, -1])
    }

    func testReshapedKeepsElementsInOrder() {
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let y = reshaped(a, [3, 1, 2])
        XCTAssertEqual(y.shape, [3, 1, 2])
        XCTAssertEqual(y.array, a.array)
    }

    func testAddBiasAndReLUForward() {
        let x = Tensor(shape: [2, 3], values: [1, -2, 3, -4, 5, -6])
        let b = Tensor(shape: [3], values: [0.5, 1, -1])
        XCTAssertEqual(addBias(x, b).array, [1.5, -1, 2, -3.5, 6, -7])
        XCTAssertEqual(relu(x).array, [1, 0, 3, 0, 5, 0])
    }
}

final class MatmulGradTests: XCTestCase {
    private var savedThreads = 0
    override func setUp() { savedThreads = Parallel.threads }
    override func tearDown() { Parallel.setThreads(savedThreads) }

    /// Float32 forward passes with h = 1e-2 on O(1) values (as for linear): a few 1e-3 is
    /// rounding noise, a wrong backward gives O(1).
    func testMatmulBackwardMatchesFiniteDifferencesForBothInputs() {
        let a = randomInput([2, 3, 5], seed: 111), b = randomInput([5, 4], seed: 112)
        let result = gradCheck([a, b]) { matmul($0[0], $0[1]) }
        XCTAssertEqual(result.relativeErrors.count, 2)
        XCTAssertLessThan(result.worst, 5e-3, "errors \(result.relativeErrors)")
    }

    /// matmul(a, a): both gradients land in one buffer and must add.
    func testMatmulWithOneTensorOnBothSides() {
        let a = randomInput([4, 4], seed: 113)
        XCTAssertLessThan(gradCheck([a]) { matmul($0[0], $0[0]) }.worst, 5e-3)
    }

    func testReshapedBackwardMatchesFiniteDifferences() {
        let a = randomInput([2, 3, 4], seed: 114)
        // reshaped then matmul, so the reshaped tensor's gradient is not uniform.
        let b = randomInput([4, 3], seed: 124)
        b.requiresGrad = false
        XCTAssertLessThan(gradCheck([a]) { matmul(reshaped($0[0], [6, 4]), b) }.worst, 5e-3)
    }

    func testAddBiasBackwardMatchesFiniteDifferencesForInputAndBias() {
        let x = randomInput([3, 4, 11], seed: 115), bias = randomInput([11], seed: 116)
        let result = gradCheck([x, bias]) { addBias($0[0], $0[1]) }
        XCTAssertEqual(result.relativeErrors.count, 2)
        XCTAssertLessThan(result.worst, 5e-3, "errors \(result.relativeErrors)")
    }

    /// Inputs kept at least 0.1 away from the kink so x ± h never crosses it.
    func testReLUBackwardMatchesFiniteDifferences() {
        let x = randomInput([3, 19], seed: 117)
        for i in 0..<x.count { x[i] = x[i] >= 0 ? x[i] + 0.1 : x[i] - 0.1 }
        XCTAssertLessThan(gradCheck([x]) { relu($0[0]) }.worst, 5e-3)
    }

    func testBackwardAccumulatesIntoExistingGradients() {
        let a = randomInput([3, 5], seed: 118), b = randomInput([5, 6], seed: 119)
        for e in accumulationErrors([a, b], { matmul($0[0], $0[1]) }) { XCTAssertLessThan(e, 1e-6) }
        let bias = randomInput([5], seed: 120)
        for e in accumulationErrors([a, bias], { addBias($0[0], $0[1]) }) { XCTAssertLessThan(e, 1e-6) }
        for e in accumulationErrors([a], { relu($0[0]) }) { XCTAssertLessThan(e, 1e-6) }
        for e in accumulationErrors([a], { reshaped($0[0], [15]) }) { XCTAssertLessThan(e, 1e-6) }
    }

    /// 4096 rows of 64 columns: the column sums split over two threads (8+ columns a part),
    /// and must give bitwise the same bias gradient as one thread.
    func testAddBiasGradientIsIndependentOfThreadCount() {
        let x = randomInput([4096, 64], seed: 121), bias = randomInput([64], seed: 122)
        let seed = randomSeed(for: [x, bias]) { addBias($0[0], $0[1]) }
        Parallel.setThreads(1)
        let one = recordedRun([x, bias], seed: seed) { addBias($0[0], $0[1]) }
        Parallel.setThreads(2)
        let two = recordedRun([x, bias], seed: seed) { addBias($0[0], $0[1]) }
        XCTAssertEqual(one.output.map(\.bitPattern), two.output.map(\.bitPattern))
        XCTAssertEqual(one.grads[1].map(\.bitPattern), two.grads[1].map(\.bitPattern))
        XCTAssertEqual(one.grads[0].map(\.bitPattern), two.grads[0].map(\.bitPattern))
    }
}
