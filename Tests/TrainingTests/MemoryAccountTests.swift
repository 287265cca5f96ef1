// The memory account adds up: at a step's peak, the pool's live bytes by kind are exactly
// the parameters, their gradients, the optimizer's Float32 state and the activations, the
// activation figure equals a hand count of what forward keeps for backward, and after
// sampling and evaluating the pool holds no more than a training step needs.
import Foundation
import XCTest
import LlamaModel
import Tensors
import Training

final class MemoryAccountTests: XCTestCase {
    func testTheAccountAddsUpAndMatchesAHandCount() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let (b, t) = (4, 16)
        let trainer = try Trainer(config: TrainerFixture.config(out: root.appendingPathComponent("run"), steps: 3,
                                                                extra: ["grad_accum": "1", "batch_size": "\(b)", "seq_len": "\(t)"]))
        _ = try trainer.trainStep()
        let report = try trainer.trainStep()
        let m = report.memory
        let c = trainer.model.config
        let params = c.parameterCount * 4
        XCTAssertEqual(m[.parameter], params)
        XCTAssertEqual(m[.gradient], params)  // every weight's gradient, kept between steps
        XCTAssertEqual(m[.optimizerState], trainer.optimizer.stateBytes)  // AdamW: all Float32
        XCTAssertEqual(m[.optimizerWork], 0)  // the peak is in forward/backward, not in the update
        XCTAssertEqual(m.held, m.liveTotal + m.free)
        XCTAssertGreaterThanOrEqual(m.peakHeld, m.held)
        let account = MemoryAccount(snapshot: m, optimizerStateBytes: trainer.optimizer.stateBytes,
                                    residentBytes: 0, peakResidentBytes: 0)
        XCTAssertEqual(account.accountedBytes, m.peakHeld)  // everything the pool held at its most

        // Hand count of the activations at the peak: the head's chunk (all N rows here) with
        // its dx, on top of everything forward keeps for backward.
        let n = b * t, d = c.hiddenSize, i = c.intermediateSize, v = c.vocabSize, h = c.numAttentionHeads
        let perBlock = 8 * n * d          // norm out, q, k, v, attention out, h + o, norm out, h + down
            + 3 * n * i                   // gate, up, swiGLU
            + 2 * n                       // 1/rms of both norms
            + 2 * b * h * t               // attention's row max and 1/sum
        let floats = n * d                // embedding output
            + c.numHiddenLayers * perBlock
            + n * d + n                   // final norm output and its 1/rms
            + n * v + n * d               // head chunk [N, V] (N·V < 2^21) and the head's dx
            + 1 + 1                       // the loss seed and the loss
        XCTAssertEqual(m[.activation], floats * 4)
    }

    func testSamplingAndEvaluatingLeaveNoMoreThanAStepNeeds() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let trainer = try Trainer(config: TrainerFixture.config(out: root.appendingPathComponent("run"), steps: 3,
                                                                extra: ["grad_accum": "1"]))
        _ = try trainer.trainStep()
        let step = try trainer.trainStep().memory.peakHeld
        var sampler = Sampler(model: trainer.model, temperature: 0.8, topK: 0, seed: 1)
        _ = sampler.generate(prompt: [1, 2, 3], count: 300, window: 64)
        XCTAssertNotNil(trainer.evaluate())
        XCTAssertLessThanOrEqual(BufferPool.shared.snapshot.held, step)
    }
}

final class PoolSteadyStateTests: XCTestCase {
    /// After the first steps, a training step takes every buffer from the pool: no fresh
    /// pages, with and without the memory levers, and an evaluation in between changes nothing.
    func testSteadyStepsAllocateNothingFromTheSystem() throws {
        for extra in [[:], ["per_layer_update": "true"], ["activation_checkpointing": "true"]] {
            let root = TrainerFixture.tempDir()
            defer { try? FileManager.default.removeItem(at: root) }
            let trainer = try Trainer(config: TrainerFixture.config(
                out: root.appendingPathComponent("run"), steps: 8,
                extra: ["grad_accum": "1", "grad_clip": "0", "optimizer": "galore", "update_proj_gap": "100"].merging(extra) { $1 }))
            for _ in 0..<2 { _ = try trainer.trainStep() }
            let before = BufferPool.shared.systemAllocations
            for _ in 0..<4 { _ = try trainer.trainStep() }
            XCTAssertEqual(BufferPool.shared.systemAllocations, before, "\(extra)")
        }
    }
}
