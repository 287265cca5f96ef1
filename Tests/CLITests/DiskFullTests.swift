// A full disk: on a small tmpfs (mounted by the test where it may, skipped otherwise) a run
// whose metrics log or checkpoint no longer fits ends with exit 1 and a message naming the
// file — never a trap — and metrics.jsonl keeps only whole lines.
import Foundation
import XCTest

final class DiskFullTests: XCTestCase {
    func testAFullDiskEndsTheRunCleanlyWithWholeMetricsLines() throws {
        let corpus = try CLIRunner.preparedCorpus("disk-full", seed: 13)
        defer { try? FileManager.default.removeItem(at: corpus) }
        let mountPoint = corpus.appendingPathComponent("small-disk")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint.path]
        mount.standardError = FileHandle.nullDevice
        guard (try? mount.run()) != nil else { throw XCTSkip("cannot run mount; the full-disk test needs a tmpfs") }
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else { throw XCTSkip("mounting a tmpfs needs root; full-disk test skipped") }
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [mountPoint.path]
            try? umount.run()
            umount.waitUntilExit()
        }
        // Leave about 40 KiB free.
        try Data(count: 1_048_576 - 40 * 1024).write(to: mountPoint.appendingPathComponent("filler"))
        let model = #"{"vocab_size": 320, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64}"#
        let r = try CLIRunner.run(["train", "--model", model, "--data", "data", "--steps", "2000", "--batch-size", "2",
                                   "--seq-len", "16", "--log-every", "1", "--eval-batches", "0",
                                   "--out", mountPoint.appendingPathComponent("run").path], in: corpus)
        XCTAssertTrue(r.exited, "ended by a signal: \(r.err)")
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("metrics.jsonl") || r.err.contains("checkpoint"), r.err)
        XCTAssertTrue(r.err.contains("disk full") || r.err.contains("No space") || r.err.contains("space"), r.err)
        let log = try Data(contentsOf: mountPoint.appendingPathComponent("run/metrics.jsonl"))
        let lines = log.split(separator: UInt8(ascii: "\n"))
        XCTAssertFalse(lines.isEmpty)
        for line in lines { XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line)), String(decoding: line, as: UTF8.self)) }
        XCTAssertEqual(log.last, UInt8(ascii: "\n"), "the log ends with a whole line")
    }
}
