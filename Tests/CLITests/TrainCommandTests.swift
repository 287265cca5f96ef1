// `swift-train train / eval / sample` through the built binary: bad input ends with a
// message naming the flag, key or file and a non-zero exit (never a trap), and a tiny real
// run trains, checkpoints, evaluates and samples.
import Foundation
import XCTest

final class TrainCommandTests: XCTestCase {
    func assertError(_ args: [String], contains needles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLIRunner.run(args)
        XCTAssertTrue(r.exited, "trapped: \(r.err)", file: file, line: line)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        for n in needles { XCTAssertTrue(r.err.contains(n), "expected \"\(n)\" in: \(r.err)", file: file, line: line) }
    }

    func testUnknownFlagSuggestsTheRightOne() throws {
        try assertError(["train", "--config", "configs/llama-tiny.json", "--learning-rate", "0.1"], contains: ["--learning-rate"])
        try assertError(["train", "--config", "configs/llama-tiny.json", "--warmup-step", "3"], contains: ["did you mean --warmup-steps"])
    }

    func testBadValuesNameTheFlag() throws {
        try assertError(["train", "--config", "configs/llama-tiny.json", "--lr", "-1"], contains: ["--lr must be > 0"])
        try assertError(["train", "--config", "configs/llama-tiny.json", "--steps", "ten"], contains: ["--steps needs an integer"])
        try assertError(["train", "--config", "configs/llama-tiny.json", "--optimizer", "adamw8"], contains: ["unknown optimizer", "adamw, sgd"])
        try assertError(["train", "--config", "configs/does-not-exist.json"], contains: ["does-not-exist.json"])
        try assertError(["train", "--config", "configs/llama-tiny.json", "--data", "/nonexistent/data"], contains: ["/nonexistent/data", "swift-train prepare"])
        try assertError(["eval", "--checkpoint", "/nonexistent/run"], contains: ["/nonexistent/run", "no checkpoint"])
    }

    func testBadConfigFileNamesTheKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"model": {"vocab_size": 64, "hidden_size": 30, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4}, "data": "x"}"#.utf8).write(to: bad)
        try assertError(["train", "--config", bad.path], contains: ["hidden_size", "not divisible"])
        try Data(#"{"batch_sise": 4}"#.utf8).write(to: bad)
        try assertError(["train", "--config", bad.path], contains: ["bad.json", "did you mean \"batch_size\""])
    }

    func testHelpListsEverySetting() throws {
        let r = try CLIRunner.run(["train", "--help"])
        XCTAssertEqual(r.status, 0)
        for flag in ["--lr", "--warmup-steps", "--grad-accum", "--checkpoint-every", "--init-from", "--resume", "adamw", "sgd"] {
            XCTAssertTrue(r.out.contains(flag), "help lacks \(flag)")
        }
    }

    /// prepare → train (interrupted by SIGINT) → resume → eval → sample, on generated text.
    func testTinyRunEndToEndWithInterruptAndResume() throws {
        let dir = try CLIRunner.preparedCorpus("cli-e2e", seed: 1)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"vocab_size": 300, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64}"#.utf8)
            .write(to: dir.appendingPathComponent("model.json"))
        let args = ["train", "--model", "model.json", "--data", "data", "--out", "run", "--steps", "400",
                    "--batch-size", "2", "--seq-len", "16", "--lr", "0.003", "--log-every", "1", "--eval-batches", "2"]
        // Interrupt a long run once it has logged a few steps.
        let p = Process()
        p.executableURL = try CLIRunner.binary()
        p.arguments = args
        p.currentDirectoryURL = dir
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let metrics = dir.appendingPathComponent("run/metrics.jsonl")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let lines = ((try? String(contentsOf: metrics, encoding: .utf8)) ?? "").split(separator: "\n").count
            if lines >= 3 { break }
            usleep(20_000)
        }
        p.interrupt()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130, "SIGINT exits 130 after checkpointing")
        let ckpts = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("run/checkpoints").path)
        XCTAssertEqual(ckpts.filter { $0.hasPrefix("step-") }.count, 1, "\(ckpts)")
        XCTAssertFalse(ckpts.contains { $0.hasPrefix(".tmp") })
        let stopped = try XCTUnwrap(Int(try XCTUnwrap(ckpts.first).dropFirst("step-".count)))
        XCTAssertLessThan(stopped, 400)
        let total = stopped + 5
        let resumed = try CLIRunner.run(["train", "--resume", "run", "--steps", "\(total)"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertTrue(resumed.out.contains("done: \(total) steps"), resumed.out)
        let steps = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n").filter { $0.contains("\"loss\"") }
        XCTAssertEqual(steps.count, total, "each step logged exactly once across the interrupt")
        let eval = try CLIRunner.run(["eval", "--checkpoint", "run"], in: dir)
        XCTAssertEqual(eval.status, 0, eval.err)
        XCTAssertTrue(eval.out.contains("val loss"), eval.out)
        let sample = try CLIRunner.run(["sample", "--checkpoint", "run", "--prompt", "in the", "--tokens", "5"], in: dir)
        XCTAssertEqual(sample.status, 0, sample.err)
        XCTAssertTrue(sample.out.hasPrefix("in the"), sample.out)
    }
}
