// Full training-step figure of `swift-train bench --config FILE`: the run's model (random
// init from its seed), optimizer, batch and grad_accum on random tokens, timed like the
// trainer's step (forward/backward per micro-batch, global grad norm and clip, update).
import Foundation
import LlamaModel
import Optimizers
import Tensors

/// What one benchmarked training step costs.
public struct StepFigure: Sendable {
    public let threads: Int
    public let parameters: Int
    public let optimizer: String
    public let batch: Int, seqLen: Int, gradAccum: Int
    /// Median seconds of a whole step (zeroGrad, all micro-batches, grad norm, clip, update).
    public let stepSeconds: Double
    /// Medians of the step's phases (forward and backward summed over its micro-batches;
    /// gradNorm includes clipping; other is zeroGrad and the gaps between phases, taken per
    /// step as the step time minus its phases).
    public let forwardSeconds: Double, backwardSeconds: Double
    public let gradNormSeconds: Double, optimizerSeconds: Double, otherSeconds: Double
    /// Timed steps behind the medians.
    public let repetitions: Int
    /// 1024³ sgemm GFLOP/s measured in the same run: the median of repetitions timed just
    /// before and just after the steps.
    public let sgemmGflops: Double
    /// FLOPs of one step: 6 · (parameters of matrix products) · tokens plus attention's
    /// products over the causal half (see StepBenchmark.flops).
    public let modelFlops: Double
    public let attentionFlops: Double
    /// Where the timed steps' time went relative to BLAS (shapes, their isolated rates).
    public let profile: StepProfile
    /// Median seconds of the optimizer's update alone (run again on the last step's gradients).
    public let optimizerAloneSeconds: Double
    /// Seconds per step of attention alone (forward and backward of one layer's
    /// causalAttention at the run's shape, median, × layers × grad_accum). Attention multiplies
    /// with its own register tiles, not sgemm, so this time is inside `outsideBLASShare`.
    public let attentionAloneSeconds: Double

    public var tokensPerStep: Int { batch * seqLen * gradAccum }
    public var tokensPerSecond: Double { Double(tokensPerStep) / stepSeconds }
    public var modelGflops: Double { modelFlops / stepSeconds / 1e9 }
    /// model GFLOP/s as a fraction of the machine's big-sgemm GFLOP/s.
    public var ratio: Double { modelGflops / sgemmGflops }
    /// Attention's products (causal half) per second of attention alone.
    public var attentionGflops: Double { attentionFlops / max(attentionAloneSeconds, 1e-12) / 1e9 }
}

/// Benchmarks complete optimizer steps of a run config without a data folder.
///
/// Model FLOPs per step = 6 · P_mat · tokens + attention, with P_mat the weights of the matrix
/// products (q, k, v, o, gate, up, down and lm_head; not the embedding table, whose lookup
/// multiplies nothing, nor the norms) and tokens = batch_size · seq_len · grad_accum: 2 FLOPs
/// per weight and token forward, 4 backward. Attention adds, per micro-batch and layer, 3 × 2
/// products (Q·Kᵀ and P·V forward, twice that backward) over the causal half the kernel
/// computes: 2·B·H·hd·T(T+1)/2 each. Backward's recompute of Q·Kᵀ is not counted (it is
/// extra work, not model work).
public enum StepBenchmark {
    public static func flops(model m: LlamaConfig, batch: Int, seqLen: Int, gradAccum: Int) -> (model: Double, attention: Double) {
        let tokens = Double(batch * seqLen * gradAccum)
        let matrixWeights = Double(m.parameterCount - m.vocabSize * m.hiddenSize - (2 * m.numHiddenLayers + 1) * m.hiddenSize)
        let product = Double(batch * m.numAttentionHeads) * Double(m.headDim) * Double(seqLen) * Double(seqLen + 1)
        let attention = Double(gradAccum * m.numHiddenLayers) * 3 * 2 * product
        return (6 * matrixWeights * tokens + attention, attention)
    }

