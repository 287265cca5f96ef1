// The memory levers leave training unchanged: per_layer_update (each weight updated as soon
// as backward completes its gradient, which is then freed) and activation_checkpointing
// (blocks recomputed in backward) give loss curves and weights bit-identical to the ordinary
// step for every gradient optimizer, alone and together; per_layer_update refuses grad_clip
// and grad_accum with errors that say why; and the levers do cut what they promise.
import Foundation
import XCTest
import LlamaModel
import Tensors
import Training

final class MemoryLeverTests: XCTestCase {
    /// Final weights of a finished run, by name.
    func weights(_ out: URL, step: Int) throws -> [String: [Float]] {
        let st = try SafeTensors.read(from: out.appendingPathComponent(String(format: "checkpoints/step-%08d/model.safetensors", step)))
        var w: [String: [Float]] = [:]
        for n in st.names { w[n] = try st.tensor(named: n).array }
        return w
    }

    func testEveryOptimizerGivesTheSameCurveWithEachLever() throws {
        let levers: [(String, [String: String])] = [
            ("per-layer", ["per_layer_update": "true"]), ("checkpointing", ["activation_checkpointing": "true"]),
            ("both", ["per_layer_update": "true", "activation_checkpointing": "true"]),
        ]
        for (label, name, extra) in OptimizerTrainingTests.runs {
            let root = TrainerFixture.tempDir()
            defer { try? FileManager.default.removeItem(at: root) }
            var base = extra
            base["grad_clip"] = "0"
            base["grad_accum"] = "1"
            let plain = root.appendingPathComponent("plain")
            _ = try Trainer(config: TrainerFixture.config(out: plain, steps: 5, optimizer: name, extra: base)).run()
            let expected = try TrainerFixture.losses(plain).map(\.1)
            let expectedWeights = try weights(plain, step: 5)
            XCTAssertEqual(expected.count, 5, label)
            for (lever, settings) in levers {
                let out = root.appendingPathComponent(lever)
                _ = try Trainer(config: TrainerFixture.config(out: out, steps: 5, optimizer: name,
                                                              extra: base.merging(settings) { $1 })).run()
                XCTAssertEqual(try TrainerFixture.losses(out).map(\.1), expected, "\(label) with \(lever): losses differ")
                XCTAssertTrue(try weights(out, step: 5) == expectedWeights, "\(label) with \(lever): weights differ")
            }
        }
    }

    func testCheckpointingWithGradientAccumulationAndClippingIsBitIdentical() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        _ = try Trainer(config: TrainerFixture.config(out: a, steps: 4)).run()  // grad_accum 2, grad_clip 1
        _ = try Trainer(config: TrainerFixture.config(out: b, steps: 4, extra: ["activation_checkpointing": "true"])).run()
        XCTAssertEqual(try TrainerFixture.losses(a).map(\.1), try TrainerFixture.losses(b).map(\.1))
    }

    func testPerLayerUpdateRefusesClippingAndAccumulationSayingWhy() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        XCTAssertThrowsError(try Trainer(config: TrainerFixture.config(
            out: out, steps: 2, extra: ["per_layer_update": "true", "grad_accum": "1", "grad_clip": "1.0"]))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("per_layer_update") && text.contains("grad_clip") && text.contains("global gradient norm"), text)
        }
        XCTAssertThrowsError(try Trainer(config: TrainerFixture.config(
            out: out, steps: 2, extra: ["per_layer_update": "true", "grad_accum": "2", "grad_clip": "0"]))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("per_layer_update") && text.contains("grad_accum 2") && text.contains("micro-batch"), text)
        }
    }

    /// The levers cut what they promise: per-layer gradients at the peak are at most the
    /// largest weight's, and checkpointing keeps fewer activation bytes.
    func testLeversCutGradientAndActivationMemory() throws {
        func account(_ extra: [String: String]) throws -> MemoryAccount {
            let root = TrainerFixture.tempDir()
            defer { try? FileManager.default.removeItem(at: root) }
            let trainer = try Trainer(config: TrainerFixture.config(
                out: root.appendingPathComponent("run"), steps: 3,
                extra: ["grad_clip": "0", "grad_accum": "1", "batch_size": "8", "seq_len": "32"].merging(extra) { $1 }))
            return try trainer.run().memory
        }
        let plain = try account([:])
        let perLayer = try account(["per_layer_update": "true"])
        let checkpointed = try account(["activation_checkpointing": "true"])
        XCTAssertEqual(plain.gradientBytes, plain.parameterBytes)
        XCTAssertLessThanOrEqual(perLayer.gradientBytes, 320 * 32 * 4)  // the head or embedding, [V, d]
        XCTAssertLessThan(checkpointed.activationBytes, plain.activationBytes * 3 / 4)
    }
}
