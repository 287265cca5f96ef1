// Data-parallel training under `mpirun -np 2` (skipped without Open MPI): the 2-rank loss
// follows the 1-rank loss of the same global batch at every step for many optimizers, each
// rank holds about half of the optimizer state, a 2-rank resume is bit-identical and a
// 2 → 1 rank resume continues the curve, a failing or stopped rank ends the job naming it,
// and SIGTERM to mpirun leaves one checkpoint that resumes.
import Foundation
import XCTest

final class DataParallelTests: XCTestCase {
    func common(_ out: String, steps: Int, _ extra: [String] = []) -> [String] {
        ["train", "--model", CLIRunner.microModel, "--data", "data", "--batch-size", "4", "--seq-len", "32",
         "--eval-batches", "0", "--threads", "1", "--log-every", "1", "--lr", "3e-3", "--warmup-steps", "2",
         "--steps", "\(steps)", "--out", out] + extra
    }

    /// Largest relative difference of the two runs' losses, over the steps of `a` (which
    /// must all be in `b`).
    func worstRelative(_ a: [Int: [String: Any]], _ b: [Int: [String: Any]]) -> Double {
        a.keys.map { s in
            let x = a[s]!["loss"] as! Double, y = (b[s]?["loss"] as? Double) ?? .infinity
            return abs(x - y) / abs(x)
        }.max() ?? .infinity
    }

    /// The largest state one parameter has in a checkpoint's optimizer.safetensors.
    func largestParameterState(_ checkpoint: URL) throws -> Int {
        let data = try Data(contentsOf: checkpoint.appendingPathComponent("optimizer.safetensors"))
        let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
        var perParameter: [String: Int] = [:]
        for (name, v) in header where name != "__metadata__" {
            let offsets = (v as! [String: Any])["data_offsets"] as! [Int]
            perParameter[String(name.prefix { $0 != "/" }), default: 0] += offsets[1] - offsets[0]
        }
        return perParameter.values.max() ?? 0
    }

