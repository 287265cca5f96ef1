import XCTest
import Foundation
import Tensors

/// Parallel's loops run on persistent worker threads (WorkerPool): every piece exactly once,
/// loops inside loops and loops started from several threads at once run inline, and many
/// short loops in a row (the pattern of a training step) lose no piece.
final class WorkerPoolTests: XCTestCase {
    private var savedThreads = 0
    override func setUp() { savedThreads = Parallel.threads }
    override func tearDown() { Parallel.setThreads(savedThreads) }

    /// 20,000 loops of 1…4 pieces: each index written once per loop, by its own piece.
    func testEveryPieceRunsExactlyOncePerLoop() {
        for threads in [2, 3, 4] {
            Parallel.setThreads(threads)
            var counts = [Int](repeating: 0, count: 4 * 20_000)
            counts.withUnsafeMutableBufferPointer { buffer in
                let out = SendablePointer(buffer.baseAddress!)
                for loop in 0..<20_000 {
                    Parallel.forIndexedRanges(threads, grain: 1) { i, range in
                        XCTAssertEqual(range, i..<i + 1)
                        out.p[loop * 4 + i] += 1
                    }
                }
            }
            for loop in 0..<20_000 {
                XCTAssertEqual(Array(counts[loop * 4..<loop * 4 + threads]), [Int](repeating: 1, count: threads), "loop \(loop)")
            }
        }
    }

    /// A loop inside a loop's piece runs on that piece's thread, all of it.
    func testNestedLoopsRunInline() {
        Parallel.setThreads(2)
        var sums = [Int](repeating: 0, count: 2)
        sums.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            Parallel.forIndexedRanges(2) { i, _ in
                var local = 0
                let cell = withUnsafeMutablePointer(to: &local) { SendablePointer($0) }
                Parallel.forRanges(1000, grain: 1) { r in for x in r { cell.p.pointee += x } }
                out.p[i] = local
            }
        }
        XCTAssertEqual(sums, [499_500, 499_500])
    }

    /// Two threads starting loops at the same time: one gets the workers, the other runs its
    /// pieces itself; both finish with every piece done.
    func testLoopsFromTwoThreadsAtOnce() {
        Parallel.setThreads(2)
        let totals = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        totals.initialize(repeating: 0, count: 2)
        defer { totals.deallocate() }
        let out = SendablePointer(totals)
        DispatchQueue.concurrentPerform(iterations: 2) { caller in
            for _ in 0..<2_000 {
                var parts = [0, 0]
                parts.withUnsafeMutableBufferPointer { buffer in
                    let p = SendablePointer(buffer.baseAddress!)
                    Parallel.forIndexedRanges(2) { i, r in p.p[i] = r.count }
                }
                out.p[caller] += parts[0] + parts[1]
            }
        }
        XCTAssertEqual([totals[0], totals[1]], [4_000, 4_000])
    }
}
