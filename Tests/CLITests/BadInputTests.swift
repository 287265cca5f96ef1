// Bad input through the binary, table-driven: each case must end with exit status 1 (an
// error message, never a signal) and name the culprit — the flag, key or file — in words
// the user can act on. Runs that cannot fit the machine are refused before allocating.
import Foundation
import XCTest

final class BadInputTests: XCTestCase {
    /// A run's checkpoint that no run could have written, and resuming below its step.
    func testDamagedTrainerStateAndStepsBelowTheCheckpointAreRefused() throws {
        let dir = try CLIRunner.preparedCorpus("bad-resume", seed: 3)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = #"{"vocab_size": 320, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 32}"#
        let train = try CLIRunner.run(["train", "--model", model, "--data", "data", "--steps", "3", "--batch-size", "2",
                                       "--seq-len", "16", "--eval-batches", "0", "--out", "run"], in: dir)
        XCTAssertEqual(train.status, 0, train.err)
        let evalHuge = try CLIRunner.run(["eval", "--checkpoint", "run", "--batch-size", "1000000000000"], in: dir)
        XCTAssertEqual(evalHuge.status, 1)
        XCTAssertTrue(evalHuge.err.contains("--batch-size") && evalHuge.err.contains("GiB"), evalHuge.err)
        // A val shard whose ids (targets included) reach past the model's vocabulary of 320.
        let foreign = dir.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        var shard = Data(count: 1024)
        let ids: [UInt16] = (0..<200).map { $0 == 150 ? 4000 : UInt16($0 % 300) }
        shard.withUnsafeMutableBytes { h in
            let p = h.bindMemory(to: Int32.self)
            p[0] = 20240520; p[1] = 1; p[2] = Int32(ids.count)
        }
        for t in ids { withUnsafeBytes(of: t.littleEndian) { shard.append(contentsOf: $0) } }
        try shard.write(to: foreign.appendingPathComponent("val.bin"))
        let evalForeign = try CLIRunner.run(["eval", "--checkpoint", "run", "--data", "foreign", "--batch-size", "1",
                                             "--seq-len", "16", "--batches", "12"], in: dir)
        XCTAssertTrue(evalForeign.exited, evalForeign.err)
        XCTAssertEqual(evalForeign.status, 1)
        XCTAssertTrue(evalForeign.err.contains("val.bin") && evalForeign.err.contains("vocab_size 320"), evalForeign.err)
        // Another optimizer on resume is refused naming both.
        let other = try CLIRunner.run(["train", "--resume", "run", "--steps", "5", "--optimizer", "lion"], in: dir)
        XCTAssertTrue(other.exited && other.status == 1, other.err)
        XCTAssertTrue(other.err.contains("optimizer"), other.err)
        let below = try CLIRunner.run(["train", "--resume", "run", "--steps", "2"], in: dir)
        XCTAssertEqual(below.status, 1)
        XCTAssertTrue(below.err.contains("--steps 2 is below the checkpoint's step 3"), below.err)
        let state = dir.appendingPathComponent("run/checkpoints/step-00000003/trainer_state.json")
        let text = try String(contentsOf: state, encoding: .utf8)
        try text.replacingOccurrences(of: "\"nextBatch\" : 3,", with: "\"nextBatch\" : -7,").write(to: state, atomically: true, encoding: .utf8)
        XCTAssertTrue(try String(contentsOf: state, encoding: .utf8).contains("-7"), "the test edits the field")
        let damaged = try CLIRunner.run(["train", "--resume", "run", "--steps", "5"], in: dir)
        XCTAssertTrue(damaged.exited)
        XCTAssertEqual(damaged.status, 1)
        XCTAssertTrue(damaged.err.contains("nextBatch = -7") && damaged.err.contains("damaged"), damaged.err)
        // A step that is not the folder's.
        try text.replacingOccurrences(of: "\"step\" : 3,", with: "\"step\" : 0,").write(to: state, atomically: true, encoding: .utf8)
        XCTAssertTrue(try String(contentsOf: state, encoding: .utf8).contains("\"step\" : 0,"), "the test edits the field")
        let restarted = try CLIRunner.run(["train", "--resume", "run", "--steps", "5"], in: dir)
        XCTAssertEqual(restarted.status, 1)
        XCTAssertTrue(restarted.err.contains("step = 0 but the checkpoint folder is step-00000003"), restarted.err)
    }