    func testTwoRanksFollowTheOneRankCurveForEachOptimizer() throws {
        _ = try MPIRunner.mpirun()
        let dir = try CLIRunner.preparedCorpus("dp-curve", seed: 21)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, Int, [String])] = [
            ("adamw", 30, []),
            ("adamw-accum", 10, ["--optimizer", "adamw", "--batch-size", "2", "--grad-accum", "3"]),  // 1-sequence micro-batches
            ("adamw-8bit", 10, ["--optimizer", "adamw", "--state-bits", "8"]),
            ("sgd", 10, ["--optimizer", "sgd", "--lr", "1e-1"]),
            ("adafactor", 10, ["--optimizer", "adafactor"]),
            ("lion", 10, ["--optimizer", "lion", "--lr", "3e-4"]),
            ("cadamw", 10, ["--optimizer", "cadamw"]),
            ("adam-mini", 10, ["--optimizer", "adam-mini"]),
            ("muon", 10, ["--optimizer", "muon", "--lr", "2e-2"]),
            ("galore", 10, ["--optimizer", "galore", "--rank", "8", "--update-proj-gap", "5"]),
            ("fira", 10, ["--optimizer", "fira", "--rank", "8", "--update-proj-gap", "5"]),
            ("apollo-mini", 10, ["--optimizer", "apollo-mini"]),
            ("racs", 10, ["--optimizer", "racs"]),
            ("alice", 10, ["--optimizer", "alice", "--rank", "8"]),
        ]
        for (name, steps, extra) in cases {
            let one = try CLIRunner.run(common("one-\(name)", steps: steps, extra), in: dir)
            XCTAssertEqual(one.status, 0, "\(name) 1 rank: \(one.err)")
            let two = try MPIRunner.run(ranks: 2, common("two-\(name)", steps: steps, extra), in: dir)
            XCTAssertEqual(two.status, 0, "\(name) 2 ranks: \(two.err)")
            let a = try MPIRunner.lossLines(dir.appendingPathComponent("one-\(name)/metrics.jsonl"))
            let b = try MPIRunner.lossLines(dir.appendingPathComponent("two-\(name)/metrics.jsonl"))
            XCTAssertEqual(a.count, steps, name)
            XCTAssertEqual(b.count, steps, name)
            XCTAssertLessThanOrEqual(worstRelative(a, b), 1e-5, "\(name): the 2-rank loss left the 1-rank loss")
            // ZeRO-1: each rank about half of the state (± one parameter's), the sum all of it.
            let total = a[steps]!["opt_state_bytes"] as! Int
            XCTAssertEqual(b[steps]!["opt_state_bytes_total"] as? Int, total, name)
            let largest = b[steps]!["opt_state_bytes"] as! Int
            let checkpoint = dir.appendingPathComponent("one-\(name)/checkpoints").appendingPathComponent(String(format: "step-%08d", steps))
            let oneParameter = try largestParameterState(checkpoint)
            XCTAssertLessThanOrEqual(abs(largest - total / 2), oneParameter, "\(name): \(largest) of \(total) bytes on the largest rank")
            if total > 0 { XCTAssertLessThan(largest, total, name) }
            XCTAssertEqual(b[steps]!["ranks"] as? Int, 2)
            // The checkpoint's optimizer file is the one a single process writes: same names, shapes, sizes.
            let two0 = dir.appendingPathComponent("two-\(name)/checkpoints").appendingPathComponent(String(format: "step-%08d", steps))
            XCTAssertEqual(try largestParameterState(two0), oneParameter, name)
        }
    }

    /// Copies run folder `from` to `to` without its newest checkpoint (so a resume starts
    /// from the one before).
    func copyWithoutNewestCheckpoint(_ dir: URL, from: String, to: String, newest: Int) throws {
        let fm = FileManager.default
        try fm.copyItem(at: dir.appendingPathComponent(from), to: dir.appendingPathComponent(to))
        try fm.removeItem(at: dir.appendingPathComponent(to).appendingPathComponent("checkpoints/" + String(format: "step-%08d", newest)))
    }

    func testResumeWithTwoRanksIsBitIdenticalAndWithOneRankContinuesTheCurve() throws {
        _ = try MPIRunner.mpirun()
        let dir = try CLIRunner.preparedCorpus("dp-resume", seed: 22)
        defer { try? FileManager.default.removeItem(at: dir) }
        let full = try MPIRunner.run(ranks: 2, common("full", steps: 30, ["--checkpoint-every", "10", "--optimizer", "adamw"]), in: dir)
        XCTAssertEqual(full.status, 0, full.err)
        try copyWithoutNewestCheckpoint(dir, from: "full", to: "again", newest: 30)
        try copyWithoutNewestCheckpoint(dir, from: "full", to: "single", newest: 30)
        let again = try MPIRunner.run(ranks: 2, ["train", "--resume", "again"], in: dir)
        XCTAssertEqual(again.status, 0, again.err)
        let single = try CLIRunner.run(["train", "--resume", "single", "--threads", "1"], in: dir)
        XCTAssertEqual(single.status, 0, single.err)
        XCTAssertTrue(single.out.contains("written by 2 rank(s), this run has 1"), single.out)
        XCTAssertTrue(single.out.contains("float reassociation"), single.out)
        let a = try MPIRunner.lossLines(dir.appendingPathComponent("full/metrics.jsonl"))
        let b = try MPIRunner.lossLines(dir.appendingPathComponent("again/metrics.jsonl"))
        let c = try MPIRunner.lossLines(dir.appendingPathComponent("single/metrics.jsonl"))
        XCTAssertEqual(b.count, 30)
        for s in 21...30 {
            XCTAssertEqual(a[s]?["loss"] as? Double, b[s]?["loss"] as? Double, "step \(s): a 2-rank resume is bit-identical")
        }
        XCTAssertLessThanOrEqual(worstRelative(a, c), 1e-5, "2 → 1 rank resume continues the curve")
        // The resumed checkpoints are identical files too.
        let last = "checkpoints/" + String(format: "step-%08d", 30)
        for file in ["model.safetensors", "optimizer.safetensors"] {
            XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("full/\(last)/\(file)")),
                           try Data(contentsOf: dir.appendingPathComponent("again/\(last)/\(file)")), file)
        }
    }

    func testAFailingRankEndsEveryRankNamingIt() throws {
        _ = try MPIRunner.mpirun()
        let dir = try CLIRunner.preparedCorpus("dp-fail", seed: 23)
        defer { try? FileManager.default.removeItem(at: dir) }
        // Rank 1 alone sees a damaged data folder (a shard with a torn header).
        try FileManager.default.copyItem(at: dir.appendingPathComponent("data"), to: dir.appendingPathComponent("data-rank1"))
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent("data-rank1/train.bin"))
        let script = dir.appendingPathComponent("rank.sh")
        let args = common("run", steps: 50).dropFirst().map { "'\($0)'" }.joined(separator: " ")
        try """
        #!/bin/sh
        if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec '\(try CLIRunner.binary().path)' train \(args) --data data-rank1; fi
        exec '\(try CLIRunner.binary().path)' train \(args)
        """.write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        let start = Date()
        let r = try MPIRunner.run(ranks: 2, [], in: dir, command: script)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("rank 1 of 2"), r.err)
        XCTAssertTrue(r.err.contains("data-rank1/train.bin"), "the cause is named: \(r.err)")
        XCTAssertLessThan(Date().timeIntervalSince(start), 60)
    }

    func testAStoppedRankEndsTheJobWithinTheTimeout() throws {
        _ = try MPIRunner.mpirun()
        let dir = try CLIRunner.preparedCorpus("dp-hang", seed: 24)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = try MPIRunner.rankOneRecordingCommand(in: dir)
        let p = try MPIRunner.process(ranks: 2, common("run", steps: 100000, ["--mpi-timeout", "3"]), in: dir, command: script)
        let errURL = dir.appendingPathComponent("err.txt")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: errURL)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        let metrics = dir.appendingPathComponent("run/metrics.jsonl")
        var deadline = Date().addingTimeInterval(60)
        while ((try? Data(contentsOf: metrics))?.count ?? 0) == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let pid = Int32(try String(contentsOf: dir.appendingPathComponent("rank1.pid"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        kill(pid, SIGSTOP)  // rank 1 stops answering (as a hung or partitioned host)
        let stopped = Date()
        deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertFalse(p.isRunning, "the job still runs 60 s after a rank stopped")
        XCTAssertLessThan(Date().timeIntervalSince(stopped), 30, "mpi_timeout 3 s")
        XCTAssertNotEqual(p.terminationStatus, 0)
        let err = try String(contentsOf: errURL, encoding: .utf8)
        XCTAssertTrue(err.contains("rank 0 of 2") && err.contains("no answer from the other ranks for 3 s"), err)
    }

    func testSIGTERMToMPIRunCheckpointsOnceAndTheRunResumes() throws {
        _ = try MPIRunner.mpirun()
        let dir = try CLIRunner.preparedCorpus("dp-term", seed: 25)
        defer { try? FileManager.default.removeItem(at: dir) }
        // One line per 20 steps: ranks write their output through mpirun, which stops reading
        // it while it shuts down, so a rank printing thousands of lines a second could block.
        let p = try MPIRunner.process(ranks: 2, common("run", steps: 100000, ["--log-every", "20"]), in: dir)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let metrics = dir.appendingPathComponent("run/metrics.jsonl")
        let deadline = Date().addingTimeInterval(60)
        while (try? MPIRunner.lossLines(metrics).count) ?? 0 < 5 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("run/checkpoints").path)
            .filter { $0.hasPrefix("step-") }
        XCTAssertEqual(checkpoints.count, 1, "one checkpoint, written on the signal: \(checkpoints)")
        let logged = try MPIRunner.lossLines(metrics).keys.max()!
        let step = Int(checkpoints.first!.dropFirst("step-".count))!
        XCTAssertGreaterThanOrEqual(step, logged, "the checkpoint is of the last step done")
        let resumed = try MPIRunner.run(ranks: 2, ["train", "--resume", "run", "--steps", "\(step + 3)", "--log-every", "1"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertEqual(try MPIRunner.lossLines(metrics).keys.max(), step + 3)
    }

    /// Two "hosts" (network namespaces joined by a veth pair, scripts/mpi-two-hosts.sh), one
    /// rank on each: the run trains and its traffic crosses the link. Needs root and
    /// network namespaces; skipped with a message where they are not allowed.
    func testTwoHostsOverAVethLink() throws {
        _ = try MPIRunner.mpirun()
        guard getuid() == 0 else { throw XCTSkip("the two-host test makes network namespaces, which needs root") }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/bin/sh")
        probe.arguments = ["-c", "ip netns add swtrain-probe && ip netns del swtrain-probe"]
        probe.standardError = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        guard probe.terminationStatus == 0 else { throw XCTSkip("network namespaces cannot be made here (ip netns add failed)") }
        let dir = try CLIRunner.preparedCorpus("dp-hosts", seed: 26)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/bin/bash")
        script.arguments = [CLIRunner.root.appendingPathComponent("scripts/mpi-two-hosts.sh").path,
                            "--model", CLIRunner.microModel, "--data", dir.appendingPathComponent("data").path,
                            "--batch-size", "4", "--seq-len", "32", "--eval-batches", "0", "--steps", "10"]
        script.environment = ProcessInfo.processInfo.environment.merging(["MIN_MB": "1"]) { $1 }
        let out = dir.appendingPathComponent("hosts.log")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        script.standardOutput = try FileHandle(forWritingTo: out)
        script.standardError = script.standardOutput
        try script.run()
        script.waitUntilExit()
        let log = try String(contentsOf: out, encoding: .utf8)
        XCTAssertEqual(script.terminationStatus, 0, log)
        XCTAssertTrue(log.contains("OK: 2 ranks on 2 network namespaces"), log)
        XCTAssertTrue(log.contains("done: 10 steps"), log)
    }

    /// `memory --ranks 2` gives one rank's figures: the largest rank's optimizer state of the
    /// run (opt_state_bytes), the ranks' states summing to the run's total, and a predicted
    /// peak (plus Open MPI's own memory, which the run measures) within 15% of rank 0's peak RSS.
    func testMemoryWithRanksPredictsOneRankOfTheRun() throws {
        _ = try MPIRunner.mpirun()
        let dir = try CLIRunner.preparedCorpus("dp-memory", seed: 27)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = CLIRunner.root.appendingPathComponent("configs/llama-tiny.json").path
        let run = try MPIRunner.run(ranks: 2, ["train", "--config", config, "--data", "data", "--steps", "4", "--eval-batches", "0",
                                                "--eval-every", "0", "--threads", "1", "--out", "run"], in: dir)
        XCTAssertEqual(run.status, 0, run.err)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("run/summary.json"))) as! [String: Any]
        let last = try MPIRunner.lossLines(dir.appendingPathComponent("run/metrics.jsonl")).sorted { $0.key < $1.key }.last!.value
        let memory = try CLIRunner.run(["memory", "--config", config, "--ranks", "2", "--threads", "1", "--json"], in: dir)
        XCTAssertEqual(memory.status, 0, memory.err)
        let object = try JSONSerialization.jsonObject(with: Data(memory.out.utf8)) as! [String: Any]
        let row = (object["rows"] as! [[String: Any]])[0]
        let perRank = row["optimizer_state_bytes_per_rank"] as! [Int]
        XCTAssertEqual(perRank.count, 2)
        XCTAssertEqual(row["optimizer_state_bytes"] as? Int, last["opt_state_bytes"] as? Int)
        XCTAssertEqual(perRank.reduce(0, +), last["opt_state_bytes_total"] as? Int)
        XCTAssertEqual(summary["ranks"] as? Int, 2)
        // Open MPI's own memory is measured by the run (mpi_runtime_bytes), not predicted.
        let mpi = (summary["mpi_runtime_bytes"] as! NSNumber).doubleValue
        XCTAssertGreaterThan(mpi, 0)
        let measured = (summary["peak_rss_bytes"] as! NSNumber).doubleValue
        let predicted = (row["total_bytes"] as! NSNumber).doubleValue + mpi
        XCTAssertEqual(predicted, measured, accuracy: 0.15 * measured, "predicted \(predicted) (with Open MPI's \(mpi)), rank 0 measured \(measured)")
        let refused = try CLIRunner.run(["memory", "--config", config, "--ranks", "3"], in: dir)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("16 sequences"), refused.err)
    }

    /// SIGKILL of rank 1 at three moments, each followed by a 2-rank resume: the losses and
    /// the final optimizer state are those of the uninterrupted run, bit for bit.
    func testRepeatedKillsOfARankThenResumeGiveTheUninterruptedRun() throws {
        _ = try MPIRunner.mpirun()
        let dir = try CLIRunner.preparedCorpus("dp-kill", seed: 28)
        defer { try? FileManager.default.removeItem(at: dir) }
        let steps = 1500
        let args = common("full", steps: steps, ["--checkpoint-every", "7"])
        let full = try MPIRunner.run(ranks: 2, args, in: dir)
        XCTAssertEqual(full.status, 0, full.err)
        let script = try MPIRunner.rankOneRecordingCommand(in: dir)
        var arguments = args.map { $0 == "full" ? "killed" : $0 }
        for delay in [0.8, 1.2, 1.0] {
            let p = try MPIRunner.process(ranks: 2, arguments, in: dir, command: script)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("rank1.pid"))
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            if let text = try? String(contentsOf: dir.appendingPathComponent("rank1.pid"), encoding: .utf8),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) { kill(pid, SIGKILL) }
            p.waitUntilExit()
            arguments = ["train", "--resume", "killed"]
        }
        let last = try MPIRunner.run(ranks: 2, ["train", "--resume", "killed"], in: dir)
        XCTAssertEqual(last.status, 0, last.err)
        let a = try MPIRunner.lossLines(dir.appendingPathComponent("full/metrics.jsonl"))
        let b = try MPIRunner.lossLines(dir.appendingPathComponent("killed/metrics.jsonl"))
        XCTAssertEqual(b.count, steps)
        XCTAssertEqual(worstRelative(a, b), 0, "the killed and resumed run is the uninterrupted one")
        let final = "checkpoints/" + String(format: "step-%08d", steps) + "/optimizer.safetensors"
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("full/" + final)),
                       try Data(contentsOf: dir.appendingPathComponent("killed/" + final)))
    }
}
