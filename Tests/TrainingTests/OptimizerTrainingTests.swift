// Every optimizer on the real training path (fixture corpus, micro LLaMA): 100 steps with a
// falling loss, bit-identical resume through a checkpoint, a restore that refuses another
// optimizer's state or a missing / misshapen buffer naming it, and the one-config rule for
// optimizer keys.
import Foundation
import XCTest
import LlamaModel
import Tensors
import Training

final class OptimizerTrainingTests: XCTestCase {
    /// (label, optimizer, extra settings) of every optimizer and the 8-bit variants.
    static let runs: [(String, String, [String: String])] = [
        ("adamw", "adamw", [:]), ("adamw-8bit", "adamw", ["state_bits": "8"]),
        ("sgd", "sgd", ["momentum": "0.9", "lr": "0.1"]),
        ("adafactor", "adafactor", [:]), ("adafactor-torch", "adafactor", ["adafactor_variant": "torch", "lr": "0.1"]),
        ("lion", "lion", ["lr": "0.0005"]), ("cadamw", "cadamw", [:]), ("clion", "clion", ["lr": "0.0005"]),
        ("adam-mini", "adam-mini", [:]), ("muon", "muon", ["lr": "0.02", "adamw_lr": "0.003"]),
        ("lion-8bit", "lion", ["lr": "0.0005", "state_bits": "8"]), ("muon-8bit", "muon", ["lr": "0.02", "state_bits": "8"]),
        // Low-rank family; update_proj_gap 2 so the 6-step resume test crosses refreshes.
        ("galore", "galore", ["lr": "0.01", "update_proj_gap": "2"]), ("fira", "fira", ["lr": "0.01", "update_proj_gap": "2"]),
        ("apollo", "apollo", ["lr": "0.01", "update_proj_gap": "2"]), ("apollo-mini", "apollo-mini", ["lr": "0.01", "update_proj_gap": "2"]),
        ("galore-8bit", "galore", ["lr": "0.01", "update_proj_gap": "2", "state_bits": "8", "rank": "32"]),
        // Structured family (the paper's lr 0.02); update_proj_gap 2 crosses Alice refreshes on resume.
        ("racs", "racs", ["lr": "0.02"]), ("alice", "alice", ["lr": "0.02", "update_proj_gap": "2"]),
        ("alice-0", "alice-0", ["lr": "0.02", "update_proj_gap": "2"]),
        ("alice-compat", "alice", ["lr": "0.02", "update_proj_gap": "2", "alice_compat": "pytorch-optimizer", "lowrank_include_head": "true"]),
    ]