    func testBadInputsEndWithAMessageNamingTheCulprit() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bad-input-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func model(_ extra: String) throws -> String {
            let url = dir.appendingPathComponent("model-\(UUID().uuidString).json")
            try Data(#"{"vocab_size": 64, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2\#(extra)}"#.utf8).write(to: url)
            return url.path
        }
        func nullVocab() throws -> String {
            let url = dir.appendingPathComponent("null-vocab.json")
            try Data(#"{"vocab_size": null, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2}"#.utf8).write(to: url)
            return url.path
        }
        let tiny = CLIRunner.root.appendingPathComponent("configs/llama-tiny.json").path
        let out = dir.appendingPathComponent("run").path
        // A prepared data folder (vocabulary 300), so model checks run after the data's.
        let corpus = try CLIRunner.preparedCorpus("bad-input-data", seed: 5)
        defer { try? FileManager.default.removeItem(at: corpus) }
        let data = corpus.appendingPathComponent("data").path
        func positions(_ n: Int) -> String {
            #"{"vocab_size": 300, "hidden_size": 1024, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": \#(n)}"#
        }
        var cases: [(args: [String], words: [String])] = [
            (["train", "--config", tiny, "--lr", "1e-320", "--out", out], ["--lr", "32-bit float"]),
            (["train", "--config", tiny, "--weight-decay", "1e308", "--out", out], ["--weight-decay", "infinite"]),
            (["train", "--config", tiny, "--threads", "3000000000", "--out", out], ["--threads", "cores"]),
            (["train", "--config", tiny, "--batch-size", "1000000000000", "--out", out], ["GiB", "batch_size"]),
            (["train", "--config", tiny, "--batch-size", "9000000000000000", "--grad-accum", "4000", "--seq-len", "16", "--out", out], ["64-bit"]),
            (["train", "--config", tiny, "--config", tiny], ["--config is given 2 times"]),
            (["train", "--config", tiny, "--threads", "1000", "--out", out], ["--threads", "cores"]),
            (["train", "--config", tiny, "--eps", "1e-50", "--out", out], ["--eps"]),
            (["train", "--config", tiny, "--lr", "1e308", "--out", out], ["--lr"]),
            (["train", "--config", tiny, "--optimizer", "mezo", "--zo-eps", "1e-50", "--out", out], ["--zo-eps"]),
            (["train", "--model", #"{"vocab_size": 32000, "hidden_size": 65536, "intermediate_size": 262144, "num_hidden_layers": 64, "num_attention_heads": 64}"#,
              "--data", "x", "--out", out], ["GiB", "the machine has"]),
            (["train", "--config", tiny, "--out", ""], ["--out is empty"]),
            (["train", "--model", try model(#", "rope_scaling": {"type": "linear", "factor": 2.0}"#), "--data", "x", "--out", out], ["rope_scaling"]),
            (["train", "--model", try model(#", "attention_bias": true"#), "--data", "x", "--out", out], ["attention_bias"]),
            (["train", "--model", try model(#", "mlp_bias": true"#), "--data", "x", "--out", out], ["mlp_bias"]),
            (["train", "--model", try nullVocab(), "--data", "x", "--out", out], ["null \"vocab_size\""]),
            (["train", "--config", tiny, "--per-layer-update", "--out", out], ["per_layer_update", "grad_clip"]),
            (["sample", "--checkpoint", out, "--temperature", "nan"], ["--temperature", "finite"]),
            (["prepare", "--input", "/nonexistent.txt", "--out", out], ["/nonexistent.txt", "no such file"]),
            (["prepare", "--input", tiny, "--out", out, "--vocab-size", "0"], ["--vocab-size"]),
            (["bench", "--config", "/nonexistent.json"], ["/nonexistent.json", "--config"]),
            (["memory", "--config", tiny, "--seq-len", "5000"], ["--seq-len 5000", "max_position_embeddings"]),
            (["eval", "--checkpoint", "/nonexistent"], ["/nonexistent", "no checkpoint"]),
            // Sizes that could not be allocated or counted are refused before anything is built.
            (["train", "--config", tiny, "--grad-accum", "3000000000", "--out", out], ["--grad-accum", "≤ 1048576"]),
            (["train", "--config", tiny, "--optimizer", "adazeta", "--adapter-bottleneck", "9223372036854775807", "--out", out],
             ["--adapter-bottleneck", "≤ 1048576"]),
            (["train", "--config", tiny, "--optimizer", "adazeta", "--adapter-rank", "1000", "--out", out],
             ["rank 1000", "adapter_rank"]),
            (["train", "--model", positions(3_000_000_000), "--data", data, "--out", out], ["max_position_embeddings", "16777216"]),
            (["train", "--model", positions(16_777_216), "--data", data, "--out", out], ["max_position_embeddings", "rotary table"]),
            (["train", "--model", #"{"vocab_size": 64, "hidden_size": 2147483648, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2}"#,
              "--data", "x", "--out", out], ["hidden_size", "65536"]),
            (["memory", "--config", tiny, "--batch-size", "9223372036854775807"], ["64-bit"]),
            (["memory", "--config", tiny, "--batch-size", "1000000"], ["GiB", "batch_size"]),
            (["memory", "--config", tiny, "--threads", "1000000"], ["--threads"]),
            (["eval", "--checkpoint", "/nonexistent", "--threads", "5000"], ["--threads"]),
            (["sample", "--checkpoint", out, "--tokens", "9223372036854775807"], ["--tokens"]),
            // Run labels name folders inside --out, and compare chooses each run's folder itself.
            (["compare", "--config", tiny, "--steps", "2", "--optimizers", "..=adamw", "--out", out], ["label \"..\""]),
            (["compare", "--config", tiny, "--steps", "2", "--optimizers", "a=adamw:out=/tmp/elsewhere", "--out", out], ["sets out"]),
            (["compare", "--config", tiny, "--steps", "2", "--optimizers", "adamw", "--set", "adamw.out=/tmp/x", "--out", out], ["chooses out"]),
            (["prepare", "--input", tiny, "--out", out, "--vocab-size", "2"], ["--vocab-size", "at least 3"]),
            (["train", "--config", dir.path], ["is a folder", "--config"]),
            (["train", "--config", tiny, "--model", positions(1024), "--data", data, "--out", tiny + "/sub"], ["llama-tiny.json is a file, not a folder"]),
        ]
        let dup = dir.appendingPathComponent("dup.json"), broken = dir.appendingPathComponent("broken.json")
        try Data("{\"lr\": 0.1,\n \"lr\": 0.2}".utf8).write(to: dup)
        try Data("{\"lr\": 0.1,\n \"steps\": }".utf8).write(to: broken)
        cases += [
            (["train", "--config", dup.path], ["dup.json", "\"lr\" appears twice", "line 2"]),
            (["train", "--config", broken.path], ["broken.json", "line 2, column 11"]),
            (["train", "--config", tiny, "--data", CLIRunner.root.appendingPathComponent("Package.swift").path, "--out", out], ["is a file"]),
        ]
        // plot's output must be a file (or a link to one, which stays a link).
        let fifo = dir.appendingPathComponent("fifo.svg").path, real = dir.appendingPathComponent("real.svg").path
        let link = dir.appendingPathComponent("link.svg").path, metrics = dir.appendingPathComponent("metrics.jsonl")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        try Data("{\"step\": 1, \"loss\": 5}\n{\"step\": 2, \"loss\": 4}\n".utf8).write(to: metrics)
        try Data("old".utf8).write(to: URL(fileURLWithPath: real))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        cases.append((["plot", metrics.path, "--out", fifo], ["fifo.svg", "not a regular file"]))
        // A FIFO where a data file or the tokenizer should be is refused, not waited on.
        for name in ["train.bin", "tokenizer.model"] {
            let folder = dir.appendingPathComponent("fifo-" + name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for file in ["train.bin", "val.bin", "tokenizer.model"] where file != name {
                try FileManager.default.copyItem(atPath: data + "/" + file, toPath: folder.appendingPathComponent(file).path)
            }
            XCTAssertEqual(mkfifo(folder.appendingPathComponent(name).path, 0o644), 0)
            cases.append((["train", "--config", tiny, "--data", folder.path, "--steps", "1", "--out", out], [name, "regular file"]))
        }
        for (args, words) in cases {
            let r = try CLIRunner.run(args, in: dir)
            let label = args.joined(separator: " ")
            XCTAssertTrue(r.exited, "\(label): ended by a signal")
            XCTAssertEqual(r.status, 1, "\(label): \(r.err)")
            for w in words { XCTAssertTrue(r.err.contains(w), "\(label): expected \"\(w)\" in: \(r.err)") }
        }
        let linked = try CLIRunner.run(["plot", metrics.path, "--out", link], in: dir)
        XCTAssertEqual(linked.status, 0, linked.err)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), real, "the link stays a link")
        XCTAssertTrue(try String(contentsOfFile: real, encoding: .utf8).contains("</svg>"), "the plot went to the linked file")
    }
}
