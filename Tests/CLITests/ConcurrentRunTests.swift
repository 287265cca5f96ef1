// Two processes on one run folder: while a run trains, a second `train` into the same
// --out (new or --resume) is refused with the holder's PID and nothing of the first run is
// touched; once the first stops (SIGTERM: it checkpoints and exits 143), resuming works.
import Foundation
import XCTest

final class ConcurrentRunTests: XCTestCase {
    func testASecondProcessOnARunningFolderIsRefusedNamingThePID() throws {
        let dir = try CLIRunner.preparedCorpus("concurrent", seed: 13)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = CLIRunner.microModel
        let common = ["--model", model, "--data", "data", "--batch-size", "4", "--seq-len", "32", "--eval-batches", "0",
                      "--threads", "1", "--log-every", "1", "--checkpoint-every", "5"]
        let first = Process()
        first.executableURL = try CLIRunner.binary()
        first.arguments = ["train"] + common + ["--steps", "100000", "--out", "run"]
        first.currentDirectoryURL = dir
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        // Wait until the first run has written a checkpoint (so --resume finds one).
        let metrics = dir.appendingPathComponent("run/metrics.jsonl")
        let checkpoints = dir.appendingPathComponent("run/checkpoints")
        let deadline = Date().addingTimeInterval(60)
        while !(((try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []).contains { $0.hasPrefix("step-") })
                && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertTrue(first.isRunning, "the first run ended early")
        let before = try Data(contentsOf: metrics).count

        for args in [["train"] + common + ["--steps", "5", "--out", "run", "--overwrite"], ["train", "--resume", "run", "--steps", "100000"]] {
            let second = try CLIRunner.run(args, in: dir)
            XCTAssertTrue(second.exited, "trapped: \(second.err)")
            XCTAssertNotEqual(second.status, 0, "\(args)")
            XCTAssertTrue(second.err.contains("\(first.processIdentifier)"), "the message names the holder's PID: \(second.err)")
        }
        XCTAssertTrue(first.isRunning)
        XCTAssertGreaterThanOrEqual(try Data(contentsOf: metrics).count, before, "the first run's metrics were cut")

        kill(first.processIdentifier, SIGTERM)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationReason, .exit)
        XCTAssertEqual(first.terminationStatus, 143)
        let resumed = try CLIRunner.run(["train", "--resume", "run", "--steps", "3"], in: dir)
        // The interrupted run is past step 3 or not; either way the folder is usable again.
        XCTAssertTrue(resumed.exited, resumed.err)
        XCTAssertTrue(resumed.status == 0 || resumed.err.contains("below the checkpoint's step"), resumed.err)
    }
}