    /// configs/llama-tiny.json's model (d 128, 4 layers, 4 heads, I 352, V 4096) as a file in `dir`.
    static func llamaTinyModel(in dir: URL) throws -> URL {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("configs/llama-tiny.json"))) as! [String: Any]
        let url = dir.appendingPathComponent("llama-tiny-model.json")
        try JSONSerialization.data(withJSONObject: config["model"]!).write(to: url)
        return url
    }

    /// llama-tiny (on the fixture corpus, B 4 × T 64) trains 100 steps with every optimizer.
    func testEveryOptimizerTrainsWithFallingLoss() throws {
        for (label, name, extra) in Self.runs {
            let root = TrainerFixture.tempDir()
            defer { try? FileManager.default.removeItem(at: root) }
            let out = root.appendingPathComponent("run")
            var settings = extra
            settings["grad_accum"] = "1"
            settings["model"] = try Self.llamaTinyModel(in: root).path
            settings["seq_len"] = "64"
            let summary = try Trainer(config: TrainerFixture.config(out: out, steps: 100, optimizer: name, extra: settings)).run()
            let losses = try TrainerFixture.losses(out).map { Double($0.1)! }
            XCTAssertEqual(losses.count, 100, label)
            let first = losses.prefix(10).reduce(0, +) / 10, last = losses.suffix(10).reduce(0, +) / 10
            XCTAssertLessThan(last, first - 1.0, "\(label): loss \(first) → \(last)")
            XCTAssertTrue(summary.finalLoss.isFinite, label)
        }
    }

    func testResumeIsBitIdenticalForEveryOptimizer() throws {
        for (label, name, extra) in Self.runs where label != "adamw" && label != "sgd" {
            let root = TrainerFixture.tempDir()
            defer { try? FileManager.default.removeItem(at: root) }
            let straight = root.appendingPathComponent("straight"), split = root.appendingPathComponent("split")
            _ = try Trainer(config: TrainerFixture.config(out: straight, steps: 6, optimizer: name, extra: extra)).run()
            _ = try Trainer(config: TrainerFixture.config(out: split, steps: 6, optimizer: name, extra: extra)).run(stopAfter: 3)
            _ = try Trainer(config: RunConfig(), resume: split).run()
            let a = try TrainerFixture.losses(straight), b = try TrainerFixture.losses(split)
            XCTAssertEqual(a.count, 6, label)
            XCTAssertEqual(a.map(\.1), b.map(\.1), "\(label): resumed losses differ")
            let wa = try SafeTensors.read(from: straight.appendingPathComponent("checkpoints/step-00000006/model.safetensors"))
            let wb = try SafeTensors.read(from: split.appendingPathComponent("checkpoints/step-00000006/model.safetensors"))
            for n in wa.names { XCTAssertEqual(try wa.tensor(named: n).array, try wb.tensor(named: n).array, "\(label) \(n)") }
        }
    }

    /// A 3-step checkpoint of `optimizer`; returns the run folder and its checkpoint.
    func checkpoint(_ root: URL, _ name: String, optimizer: String, extra: [String: String] = [:]) throws -> (URL, URL) {
        let out = root.appendingPathComponent(name)
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 3, optimizer: optimizer, extra: extra)).run()
        return (out, out.appendingPathComponent("checkpoints/step-00000003"))
    }

    func assertResumeFails(_ run: URL, contains needles: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Trainer(config: RunConfig(), resume: run), file: file, line: line) { e in
            let text = "\(e)"
            for n in needles { XCTAssertTrue(text.contains(n), "expected \"\(n)\" in: \(text)", file: file, line: line) }
        }
    }

    /// Rewrites optimizer.safetensors of `ckpt` through `edit` on its F32 entries.
    func rewrite(_ ckpt: URL, _ edit: ([(name: String, payload: SafeTensors.Payload)]) -> [(name: String, payload: SafeTensors.Payload)]) throws {
        let url = ckpt.appendingPathComponent("optimizer.safetensors")
        let st = try SafeTensors.read(from: url)
        let entries = try st.names.map { (name: $0, payload: SafeTensors.Payload.f32(try st.tensor(named: $0))) }
        try SafeTensors.write(entries: edit(entries), metadata: st.metadata, to: url)
    }

    func testRestoreRefusesAMissingOrMisshapenBufferNamingIt() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let (run, ckpt) = try checkpoint(root, "missing", optimizer: "adamw")
        try rewrite(ckpt) { $0.filter { $0.name != "model.layers.1.mlp.down_proj.weight/exp_avg_sq" } }
        assertResumeFails(run, contains: ["model.layers.1.mlp.down_proj.weight/exp_avg_sq", "missing"])

        let (run2, ckpt2) = try checkpoint(root, "shape", optimizer: "adamw")
        try rewrite(ckpt2) { entries in
            entries.map { $0.name == "model.norm.weight/exp_avg" ? ($0.name, .f32(Tensor.zeros([5]))) : $0 }
        }
        assertResumeFails(run2, contains: ["model.norm.weight/exp_avg", "[5]", "[32]"])
    }

    func testRestoreRefusesAnotherOptimizersState() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let (run, ckpt) = try checkpoint(root, "adamw", optimizer: "adamw")
        let (_, lionCkpt) = try checkpoint(root, "lion", optimizer: "lion")
        let target = ckpt.appendingPathComponent("optimizer.safetensors")
        try FileManager.default.removeItem(at: target)
        try FileManager.default.copyItem(at: lionCkpt.appendingPathComponent("optimizer.safetensors"), to: target)
        assertResumeFails(run, contains: ["\"lion\"", "\"adamw\""])

        // 8-bit state where 32-bit is expected: named by its state bits.
        let (run8, ckpt8) = try checkpoint(root, "a32", optimizer: "adamw")
        let (_, eight) = try checkpoint(root, "a8", optimizer: "adamw", extra: ["state_bits": "8"])
        let t8 = ckpt8.appendingPathComponent("optimizer.safetensors")
        try FileManager.default.removeItem(at: t8)
        try FileManager.default.copyItem(at: eight.appendingPathComponent("optimizer.safetensors"), to: t8)
        assertResumeFails(run8, contains: ["state_bits 8"])
    }

    func testConfigKeysOfTheFilesOptimizerAreLeftOutWhenAFlagSwitchesIt() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("run.json")
        try Data(#"{"optimizer": "adamw", "beta2": 0.95, "eps": 1e-7}"#.utf8).write(to: file)
        var config = try RunConfig.load(file)
        let base = try TrainerFixture.config(out: root.appendingPathComponent("sgd"), steps: 2, optimizer: "sgd")
        for (k, v) in base.values where k != "optimizer" { try config.set(k, text: v.described) }
        try config.set("model", text: base.modelSource)
        try config.set("optimizer", text: "sgd")
        let trainer = try Trainer(config: config)
        XCTAssertNil(trainer.config.values["beta2"], "adamw's beta2 is left out of the sgd run")
        XCTAssertEqual(try trainer.run().steps, 2)

        // The same key from a file written for an optimizer that does not read it either: an error.
        try Data(#"{"optimizer": "lion", "eps": 1e-7}"#.utf8).write(to: file)
        var lion = try RunConfig.load(file)
        for (k, v) in base.values where k != "optimizer" { try lion.set(k, text: v.described) }
        try lion.set("model", text: base.modelSource)
        XCTAssertThrowsError(try Trainer(config: lion)) { e in
            XCTAssertTrue("\(e)".contains("lion does not read eps") && "\(e)".contains("adamw"), "\(e)")
        }
    }
}
