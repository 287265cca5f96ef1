// TrainingStep: the one optimizer step that `train` runs and `bench --config` times — zero
// the gradients, forward and backward over grad_accum micro-batches (the loss of each scaled
// by 1/grad_accum), the global gradient norm and clipping, then the optimizer update. It
// returns a report (loss, norm, per-phase seconds, optimizer metrics), so the benchmark can
// never time a different step from the one training runs.
import Foundation
import LlamaModel
import Optimizers
import Tensors

/// What one step did and cost.
public struct StepReport {
    /// Mean loss of the step's micro-batches, before the update.
    public var loss: Double
    /// Global gradient norm before clipping.
    public var gradNorm: Double
    /// True when the norm was not finite and the update was skipped.
    public var skipped: Bool
    public var forwardSeconds = 0.0, backwardSeconds = 0.0, gradNormSeconds = 0.0, optimizerSeconds = 0.0
    public var totalSeconds = 0.0
    /// The rules' per-step metrics (key, value).
    public var optimizerMetrics: [(String, Double)] = []
    /// The rules' events of this step (a failed SVD, a skipped non-finite gradient).
    public var optimizerEvents: [String] = []
}

public struct TrainingStep {
    public let model: Llama
    public let optimizer: Optimizer
    public let batchSize: Int
    public let seqLen: Int
    public let gradAccum: Int
    /// Clip the global norm to this (0 = off).
    public let gradClip: Double
    /// The run seed the rules key their draws by.
    public let seed: UInt64

    public init(model: Llama, optimizer: Optimizer, batchSize: Int, seqLen: Int, gradAccum: Int, gradClip: Double, seed: UInt64) {
        self.model = model
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.seqLen = seqLen
        self.gradAccum = gradAccum
        self.gradClip = gradClip
        self.seed = seed
    }

    /// Runs step `step` (1-based) at learning rate `lr` on micro-batches `batch(0..<gradAccum)`.
    /// Throws when the optimizer fails (the error names the step and parameter).
    public func run(step: Int, lr: Double, batch: (Int) -> (inputs: [Int32], targets: [Int32])) throws -> StepReport {
        let start = BenchClock.now()
        model.zeroGrad()
        var lossSum = 0.0, fw = 0.0, bw = 0.0
        let lossSeed = Tensor(shape: [], values: [1 / Float(gradAccum)])
        for micro in 0..<gradAccum {
            let b = batch(micro)
            let t0 = BenchClock.now()
            let (loss, tape) = Tape.record {
                model.loss(tokens: b.inputs, targets: b.targets, batch: batchSize, seqLen: seqLen)
            }
            let t1 = BenchClock.now()
            lossSum += Double(loss.scalar)
            tape.backward(from: loss, seed: lossSeed)
            let t2 = BenchClock.now()
            fw += t1 - t0
            bw += t2 - t1
        }
        let t3 = BenchClock.now()
        let norm = GradientClipping.globalNorm(model.parameters)
        let skipped = !norm.isFinite
        if !skipped && gradClip > 0 { GradientClipping.clip(model.parameters, maxNorm: gradClip, norm: norm) }
        let t4 = BenchClock.now()
        var metrics: [(String, Double)] = [], events: [String] = []
        if !skipped {
            try optimizer.step(step, lr: lr, seed: seed)
            metrics = optimizer.metrics.values
            events = optimizer.metrics.events
        }
        let t5 = BenchClock.now()
        var r = StepReport(loss: lossSum / Double(gradAccum), gradNorm: norm, skipped: skipped)
        r.forwardSeconds = fw
        r.backwardSeconds = bw
        r.gradNormSeconds = t4 - t3
        r.optimizerSeconds = t5 - t4
        r.totalSeconds = t5 - start
        r.optimizerMetrics = metrics
        r.optimizerEvents = events
        return r
    }
}
