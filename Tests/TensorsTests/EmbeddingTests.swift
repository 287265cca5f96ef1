import XCTest
import GradientCheck
import Tensors

final class EmbeddingTests: XCTestCase {
    func testLookupCopiesTheChosenRows() {
        let table = Tensor(shape: [4, 3], values: [0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32])
        let y = embedding([3, 0, 3, 2], table)
        XCTAssertEqual(y.shape, [4, 3])
        XCTAssertEqual(y.array, [30, 31, 32, 0, 1, 2, 30, 31, 32, 20, 21, 22])
    }

    /// Repeated ids sum their gradient rows; rows never looked up stay zero. The sums are of
    /// a few small integers, so they are exact.
    func testBackwardScatterAddsRepeatedIds() {
        let table = Tensor.zeros([5, 2], requiresGrad: true)
        let ids: [Int32] = [1, 3, 1, 1, 0]
        let (y, tape) = Tape.record { embedding(ids, table) }
        tape.backward(from: y, seed: Tensor(shape: [5, 2], values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
        XCTAssertEqual(table.grad!.array, [9, 10, 1 + 5 + 7, 2 + 6 + 8, 0, 0, 3, 4, 0, 0])
    }
}

final class EmbeddingGradTests: XCTestCase {
    /// The lookup is linear in the table, so central differences are exact up to Float32
    /// rounding of the loss (≈ 1e-4 relative); 1e-3 is the bound. 23 ids with repeats over a
    /// [9, 19] table (d = 19: two SIMD vectors and a tail).
    func testBackwardMatchesFiniteDifferences() {
        let table = randomInput([9, 19], seed: 61)
        let ids: [Int32] = [0, 3, 3, 8, 1, 3, 0, 7, 7, 2, 5, 5, 5, 4, 8, 1, 0, 2, 6, 3, 3, 7, 8]
        let result = gradCheck([table]) { embedding(ids, $0[0]) }
        XCTAssertLessThan(result.worst, 1e-3, "errors \(result.relativeErrors)")
    }

    func testBackwardAccumulatesIntoExistingGradients() {
        let table = randomInput([6, 40], seed: 62)
        for e in accumulationErrors([table], { embedding([5, 1, 1, 0, 5, 2], $0[0]) }) { XCTAssertLessThan(e, 1e-6) }
    }
}
