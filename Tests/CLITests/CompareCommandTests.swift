// `swift-train compare` end to end on a micro config: the table has every column for every
// run, the SVGs hold a path per run, a diverging run is marked and does not stop the others,
// and an interrupted comparison continues with --resume.
import Foundation
import XCTest

final class CompareCommandTests: XCTestCase {
    /// A prepared corpus and a micro run config in a fresh folder.
    func fixture() throws -> URL {
        let dir = try CLIRunner.preparedCorpus("cmp", seed: 7)
        try Data("""
        {"model": {"vocab_size": 300, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64},
         "data": "data", "optimizer": "adamw", "lr": 0.003, "batch_size": 2, "seq_len": 16, "log_every": 1, "eval_every": 10, "eval_batches": 2,
         "warmup_steps": 2, "seed": 3}
        """.utf8).write(to: dir.appendingPathComponent("micro.json"))
        return dir
    }

    func testCompareWritesTheTableAndPlotsAndMarksADivergingRun() throws {
        let dir = try fixture()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIRunner.run(["compare", "--config", "micro.json", "--optimizers", "adamw,lion-slow=lion:lr=0.0003,boom=sgd:lr=1e5",
                                   "--set", "adamw.beta2=0.95", "--steps", "30", "--out", "cmp"], in: dir)
        XCTAssertTrue(r.exited, r.err)
        XCTAssertEqual(r.status, 0, r.err + r.out)
        let plan = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("cmp/compare.json"))) as! [String: Any]
        let runs = plan["runs"] as! [[String: Any]]
        XCTAssertEqual(runs.map { $0["label"] as! String }, ["adamw", "lion-slow", "boom"])
        XCTAssertEqual(runs.map { $0["status"] as! String }, ["done", "done", "diverged"])
        XCTAssertEqual((runs[0]["settings"] as! [String: String])["beta2"], "0.95")
        let md = try String(contentsOf: dir.appendingPathComponent("cmp/compare.md"), encoding: .utf8)
        let rows = md.split(separator: "\n").filter { $0.hasPrefix("| adamw |") || $0.hasPrefix("| lion-slow |") }
        XCTAssertEqual(rows.count, 2, md)
        for row in rows {
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            XCTAssertEqual(cells.count, 11, String(row))
            XCTAssertFalse(cells.contains("—"), "every column filled: \(row)")
        }
        XCTAssertTrue(md.contains("| adamw | adamw | done |") && md.contains("| 1.00 |"), "AdamW's ratio to itself is 1: \(md)")
        for name in ["loss.svg", "val.svg", "pareto.svg"] {
            let svg = try String(contentsOf: dir.appendingPathComponent("cmp/" + name), encoding: .utf8)
            XCTAssertTrue(svg.hasPrefix("<") && svg.contains("</svg>"), name)
            XCTAssertTrue(svg.contains("adamw") && svg.contains("lion-slow"), "\(name) labels every finished run")
        }
        let loss = try String(contentsOf: dir.appendingPathComponent("cmp/loss.svg"), encoding: .utf8)
        XCTAssertEqual(loss.components(separatedBy: "class=\"series\"").count - 1, 2, "a path per finished run")
        XCTAssertTrue(loss.contains("not shown: boom"), "the diverged run is named, not drawn")
        let pareto = try String(contentsOf: dir.appendingPathComponent("cmp/pareto.svg"), encoding: .utf8)
        XCTAssertEqual(pareto.components(separatedBy: "<circle").count - 1, 2, "a point per finished run")
        XCTAssertTrue(r.out.contains("diverged"), r.out)
    }

    /// A run that fails (not one that diverges) makes the comparison end with status 1 after
    /// writing the report of the others.
    func testAFailedRunEndsWithStatusOneAfterTheReport() throws {
        let dir = try fixture()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIRunner.run(["compare", "--config", "micro.json", "--optimizers", "adamw,bad=adamw:beta1=7",
                                   "--steps", "2", "--out", "cmp"], in: dir)
        XCTAssertTrue(r.exited, r.err)
        XCTAssertEqual(r.status, 1, r.err + r.out)
        XCTAssertTrue(r.err.contains("1 of 2 runs failed (bad)"), r.err)
        let md = try String(contentsOf: dir.appendingPathComponent("cmp/compare.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("| adamw | adamw | done |") && md.contains("| bad | adamw | failed |"), md)
    }

    /// A run started by compare (which names itself in SWIFT_TRAIN_PARENT_PID) stops with a
    /// checkpoint when compare dies without stopping it, instead of running on orphaned.
    func testARunWhoseParentDiesStopsWithACheckpoint() throws {
        let dir = try fixture()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bin = try CLIRunner.binary().path
        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: "/bin/sh")
        parent.arguments = ["-c", "SWIFT_TRAIN_PARENT_PID=$$ '\(bin)' train --config micro.json --steps 1000000 --out run "
                            + "> train.log 2>&1 & echo $! > child.pid; wait"]
        parent.currentDirectoryURL = dir
        try parent.run()
        let pidFile = dir.appendingPathComponent("child.pid"), metrics = dir.appendingPathComponent("run/metrics.jsonl")
        let start = Date()
        while Date().timeIntervalSince(start) < 60,
              (try? String(contentsOf: metrics, encoding: .utf8))?.contains("\"step\": 3,") != true { usleep(100_000) }
        let child = try XCTUnwrap(pid_t(String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(parent.processIdentifier, SIGKILL)
        parent.waitUntilExit()
        let killed = Date()
        while Date().timeIntervalSince(killed) < 30, kill(child, 0) == 0 { usleep(100_000) }
        XCTAssertNotEqual(kill(child, 0), 0, "the orphaned run is still running")
        if kill(child, 0) == 0 { kill(child, SIGKILL) }
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("run/checkpoints").path)
        XCTAssertTrue(checkpoints.contains { $0.hasPrefix("step-") }, "\(checkpoints)")
    }

    func testInterruptedCompareResumes() throws {
        let dir = try fixture()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = Process()
        p.executableURL = try CLIRunner.binary()
        p.arguments = ["compare", "--config", "micro.json", "--optimizers", "adamw,lion", "--steps", "400", "--out", "cmp"]
        p.currentDirectoryURL = dir
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let metrics = dir.appendingPathComponent("cmp/adamw/metrics.jsonl")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if ((try? String(contentsOf: metrics, encoding: .utf8)) ?? "").split(separator: "\n").count >= 3 { break }
            usleep(20_000)
        }
        p.interrupt()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130)
        let before = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("cmp/compare.json"))) as! [String: Any]
        XCTAssertEqual((before["runs"] as! [[String: Any]]).map { $0["status"] as! String }, ["interrupted", "pending"])
        let resumed = try CLIRunner.run(["compare", "--resume", "cmp"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.err + resumed.out)
        let after = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("cmp/compare.json"))) as! [String: Any]
        XCTAssertEqual((after["runs"] as! [[String: Any]]).map { $0["status"] as! String }, ["done", "done"])
        let steps = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n").filter { $0.contains("\"loss\"") }
        XCTAssertEqual(steps.count, 400, "each step of the interrupted run logged once")
        let again = try CLIRunner.run(["compare", "--config", "micro.json", "--optimizers", "adamw", "--steps", "5", "--out", "cmp"], in: dir)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.err.contains("--resume"), again.err)
    }
}
