// Tests of Batcher: the sequential windows follow s = ((k·B + j)·T) mod (n − T − 1) exactly
// (wrap-around included), targets are inputs shifted by one, the shuffled order is a
// permutation of the window starts that replays from (seed, position), and cursors round-trip.
import Foundation
import XCTest
import TextData

final class BatcherTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("batch")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A shard whose token i is (i · 7 + 3) mod 65536, so every window is recognisable.
    private func shard(count: Int) throws -> TokenShard {
        let file = directory.appendingPathComponent("n\(count).bin").path
        try TokenShard.write((0 ..< count).map { Int32(($0 * 7 + 3) % 65_536) }, to: file)
        return try TokenShard(path: file)
    }

    private func token(_ i: Int) -> Int32 { Int32((i * 7 + 3) % 65_536) }

    func testSequentialWindowsFollowTheFormulaIncludingWrapAround() throws {
        let n = 50, b = 3, t = 7
        let batcher = try Batcher(shard: try shard(count: n), batchSize: b, sequenceLength: t)
        XCTAssertEqual(batcher.startModulus, 42)
        var wrapped = false
        for k in 0 ..< 25 {  // 25·3·7 = 525 tokens: the starts wrap past 42 many times
            let batch = batcher.batch(k)
            XCTAssertEqual(batch.inputs.count, b * t)
            XCTAssertEqual(batch.targets.count, b * t)
            for j in 0 ..< b {
                let s = ((k * b + j) * t) % (n - t - 1)
                if (k * b + j) * t >= n - t - 1 { wrapped = true }
                XCTAssertEqual(batch.starts[j], s)
                for p in 0 ..< t {
                    XCTAssertEqual(batch.inputs[j * t + p], token(s + p), "batch \(k) row \(j) col \(p)")
                    XCTAssertEqual(batch.targets[j * t + p], token(s + p + 1))
                }
                // Targets are the inputs shifted left by one within the row.
                XCTAssertEqual(Array(batch.targets[j * t ..< j * t + t - 1]), Array(batch.inputs[j * t + 1 ..< j * t + t]))
            }
        }
        XCTAssertTrue(wrapped)
        // The last start used is at most n − T − 2, so the last target index is ≤ n − 2.
        XCTAssertTrue((0 ..< 200).allSatisfy { batcher.windowStarts(batch: $0).allSatisfy { $0 <= n - t - 2 } })
    }

    func testStreamAndRandomAccessAgreeAndFillWritesTheSame() throws {
        let batcher = try Batcher(shard: try shard(count: 300), batchSize: 4, sequenceLength: 16)
        let streamed = (0 ..< 10).map { _ in batcher.next() }
        XCTAssertEqual(streamed, (0 ..< 10).map { batcher.batch($0) })
        XCTAssertEqual(batcher.cursor.nextBatch, 10)
        var inputs = [Int32](repeating: 0, count: 64), targets = [Int32](repeating: 0, count: 64)
        inputs.withUnsafeMutableBufferPointer { i in
            targets.withUnsafeMutableBufferPointer { t in _ = batcher.fill(batch: 7, inputs: i.baseAddress!, targets: t.baseAddress!) }
        }
        XCTAssertEqual(inputs, batcher.batch(7).inputs)
        XCTAssertEqual(targets, batcher.batch(7).targets)
        XCTAssertEqual(Batcher.microBatches(forStep: 1, accumulation: 4), 0 ..< 4)
        XCTAssertEqual(Batcher.microBatches(forStep: 3, accumulation: 4), 8 ..< 12)
    }

    func testTooFewTokensIsAnError() throws {
        let t = 8
        let error = textDataError { _ = try Batcher(shard: try shard(count: t + 1), batchSize: 2, sequenceLength: t) }
        XCTAssertTrue(error?.description.contains("needs at least 10 (T + 2)") ?? false, "\(String(describing: error))")
        // n = T + 2 is the smallest shard that works: every window starts at 0.
        let smallest = try Batcher(shard: try shard(count: t + 2), batchSize: 3, sequenceLength: t)
        XCTAssertEqual(smallest.windowStarts(batch: 5), [0, 0, 0])
        XCTAssertNotNil(textDataError { _ = try Batcher(shard: try shard(count: 100), batchSize: 0, sequenceLength: 4) })
    }

    func testShuffledOrderIsAPermutationOfWindowStartsPerEpoch() throws {
        let n = 1000, t = 16, b = 5
        let batcher = try Batcher(shard: try shard(count: n), batchSize: b, sequenceLength: t, shuffleSeed: 42)
        let windows = batcher.windowsPerEpoch
        XCTAssertEqual(windows, 62, "starts 0, 16, ..., 976 are < n − T − 1 = 983")
        let expected = (0 ..< windows).map { $0 * t }
        // Enough batches for three epochs; windows are read in global order k·B + j.
        let starts = (0 ..< (3 * windows + b - 1) / b).flatMap { batcher.windowStarts(batch: $0) }
        let epochs = (0 ..< 3).map { Array(starts[$0 * windows ..< ($0 + 1) * windows]) }
        for epoch in epochs { XCTAssertEqual(epoch.sorted(), expected) }
        XCTAssertNotEqual(epochs[0], expected, "shuffled, not sequential")
        XCTAssertNotEqual(epochs[0], epochs[1], "each epoch has its own order")
        // Inputs/targets come from the shuffled starts.
        let batch = batcher.batch(3)
        for (row, s) in batch.starts.enumerated() {
            XCTAssertEqual(batch.inputs[row * t], token(s))
            XCTAssertEqual(batch.targets[row * t + t - 1], token(s + t))
        }
        // Same seed → same order; another seed → another order.
        let replay = try Batcher(shard: try shard(count: n), batchSize: b, sequenceLength: t, shuffleSeed: 42)
        XCTAssertEqual((0 ..< 40).map { replay.batch($0) }, (0 ..< 40).map { batcher.batch($0) })
        let other = try Batcher(shard: try shard(count: n), batchSize: b, sequenceLength: t, shuffleSeed: 43)
        XCTAssertNotEqual((0 ..< 12).flatMap { other.windowStarts(batch: $0) }, Array(epochs[0][0 ..< 60]))
    }

    func testCursorRoundTripsThroughJSONAndResumesExactly() throws {
        let seed: UInt64 = .max - 12_345  // above 2^53: must survive JSON exactly
        let original = try Batcher(shard: try shard(count: 777), batchSize: 3, sequenceLength: 10, shuffleSeed: seed)
        for _ in 0 ..< 37 { _ = original.next() }
        let data = try JSONEncoder().encode(original.cursor)
        let decoded = try JSONDecoder().decode(BatchCursor.self, from: data)
        XCTAssertEqual(decoded, original.cursor)
        XCTAssertEqual(decoded.shuffleSeed, seed)

        let resumed = try Batcher(shard: try shard(count: 777), batchSize: 3, sequenceLength: 10, shuffleSeed: seed)
        try resumed.restore(decoded)
        for _ in 0 ..< 50 { XCTAssertEqual(resumed.next(), original.next()) }

        // A cursor from other settings is refused.
        let sequential = try Batcher(shard: try shard(count: 777), batchSize: 3, sequenceLength: 10)
        XCTAssertNotNil(textDataError { try sequential.restore(decoded) })
        let otherLength = try Batcher(shard: try shard(count: 777), batchSize: 3, sequenceLength: 11, shuffleSeed: seed)
        XCTAssertNotNil(textDataError { try otherLength.restore(decoded) })
        let sequentialCursor = sequential.cursor
        XCTAssertEqual(try JSONDecoder().decode(BatchCursor.self, from: try JSONEncoder().encode(sequentialCursor)), sequentialCursor)
    }
}
