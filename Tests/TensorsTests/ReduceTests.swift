import XCTest
import GradientCheck
import Tensors

final class ReduceTests: XCTestCase {
    func testSumAndMeanOfKnownValuesAreExactScalars() {
        // 1 + 2 + … + 10000 = 50,005,000: every partial sum is an integer below 2²⁴ within a
        // 4096-element block's lanes, and the block totals add in Double, so the result is exact.
        let n = 10_000
        let a = Tensor(shape: [100, 100], values: (1...n).map { Float($0) })
        let s = sum(a), m = mean(a)
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.count, 1)
        XCTAssertEqual(s.scalar, 50_005_000)
        XCTAssertEqual(m.shape, [])
        XCTAssertEqual(m.scalar, 5000.5)
    }

    /// Random values over six blocks and a ragged tail, against a Double sum. Each of the 32
    /// Float lanes of a block adds ≤ 128 terms of size O(1), rounding at ≈ 6e-8·|partial| ≤ 1e-6
    /// per add; as random-signed errors they total ≈ 1e-4 at most over 21,007 terms (measured
    /// 5e-5), so 1e-3 absolute is a safe bound that still catches a lost block (error O(10)).
    func testSumMatchesDoubleReference() {
        let a = randomInput([3, 1001, 7], seed: 21)
        var reference = 0.0
        for i in 0..<a.count { reference += Double(a[i]) }
        XCTAssertEqual(Double(sum(a).scalar), reference, accuracy: 1e-3)
        XCTAssertEqual(Double(mean(a).scalar), reference / Double(a.count), accuracy: 1e-7)
    }
}

final class ReduceGradTests: XCTestCase {
    /// sum and mean are linear: central differences are exact up to rounding of the Float32
    /// forward (|L| ≈ 10, ε·|L|/h ≈ 1e-4 relative to a gradient of O(1)); 1e-3 is the bound.
    /// mean's gradient is 1/n, so its check scales the error by max|gradient| as well.
    func testBackwardMatchesFiniteDifferences() {
        let a = randomInput([3, 5, 7], seed: 22)
        XCTAssertLessThan(gradCheck([a]) { sum($0[0]) }.worst, 1e-3)
        XCTAssertLessThan(gradCheck([a]) { mean($0[0]) }.worst, 1e-3)
    }

    func testGradientIsTheUpstreamScalarSpreadEvenly() {
        let a = randomInput([6, 5], seed: 23)
        let (m, tape) = Tape.record { mean(a) }
        tape.backward(from: m, seed: Tensor(shape: [], values: [3]))
        XCTAssertEqual(a.grad!.array, [Float](repeating: 0.1, count: 30))  // 3 / 30
        for e in accumulationErrors([a], { sum($0[0]) }) { XCTAssertLessThan(e, 1e-6) }
    }
}
