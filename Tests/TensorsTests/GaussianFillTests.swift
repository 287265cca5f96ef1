import Foundation
// GaussianFillTests: the counter-based standard normals of GaussianFill (used to regenerate
// projections and perturbations, optimizers-lowrank.md §3.3, optimizers-elementwise-zo.md §6)
// — independence from threads, chunking and offsets, value(…) = fill, stream separation, moments.
import XCTest
import Tensors

final class GaussianFillTests: XCTestCase {
    private var savedThreads = 1
    override func setUp() { savedThreads = Parallel.threads }
    override func tearDown() { Parallel.setThreads(savedThreads) }

    private func fill(_ count: Int, seed: UInt64 = 7, key: UInt64 = 3, offset: Int = 0, std: Float = 1) -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        out.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: seed, key: key, offset: offset, std: std) }
        return out
    }

    func testSameNumbersOnOneAndTwoThreads() {
        // 16_387 values: two threads split at 8193, an odd index, so a Box–Muller pair is cut.
        Parallel.setThreads(1)
        let one = fill(16_387), oneOffset = fill(16_387, offset: 5)
        Parallel.setThreads(2)
        let two = fill(16_387), twoOffset = fill(16_387, offset: 5)
        XCTAssertEqual(one.map(\.bitPattern), two.map(\.bitPattern))
        XCTAssertEqual(oneOffset.map(\.bitPattern), twoOffset.map(\.bitPattern))
        XCTAssertFalse(one.contains { !$0.isFinite })
    }

    func testChunkedFillWithOffsetsEqualsOneFill() {
        let n = 10_001
        let whole = fill(n)
        var chunked = [Float](repeating: .nan, count: n)
        var start = 0
        for size in [1, 3, 2, 7, 4096, 5, 8191, 1000] where start < n {
            let len = min(size, n - start)
            chunked.withUnsafeMutableBufferPointer { buf in
                GaussianFill.fill(UnsafeMutableBufferPointer(rebasing: buf[start..<(start + len)]), seed: 7, key: 3, offset: start)
            }
            start += len
        }
        XCTAssertEqual(start, n)
        XCTAssertEqual(whole.map(\.bitPattern), chunked.map(\.bitPattern))
        // A window starting at an odd index is the same slice.
        XCTAssertEqual(fill(101, offset: 333).map(\.bitPattern), whole[333..<434].map(\.bitPattern))
    }

    func testValueAtIndexEqualsFill() {
        let whole = fill(2000)
        for i in [0, 1, 2, 3, 998, 999, 1000, 1999] {
            XCTAssertEqual(GaussianFill.value(seed: 7, key: 3, index: i).bitPattern, whole[i].bitPattern, "index \(i)")
        }
        XCTAssertEqual(GaussianFill.value(seed: 7, key: 3, index: 17, std: 0.5), 0.5 * whole[17])
    }

    func testDifferentKeysAndSeedsGiveDifferentStreams() {
        let base = fill(1000, seed: 1, key: 2)
        for other in [fill(1000, seed: 1, key: 3), fill(1000, seed: 2, key: 2), fill(1000, seed: 3, key: 1)] {
            XCTAssertEqual(zip(base, other).filter { $0 == $1 }.count, 0)
            let corr = zip(base, other).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / 1000
            XCTAssertLessThan(abs(corr), 0.15, "streams look correlated")
        }
        XCTAssertEqual(fill(1000, seed: 1, key: 2), base, "same (seed, key) repeats")
    }

    func testMeanZeroVarianceOneOver200kValues() {
        let x = fill(200_000, seed: 2024, key: 11)
        let n = Double(x.count)
        let mean = x.reduce(0.0) { $0 + Double($1) } / n
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(variance, 1, accuracy: 0.01)
        // Tails of a normal: P(|x| > 3) ≈ 0.0027 → ≈ 540 of 200k.
        let beyond3 = x.filter { abs($0) > 3 }.count
        XCTAssertGreaterThan(beyond3, 400)
        XCTAssertLessThan(beyond3, 700)
        // Even and odd indices (cos and sin halves of each pair) are each standard normal.
        let evens = stride(from: 0, to: x.count, by: 2).map { Double(x[$0]) }
        XCTAssertEqual(evens.reduce(0, +) / Double(evens.count), 0, accuracy: 0.015)
        XCTAssertEqual(evens.reduce(0) { $0 + $1 * $1 } / Double(evens.count), 1, accuracy: 0.015)
    }

    func testStdScalesEveryValue() {
        let unit = fill(513), scaled = fill(513, std: 0.02)
        for i in 0..<513 { XCTAssertEqual(scaled[i], 0.02 * unit[i], "index \(i)") }
        let rms = (scaled.reduce(0.0) { $0 + Double($1) * Double($1) } / 513).squareRoot()
        XCTAssertEqual(rms, 0.02, accuracy: 0.003)
    }

    /// The Float polynomials agree with Box–Muller in Double on the same 24-bit draws.
    func testValuesAreBoxMullerOfTheirDraws() {
        let n = 200_000
        var out = [Float](repeating: 0, count: n)
        out.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: 31, key: 4) }
        var worst = 0.0
        for j in 0..<(n / 2) {
            let (a, b) = GaussianFill.draws(seed: 31, key: 4, pair: j)
            let u1 = (Double(a) + 1) / 16_777_216, u2 = Double(b) / 16_777_216
            let r = (-2 * Foundation.log(u1)).squareRoot(), t = 2 * Double.pi * u2
            worst = max(worst, abs(Double(out[2 * j]) - r * Foundation.cos(t)), abs(Double(out[2 * j + 1]) - r * Foundation.sin(t)))
        }
        XCTAssertLessThan(worst, 3e-6, "largest difference from Box–Muller in Double")
    }
}
