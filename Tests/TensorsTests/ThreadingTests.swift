import XCTest
import GradientCheck
import Tensors

/// Every op must compute bitwise the same forward values and gradients on one thread as on
/// two: work is split by rows or elements only, and reductions across rows run in fixed
/// blocks added in a fixed order. Sizes are large enough that every loop splits in two.
final class ThreadingTests: XCTestCase {
    private var savedThreads = 0

    override func setUp() { savedThreads = Parallel.threads }
    override func tearDown() { Parallel.setThreads(savedThreads) }

    func testElementwiseOps() {
        let a = randomInput([2048, 688], seed: 81), b = randomInput([2048, 688], seed: 82)
        assertSameOnOneAndTwoThreads([a, b]) { add($0[0], $0[1]) }
        assertSameOnOneAndTwoThreads([a, b]) { mul($0[0], $0[1]) }
        assertSameOnOneAndTwoThreads([a]) { scale($0[0], 0.3) }
    }

    func testReductions() {
        let a = randomInput([2048, 688], seed: 83)
        assertSameOnOneAndTwoThreads([a]) { sum($0[0]) }
        assertSameOnOneAndTwoThreads([a]) { mean($0[0]) }
    }

    func testSiLUAndSwiGLU() {
        let gate = randomInput([2048, 688], std: 2, seed: 84), up = randomInput([2048, 688], seed: 85)
        assertSameOnOneAndTwoThreads([gate]) { silu($0[0]) }
        assertSameOnOneAndTwoThreads([gate, up]) { swiGLU($0[0], $0[1]) }
    }

    /// 2048 rows: 32 blocks of 64 rows for the weight gradient, split 16/16 on two threads.
    func testRMSNorm() {
        let x = randomInput([2048, 256], seed: 86), w = randomInput([256], seed: 87)
        assertSameOnOneAndTwoThreads([x, w]) { rmsNorm($0[0], $0[1], eps: 1e-6) }
    }

    func testRotary() {
        let table = RotaryTable(headDim: 32, maxPositions: 256)
        let x = randomInput([8 * 256, 8 * 32], seed: 88)
        assertSameOnOneAndTwoThreads([x]) { rotary($0[0], table: table, batch: 8, seqLen: 256, heads: 8) }
    }

    /// 2048 ids drawn from 1000 rows, so most rows repeat; the scatter-add splits columns.
    func testEmbedding() {
        let table = randomInput([1000, 256], seed: 89)
        var rng = RandomGenerator(seed: 90)
        let ids = (0..<2048).map { _ in Int32(rng.int(below: 1000)) }
        assertSameOnOneAndTwoThreads([table]) { embedding(ids, $0[0]) }
    }

    /// Upstream gradient 1 (the buffer is handed over) and 0.7 (scaled in place).
    func testCrossEntropy() {
        let logits = randomInput([512, 4096], std: 2, seed: 91)
        var rng = RandomGenerator(seed: 92)
        let targets = (0..<512).map { _ in Int32(rng.int(below: 4096)) }
        for g: Float in [1, 0.7] {
            assertSameOnOneAndTwoThreads([logits], seed: Tensor(shape: [], values: [g])) {
                crossEntropy($0[0], targets: targets)
            }
        }
    }

    private func assertSameOnOneAndTwoThreads(_ inputs: [Tensor], seed: Tensor? = nil,
                                              file: StaticString = #filePath, line: UInt = #line,
                                              _ f: ([Tensor]) -> Tensor) {
        let seed = seed ?? randomSeed(for: inputs, f)
        Parallel.setThreads(1)
        let one = recordedRun(inputs, seed: seed, f)
        Parallel.setThreads(2)
        let two = recordedRun(inputs, seed: seed, f)
        XCTAssertEqual(bitDifferences(one.output, two.output), 0, "forward differs", file: file, line: line)
        for (k, x) in inputs.enumerated() where x.requiresGrad {
            XCTAssertFalse(one.grads[k].isEmpty, "input \(k) got no gradient", file: file, line: line)
            XCTAssertEqual(bitDifferences(one.grads[k], two.grads[k]), 0, "gradient \(k) differs",
                           file: file, line: line)
        }
    }

    /// Number of positions whose bit patterns differ (or the length difference).
    private func bitDifferences(_ a: [Float], _ b: [Float]) -> Int {
        guard a.count == b.count else { return abs(a.count - b.count) + 1 }
        var n = 0
        for i in 0..<a.count where a[i].bitPattern != b[i].bitPattern { n += 1 }
        return n
    }
}
