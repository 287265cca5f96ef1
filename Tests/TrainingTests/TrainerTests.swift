// Trainer: exact resume (2N straight = N + resume + N, bit for bit), checkpoints that reload,
// metrics lines, and optimizer-state bytes equal to the formula.
import Foundation
import XCTest
import LlamaModel
import Tensors
import TextData
import Training

final class TrainerTests: XCTestCase {
    func testResumedRunLogsBitIdenticalLosses() throws {
        for variant in ["adamw", "sgd", "adamw-shuffled"] {
            let root = TrainerFixture.tempDir()
            defer { try? FileManager.default.removeItem(at: root) }
            let optimizer = variant == "sgd" ? "sgd" : "adamw"
            let extra = variant == "sgd" ? ["momentum": "0.9", "lr": "0.05"]
                : variant == "adamw-shuffled" ? ["shuffle": "true"] : [:]
            let straight = root.appendingPathComponent("straight")
            _ = try Trainer(config: TrainerFixture.config(out: straight, steps: 8, optimizer: optimizer, extra: extra)).run()

            let split = root.appendingPathComponent("split")
            // Stopped after 4 of 8 steps (as by Ctrl-C), then resumed from its checkpoint.
            let first = try Trainer(config: TrainerFixture.config(out: split, steps: 8, optimizer: optimizer, extra: extra)).run(stopAfter: 4)
            XCTAssertEqual(first.steps, 4)
            XCTAssertTrue(first.interrupted)
            let second = try Trainer(config: RunConfig(), resume: split).run()
            XCTAssertEqual(second.steps, 8)

            let a = try TrainerFixture.losses(straight), b = try TrainerFixture.losses(split)
            XCTAssertEqual(a.map(\.0), Array(1...8))
            XCTAssertEqual(b.map(\.0), Array(1...8), "resume appends steps 5…8 to the same metrics.jsonl")
            for (x, y) in zip(a, b) { XCTAssertEqual(x.1, y.1, "\(variant) step \(x.0): \(x.1) vs \(y.1)") }
        }
    }

    func testResumeDropsLinesLoggedAfterTheCheckpoint() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 3)).run()
        // Simulate a run killed after logging step 4 and 5 with its last checkpoint at 3.
        let metrics = out.appendingPathComponent("metrics.jsonl")
        let h = try FileHandle(forWritingTo: metrics)
        h.seekToEndOfFile()
        h.write(Data("{\"step\": 4, \"loss\": 1.0}\n{\"step\": 5, \"loss\": 1.0}\n".utf8))
        try h.close()
        var more = RunConfig()
        try more.set("steps", text: "5")
        _ = try Trainer(config: more, resume: out).run()
        let steps = try TrainerFixture.losses(out).map(\.0)
        XCTAssertEqual(steps, [1, 2, 3, 4, 5])
        XCTAssertNotEqual(try TrainerFixture.losses(out)[3].1, "1.0")
    }

    func testCheckpointHoldsHuggingFaceFilesAndReloadsWeights() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        let trainer = try Trainer(config: TrainerFixture.config(out: out, steps: 2))
        let summary = try trainer.run()
        let ckpt = try XCTUnwrap(summary.checkpoint)
        for f in ["model.safetensors", "config.json", "tokenizer.model", "optimizer.safetensors", "trainer_state.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: ckpt.appendingPathComponent(f).path), f)
        }
        let reloaded = try Checkpoint.loadModel(ckpt)
        for (p, q) in zip(trainer.model.parameters, reloaded.parameters) {
            XCTAssertEqual(p.name, q.name)
            XCTAssertEqual(p.tensor.array, q.tensor.array, p.name)
        }
        let state = try Checkpoint.readState(ckpt)
        XCTAssertEqual(state.step, 2)
        XCTAssertEqual(state.nextBatch, 4, "2 steps × grad_accum 2")
    }

    func testOptimizerStateBytesEqualFormulaAndAreLogged() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        let trainer = try Trainer(config: TrainerFixture.config(out: out, steps: 1))
        _ = try trainer.run()
        let n = trainer.model.config.parameterCount
        XCTAssertEqual(trainer.optimizer.stateBytes, 2 * n * 4)
        XCTAssertEqual(trainer.optimizer.stateBytes, trainer.optimizer.stateBytesFormula)
        let line = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(line.contains("\"opt_state_bytes\": \(2 * n * 4)"), line)
        for key in ["step", "loss", "lr", "grad_norm", "tokens_per_s", "step_ms", "rss_bytes"] {
            XCTAssertTrue(line.contains("\"\(key)\""), key)
        }
        XCTAssertTrue(line.contains("\"val_loss\"") && line.contains("\"val_ppl\""), "evaluation at the end")
    }

    func testVocabularySmallerThanTokenizerIsAnError() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        var c = try TrainerFixture.config(out: root.appendingPathComponent("run"), steps: 1)
        let small = root.appendingPathComponent("small.json")
        try Data(#"{"vocab_size": 100, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4}"#.utf8).write(to: small)
        try c.set("model", text: small.path)
        XCTAssertThrowsError(try Trainer(config: c)) { e in
            XCTAssertTrue("\(e)".contains("vocab_size 100 is smaller than the tokenizer's"), "\(e)")
        }
    }

    func testInitFromLoadsWeightsExactlyAndReportsMismatches() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        var c = try TrainerFixture.config(out: root.appendingPathComponent("run"), steps: 1)
        let source = Llama(config: try c.modelConfig(), seed: 99)
        let file = root.appendingPathComponent("init.safetensors")
        try SafeTensors.write(source.parameters.map { ($0.name, $0.tensor) }, to: file)
        try c.set("init_from", text: file.path)
        do {  // (the trainer holds its out folder until it goes)
            let trainer = try Trainer(config: c)
            for (p, q) in zip(trainer.model.parameters, source.parameters) { XCTAssertEqual(p.tensor.array, q.tensor.array, p.name) }
        }

        // A file missing a tensor and with a wrong shape: the error lists both.
        let partial = source.parameters.dropFirst().map { p -> (name: String, tensor: Tensor) in
            p.name == "lm_head.weight" ? (p.name, Tensor.zeros([3, 3])) : (p.name, p.tensor)
        }
        try SafeTensors.write(partial, to: file)
        XCTAssertThrowsError(try Trainer(config: c)) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("missing model.embed_tokens.weight"), m)
            XCTAssertTrue(m.contains("lm_head.weight: shape [3, 3] in the file"), m)
        }
    }

    func testShardWithIDsBeyondTheVocabularyIsAnError() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: TrainerFixture.dataFolder.appendingPathComponent("tokenizer.model"),
                                         to: data.appendingPathComponent("tokenizer.model"))
        try TokenShard.write((0..<500).map { $0 % 400 }, to: data.appendingPathComponent("train.bin").path)
        var c = try TrainerFixture.config(out: root.appendingPathComponent("run"), steps: 1)
        try c.set("data", text: data.path)
        XCTAssertThrowsError(try Trainer(config: c)) { e in
            XCTAssertTrue("\(e)".contains("holds token id 399, but the model's vocab_size is 320"), "\(e)")
        }
    }
}
