// `swift-train memory`'s figures: the optimizer state equals what a run of the same config
// holds (opt_state_bytes), and the activations extended from 2- and 3-layer copies equal a
// direct measurement of the full model.
import Foundation
import XCTest
import LlamaModel
import Tensors
import Training

final class MemoryReportTests: XCTestCase {
    func testActivationsExtendedFromTwoAndThreeLayersEqualTheFullModelsMeasure() {
        for (b, t) in [(2, 16), (3, 24)] {
            let c = LlamaConfig(vocabSize: 300, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 6, numAttentionHeads: 4, maxPositionEmbeddings: 64)
            let direct = MemoryReport.measuredActivationBytes(Llama(config: c, seed: 3), batch: b, seqLen: t)
            XCTAssertEqual(MemoryReport.activationBytes(c, batch: b, seqLen: t), direct, "B \(b) T \(t)")
            // At least the logits and their gradient, and every block's attention probabilities.
            XCTAssertGreaterThan(direct, 4 * (2 * b * t * 300 + 6 * b * 4 * t * t))
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
