// `swift-train memory`'s figures: the optimizer state equals what a run of the same config
// holds (opt_state_bytes), and the step parts extended from 2- and 3-layer copies equal a
// direct measurement of the full model. (The predicted peak RSS against a real run's is
// checked through the binary in MemoryCommandTests.)
import Foundation
import XCTest
import LlamaModel
import Tensors
import Training

final class MemoryReportTests: XCTestCase {
    /// The step parts measured on 2- and 3-layer copies and extended to 6 layers equal a
    /// direct measurement of the 6-layer model (activations exactly: every block holds the
    /// same tensors), with and without the memory levers.
    func testStepPartsExtendedFromTwoAndThreeLayersEqualTheFullModelsMeasure() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("six-layers.json")
        try Data(#"{"vocab_size": 320, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 6, "num_attention_heads": 4, "max_position_embeddings": 64}"#.utf8).write(to: model)
        for extra in [[:], ["activation_checkpointing": "true"], ["per_layer_update": "true", "grad_clip": "0", "grad_accum": "1"]] {
            let config = try TrainerFixture.config(out: root.appendingPathComponent("run"), steps: 1,
                                                   extra: ["model": model.path].merging(extra) { $1 })
            let m = try MemoryReport.measureStep(config, layers: 6, batch: 3, seqLen: 24)
            var direct = m.training.liveTotal >= m.update.liveTotal ? m.training : m.update
            direct.peakHeld = m.peakHeld
            let extended = try MemoryReport.stepBytes(config, batch: 3, seqLen: 24)
            XCTAssertEqual(extended.activations, direct[.activation], "\(extra)")
            XCTAssertEqual(extended.gradients, direct[.gradient], "\(extra)")
            let directFree = direct.peakHeld - direct.liveTotal
            XCTAssertEqual(Double(extended.poolFree), Double(directFree), accuracy: 0.25 * Double(direct.peakHeld), "\(extra)")
        }
    }

    func testOptimizerStateEqualsWhatATrainingRunHolds() throws {
        for (name, extra) in [("adamw", [String: String]()), ("galore", ["rank": "8"]), ("apollo-mini", [:]), ("fira", ["rank": "4"]),
                              ("apollo", ["rank": "4", "state_bits": "8"]), ("adam-mini", [:]), ("muon", ["state_bits": "8"])] {
            let root = TrainerFixture.tempDir()
            defer { try? FileManager.default.removeItem(at: root) }
            let config = try TrainerFixture.config(out: root.appendingPathComponent("run"), steps: 2, optimizer: name, extra: extra)
            let counted = try MemoryReport.optimizerStateBytes(config)
            let trainer = try Trainer(config: config)
            let summary = try trainer.run()
            XCTAssertEqual(counted, summary.optimizerStateBytes, name)
            XCTAssertEqual(counted, trainer.optimizer.stateBytesFormula, name)
        }
    }
}
