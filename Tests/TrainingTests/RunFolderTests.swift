// A run folder is never destroyed by accident: a new run into a folder that holds a run is
// refused (naming --resume and --overwrite), --overwrite starts over, and a folder in use by
// another trainer is refused with the holder's PID.
import Foundation
import XCTest
import LlamaModel
import Tensors
import Training

final class RunFolderTests: XCTestCase {
    func testANewRunDoesNotOverwriteAnOldOneUnlessAsked() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 2)).run()
        XCTAssertThrowsError(try Trainer(config: TrainerFixture.config(out: out, steps: 2))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("already holds a run") && text.contains("--resume") && text.contains("--overwrite"), text)
        }
        XCTAssertEqual(Checkpoint.list(in: out.appendingPathComponent("checkpoints")).count, 1, "the old run is intact")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 3, extra: ["overwrite": "true"])).run()
        XCTAssertEqual(try TrainerFixture.losses(out).map(\.0), [1, 2, 3], "metrics of the new run only")
    }

    func testAFolderInUseIsRefusedNamingTheHolder() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        let first = try Trainer(config: TrainerFixture.config(out: out, steps: 2))
        XCTAssertThrowsError(try Trainer(config: TrainerFixture.config(out: out, steps: 2, extra: ["overwrite": "true"]))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("in use by another swift-train process") && text.contains("PID \(getpid())"), text)
        }
        _ = try first.run()
    }
}

final class MetricsLogResumeTests: XCTestCase {
    /// A stray byte or a torn line in metrics.jsonl costs only that line on resume.
    func testResumeKeepsEveryValidLineWhateverBytesSurroundThem() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 4, extra: ["checkpoint_every": "2"])).run(stopAfter: 3)
        let url = out.appendingPathComponent("metrics.jsonl")
        var data = try Data(contentsOf: url)
        data.append(contentsOf: [0xFF, 0xFE, 0x0A])                 // not UTF-8
        data.append(contentsOf: Array("{\"step\": 3, \"loss\": 1.".utf8))  // a torn line
        try data.write(to: url)
        _ = try Trainer(config: RunConfig(), resume: out).run()
        XCTAssertEqual(try TrainerFixture.losses(out).map(\.0), [1, 2, 3, 4])
    }

    /// Resuming into a new --out starts a log there instead of failing to open one.
    func testResumeIntoANewOutFolderStartsItsOwnLog() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 3)).run(stopAfter: 2)
        var c = RunConfig()
        try c.set("out", text: root.appendingPathComponent("continued").path)
        _ = try Trainer(config: c, resume: out).run()
        XCTAssertEqual(try TrainerFixture.losses(root.appendingPathComponent("continued")).map(\.0), [3])
    }
}

final class CheckpointListTests: XCTestCase {
    /// Checkpoints are ordered by step, not by name; a folder missing a file is not one.
    func testCheckpointsOrderByStepAndPartialFoldersDoNotCount() throws {
        let dir = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        func make(_ name: String, files: [String] = ["model.safetensors", "config.json", "optimizer.safetensors", "trainer_state.json"]) throws {
            let d = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            for f in files { try Data("x".utf8).write(to: d.appendingPathComponent(f)) }
        }
        try make("step-99999999")
        try make("step-100000000")
        try make("step-00000007")
        try make("step-00000009", files: ["trainer_state.json", "config.json"])  // a half-removed one
        XCTAssertEqual(Checkpoint.list(in: dir).map(\.lastPathComponent), ["step-00000007", "step-99999999", "step-100000000"])
        Checkpoint.prune(in: dir, keep: 1)
        XCTAssertEqual(Checkpoint.list(in: dir).map(\.lastPathComponent), ["step-100000000"])
    }

    /// Weights with NaN are refused naming the tensor.
    func testInitFromWeightsWithNaNNameTheTensor() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 1)).run()
        let file = out.appendingPathComponent("checkpoints/step-00000001/model.safetensors")
        let st = try SafeTensors.read(from: file)
        let entries = try st.names.map { name -> (name: String, tensor: Tensor) in
            let t = try st.tensor(named: name)
            if name == "model.norm.weight" { t[0] = .nan }
            return (name, t)
        }
        try SafeTensors.write(entries, to: root.appendingPathComponent("nan.safetensors"))
        XCTAssertThrowsError(try Trainer(config: TrainerFixture.config(
            out: root.appendingPathComponent("next"), steps: 1,
            extra: ["init_from": root.appendingPathComponent("nan.safetensors").path]))) { e in
            XCTAssertTrue("\(e)".contains("model.norm.weight holds NaN"), "\(e)")
        }
    }
}

final class ResumeDataCheckTests: XCTestCase {
    /// A data folder re-prepared (or replaced) since the checkpoint is refused on resume.
    func testResumeRefusesChangedData() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data")
        try FileManager.default.copyItem(at: TrainerFixture.dataFolder, to: data)
        let out = root.appendingPathComponent("run")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 4, extra: ["data": data.path])).run(stopAfter: 2)
        let shard = data.appendingPathComponent("train.bin")
        var bytes = try Data(contentsOf: shard)
        bytes[1024 + 100] ^= 1  // one token changes (ids stay within the tokenizer's 300)
        try bytes.write(to: shard)
        XCTAssertThrowsError(try Trainer(config: RunConfig(), resume: out)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("is not the data this run trained on") && text.contains("--init-from"), text)
        }
    }
}
