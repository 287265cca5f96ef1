// SIGKILL at arbitrary moments (during steps, checkpoint writes and pruning, with a
// checkpoint every step): each time, resuming continues from the newest complete checkpoint,
// and the finished run's logged losses equal an uninterrupted run's, bit for bit.
import Foundation
import XCTest

final class KillResumeTests: XCTestCase {
    func testRepeatedKillsThenResumeGiveTheUninterruptedCurve() throws {
        let dir = try CLIRunner.preparedCorpus("kill-resume", seed: 11)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = CLIRunner.microModel
        let common = ["--model", model, "--data", "data", "--steps", "120", "--batch-size", "4", "--seq-len", "32",
                      "--checkpoint-every", "1", "--keep-checkpoints", "2", "--log-every", "1", "--eval-batches", "0",
                      "--threads", "1"]
        let plain = try CLIRunner.run(["train"] + common + ["--out", "plain"], in: dir)
        XCTAssertEqual(plain.status, 0, plain.err)

        let bin = try CLIRunner.binary()
        var kills = 0, finished = false
        for delay in [0.35, 0.2, 0.5, 0.27, 0.43, 0.31, 0.6, 0.22] {
            let hasCheckpoint = FileManager.default.fileExists(atPath: dir.appendingPathComponent("killed/checkpoints").path)
                && ((try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("killed/checkpoints").path)) ?? [])
                    .contains { $0.hasPrefix("step-") }
            let args = hasCheckpoint ? ["train", "--resume", "killed", "--threads", "1"] : ["train"] + common + ["--out", "killed", "--overwrite"]
            let p = Process()
            p.executableURL = bin
            p.arguments = args
            p.currentDirectoryURL = dir
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            if p.isRunning { kill(p.processIdentifier, SIGKILL); kills += 1 }
            p.waitUntilExit()
            if p.terminationReason == .exit && p.terminationStatus == 0 { finished = true; break }
        }
        if !finished {
            let last = try CLIRunner.run(["train", "--resume", "killed", "--threads", "1"], in: dir)
            XCTAssertEqual(last.status, 0, last.err)
        }
        XCTAssertGreaterThan(kills, 0, "the run finished before any kill; the test needs a longer run")
        func losses(_ run: String) throws -> [String] {
            let text = try String(contentsOf: dir.appendingPathComponent("\(run)/metrics.jsonl"), encoding: .utf8)
            return text.split(separator: "\n").filter { $0.contains("\"loss\"") }
                .map { $0.components(separatedBy: "\"tokens_per_s\"")[0] }
        }
        let a = try losses("plain"), b = try losses("killed")
        XCTAssertEqual(a.count, 120)
        XCTAssertEqual(a, b, "after \(kills) kills")
    }
}