    /// Builds the model and optimizer of `config`, measures 1024³ sgemm with `sgemmSettings`,
    /// runs `warmupSteps` untimed steps, then timed steps as `settings` allows (its warm-up
    /// count is not used). Uses the current `Parallel.threads`. Errors name the config key at fault.
    public static func run(config: RunConfig, settings: BenchSettings, warmupSteps: Int,
                           sgemmSettings: BenchSettings = .full) throws -> StepFigure {
        let mc = try config.modelConfig()
        let b = config.batchSize, t = config.seqLen, accum = config.gradAccum
        guard b > 0, t > 0, accum > 0 else {
            throw ConfigError("batch_size, seq_len and grad_accum must be positive (got \(b), \(t), \(accum))")
        }
        if t > mc.maxPositionEmbeddings {
            throw ConfigError("seq_len \(t) is longer than the model's max_position_embeddings \(mc.maxPositionEmbeddings); lower seq_len or raise max_position_embeddings")
        }
        var config = config
        _ = try config.resolveOptimizerKeys()
        try config.validateMemoryLevers()
        try config.validateSize(mc)
        let model = Llama(config: mc, seed: config.seed)
        model.activationCheckpointing = config.bool("activation_checkpointing")
        _ = try config.validateZerothOrder()
        // No data folder: AdaZeta's epoch is taken as the whole run, so its steps here run at
        // the schedule's first-epoch Q (the Q of a run's first steps).
        let stepper = try Trainer.makeStepper(config, model: model, batchSize: b, seqLen: t, gradAccum: accum,
                                              trainTokens: b * t * max(1, config.steps))
        // The reference product is timed just before and just after the timed steps, and the
        // median of both windows taken, so a slow or fast minute of the machine on one side
        // does not set the ratio alone.
        let sgemmBefore = SgemmBenchmark.samples(size: 1024, settings: sgemmSettings)

        var rng = RandomGenerator(seed: config.seed).derived(stream: 0xBE4C)
        let lr = config.double("lr")
        var stepNumber = 0
        // One step exactly as the trainer runs it (TrainingStep); the random tokens are drawn
        // before the clock starts (the trainer's batches are views).
        func step() throws -> (total: Double, forward: Double, backward: Double, norm: Double, update: Double) {
            stepNumber += 1
            let batches = (0..<accum).map { _ in
                (inputs: (0..<(b * t)).map { _ in Int32(rng.int(below: mc.vocabSize)) },
                 targets: (0..<(b * t)).map { _ in Int32(rng.int(below: mc.vocabSize)) })
            }
            let r = try stepper.run(step: stepNumber, lr: lr) { batches[$0] }
            BufferPool.shared.endEpoch()
            return (r.totalSeconds, r.forwardSeconds, r.backwardSeconds, r.gradNormSeconds, r.optimizerSeconds)
        }

        do {
            for _ in 0..<max(0, warmupSteps) { _ = try step() }
        } catch let e as OptimizerError { throw ConfigError(e.description) }
        var phases: [(total: Double, forward: Double, backward: Double, norm: Double, update: Double)] = []
        let timed = BenchSettings(warmups: 0, minRepetitions: settings.minRepetitions,
                                  maxRepetitions: settings.maxRepetitions, budgetSeconds: settings.budgetSeconds)
        var failure: Error?
        let recorder = BLASProfile()
        BLAS.profile = recorder
        let total = BenchClock.samples(timed) {
            guard failure == nil else { return 0 }
            do {
                let p = try step()
                phases.append(p)
                return p.total
            } catch { failure = error; return 0 }
        }
        BLAS.profile = nil
        if let e = failure as? OptimizerError { throw ConfigError(e.description) } else if let e = failure { throw e }
        let sgemm = SgemmBenchmark.Figure(size: 1024, seconds: (sgemmBefore + SgemmBenchmark.samples(size: 1024, settings: sgemmSettings)).median).gflops
        let profile = StepProfile.make(recorder, steps: total.count, seconds: phases.map(\.total).reduce(0, +),
                                       threads: Parallel.threads)
        let f = flops(model: mc, batch: b, seqLen: t, gradAccum: accum)
        // The update alone, again on the last step's gradients (a zeroth-order step has no
        // separate update to repeat: its figure is the update phase of the full step).
        var alone = phases.map(\.update).median
        if stepper.optimizer.zerothOrder == nil && !stepper.perLayerUpdate {
            alone = BenchClock.samples(timed) {
                BenchClock.time {
                    do { try stepper.optimizer.step(stepNumber + 1, lr: lr, seed: config.seed) } catch { failure = error }
                }
            }.median
            if let e = failure as? OptimizerError { throw ConfigError(e.description) } else if let e = failure { throw e }
        }
        let attention = attentionAlone(model: mc, batch: b, seqLen: t, settings: timed) * Double(mc.numHiddenLayers * accum)
        return StepFigure(threads: Parallel.threads, parameters: mc.parameterCount, optimizer: stepper.optimizer.name,
                          batch: b, seqLen: t, gradAccum: accum, stepSeconds: total.median,
                          forwardSeconds: phases.map(\.forward).median, backwardSeconds: phases.map(\.backward).median,
                          gradNormSeconds: phases.map(\.norm).median, optimizerSeconds: phases.map(\.update).median,
                          otherSeconds: phases.map { $0.total - $0.forward - $0.backward - $0.norm - $0.update }.median,
                          repetitions: total.count, sgemmGflops: sgemm,
                          modelFlops: f.model, attentionFlops: f.attention, profile: profile,
                          optimizerAloneSeconds: alone, attentionAloneSeconds: attention)
    }

    /// Median seconds of one causalAttention forward and backward at [batch·seqLen, hidden]
    /// with the model's heads, on random q, k, v and output gradient.
    static func attentionAlone(model m: LlamaConfig, batch: Int, seqLen: Int, settings: BenchSettings) -> Double {
        var rng = RandomGenerator(seed: 0xA77E)
        let shape = [batch * seqLen, m.numAttentionHeads * m.headDim]
        let q = Tensor.randn(shape, rng: &rng, requiresGrad: true)
        let k = Tensor.randn(shape, rng: &rng, requiresGrad: true)
        let v = Tensor.randn(shape, rng: &rng, requiresGrad: true)
        let seed = Tensor.randn(shape, rng: &rng)
        return BenchClock.samples(settings) {
            for x in [q, k, v] { x.grad = nil }
            return BenchClock.time {
                let (out, tape) = Tape.record {
                    causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: m.numAttentionHeads)
                }
                tape.backward(from: out, seed: seed)
            }
        }.median
    }
}
