// TrainingStep: the one optimizer step that `train` runs and `bench --config` times — zero
// the gradients, forward and backward over grad_accum micro-batches (the loss of each scaled
// by 1/grad_accum), the global gradient norm and clipping, then the optimizer update. It
// returns a report (loss, norm, per-phase seconds, optimizer metrics, the memory account at
// the step's peak), so the benchmark can never time a different step from the one training
// runs. With `perLayerUpdate` (GaLore's layer-wise update) each weight is updated during
// backward as soon as its gradient is complete, and that gradient is freed at once.
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
    /// The first parameter (in model order) whose gradient is not finite, when skipped.
    public var firstNonFinite: String?
    public var forwardSeconds = 0.0, backwardSeconds = 0.0, gradNormSeconds = 0.0, optimizerSeconds = 0.0
    public var totalSeconds = 0.0
    /// Data-parallel runs: seconds in the gradient all-reduce, the agreement on loss and
    /// stop, and the weight broadcast.
    public var communicationSeconds = 0.0
    /// Data-parallel runs: a rank was asked to stop before the update, so no rank updated
    /// (the weights are those of the step before).
    public var abandoned = false
    /// The rules' per-step metrics (key, value).
    public var optimizerMetrics: [(String, Double)] = []
    /// The rules' events of this step (a failed SVD, a skipped non-finite gradient).
    public var optimizerEvents: [String] = []
    /// Zeroth-order steps: the mean projected gradient p̂ of the step's queries, and Q.
    public var projectedGradient: Double?
    public var queries = 0
    /// The buffer pool at the step's peak of live bytes (by kind; the larger of the two phases
    /// below) with the most bytes it held during the step as `peakHeld`.
    public var memory = PoolSnapshot()
    /// The pool at the peak of forward and backward, and at the peak of the optimizer update
    /// (equal with a per-layer update, which runs inside backward).
    public var trainingPhaseMemory = PoolSnapshot(), optimizerPhaseMemory = PoolSnapshot()

    /// Records the pool's peaks of the two phases: the step's peak is the one with more live
    /// bytes, with the most the pool held in either.
    mutating func recordPhases(training: PoolSnapshot, update: PoolSnapshot) {
        trainingPhaseMemory = training
        optimizerPhaseMemory = update
        memory = update.liveTotal > training.liveTotal ? update : training
        memory.peakHeld = max(training.peakHeld, update.peakHeld)
    }
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
    /// Update each weight during backward as soon as its gradient is complete (needs
    /// gradAccum 1 and gradClip 0; the run config checks that).
    public let perLayerUpdate: Bool
    /// The query schedule of an adaptive zeroth-order optimizer (AdaZeta), resolved by the trainer.
    public let querySchedule: QuerySchedule?
    /// This rank's part of a data-parallel (mpirun) run; nil in one process.
    public var dataParallel: DataParallel?

    public init(model: Llama, optimizer: Optimizer, batchSize: Int, seqLen: Int, gradAccum: Int, gradClip: Double, seed: UInt64,
                perLayerUpdate: Bool = false, querySchedule: QuerySchedule? = nil) {
        if case .adaptive = optimizer.zerothOrder?.queries {
            precondition(querySchedule != nil, "an adaptive zeroth-order optimizer needs its query schedule")
        }
        self.querySchedule = querySchedule
        precondition(!perLayerUpdate || (gradAccum == 1 && gradClip == 0), "per-layer update needs grad_accum 1 and grad_clip 0")
        self.perLayerUpdate = perLayerUpdate
        self.model = model
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.seqLen = seqLen
        self.gradAccum = gradAccum
        self.gradClip = gradClip
        self.seed = seed
    }

    /// Every gradient exists (zeroed) before forward, so each step, the first included, holds
    /// the same buffers; a missing one is made here rather than mid-backward.
    func readyGradients() {
        for p in model.trainableParameters { if p.tensor.grad == nil { p.tensor.ensureGrad() } else { p.tensor.zeroGrad() } }
    }

    /// Forward (the head's backward included, see Llama.loss) and backward of one micro-batch
    /// of `batch` sequences, the loss seeded with `seed`; returns the micro-batch's mean loss.
    func forwardBackward(inputs: [Int32], targets: [Int32], batch: Int, seed: Tensor)
        -> (loss: Double, forwardSeconds: Double, backwardSeconds: Double) {
        let t0 = BenchClock.now()
        let (loss, tape) = Tape.record {
            model.loss(tokens: inputs, targets: targets, batch: batch, seqLen: seqLen, lossGradient: seed.scalar)
        }
        let t1 = BenchClock.now()
        tape.backward(from: loss, seed: seed)
        return (Double(loss.scalar), t1 - t0, BenchClock.now() - t1)
    }

    /// The global gradient norm, and PyTorch-style clipping to `gradClip` unless the norm is
    /// not finite (then the update is skipped).
    func normAndClip() -> (norm: Double, skipped: Bool) {
        let norm = GradientClipping.globalNorm(model.trainableParameters)
        let skipped = !norm.isFinite
        if !skipped && gradClip > 0 { GradientClipping.clip(model.trainableParameters, maxNorm: gradClip, norm: norm) }
        return (norm, skipped)
    }

    /// Runs step `step` (1-based) at learning rate `lr` on micro-batches `batch(0..<gradAccum)`.
    /// Throws when the optimizer fails (the error names the step and parameter).
    public func run(step: Int, lr: Double, stopRequested: () -> Bool = { false },
                    batch: (Int) -> (inputs: [Int32], targets: [Int32])) throws -> StepReport {
        BufferPool.shared.resetPeak()
        if let dp = dataParallel { return try runDataParallel(dp, step: step, lr: lr, stopRequested: stopRequested, batch: batch) }
        if let zo = optimizer.zerothOrder {
            return try runZerothOrder(zo, queries: queries(step: step), step: step, lr: lr, batch: batch(0))
        }
        if perLayerUpdate { return try runPerLayer(step: step, lr: lr, batch: batch(0)) }
        let start = BenchClock.now()
        readyGradients()
        var lossSum = 0.0, fw = 0.0, bw = 0.0
        let lossSeed = Tensor(shape: [], values: [1 / Float(gradAccum)])
        for micro in 0..<gradAccum {
            let b = batch(micro)
            let pass = forwardBackward(inputs: b.inputs, targets: b.targets, batch: batchSize, seed: lossSeed)
            lossSum += pass.loss
            fw += pass.forwardSeconds
            bw += pass.backwardSeconds
        }
        let t3 = BenchClock.now()
        let (norm, skipped) = normAndClip()
        let t4 = BenchClock.now()
        let trainingPeak = BufferPool.shared.peakSnapshot
        BufferPool.shared.resetPeak()
        var metrics: [(String, Double)] = [], events: [String] = []
        if !skipped {
            try optimizer.step(step, lr: lr, seed: seed)
            metrics = optimizer.metrics.values
            events = optimizer.metrics.events
        }
        let t5 = BenchClock.now()
        var r = StepReport(loss: lossSum / Double(gradAccum), gradNorm: norm, skipped: skipped)
        if skipped {
            r.firstNonFinite = model.trainableParameters.first { !($0.tensor.grad?.sumOfSquares().isFinite ?? true) }?.name
        }
        r.forwardSeconds = fw
        r.backwardSeconds = bw
        r.gradNormSeconds = t4 - t3
        r.optimizerSeconds = t5 - t4
        r.totalSeconds = t5 - start
        r.optimizerMetrics = metrics
        r.optimizerEvents = events
        r.recordPhases(training: trainingPeak, update: BufferPool.shared.peakSnapshot)
        return r
    }

    /// Queries of zeroth-order step `step`: the fixed n, or the adaptive schedule's Q (0 for
    /// a gradient optimizer).
    public func queries(step: Int) -> Int {
        switch optimizer.zerothOrder?.queries {
        case .fixed(let n): return n
        case .adaptive: return querySchedule!.queries(step: step)
        case nil: return 0
        }
    }

    /// One step with the update inside backward: the gradient of each weight is checked,
    /// used and released as soon as backward completes it. The global norm is reported
    /// (summed in parameter order, as `GradientClipping.globalNorm`), never applied.
    func runPerLayer(step: Int, lr: Double, batch b: (inputs: [Int32], targets: [Int32])) throws -> StepReport {
        let start = BenchClock.now()
        for p in model.trainableParameters { p.tensor.grad = nil }
        let lossSeed = Tensor(shape: [], values: [1])
        let (loss, tape) = Tape.record {
            model.loss(tokens: b.inputs, targets: b.targets, batch: batchSize, seqLen: seqLen, lossGradient: 1)
        }
        let t1 = BenchClock.now()
        optimizer.beginStep()
        var squares = [Double](repeating: 0, count: model.trainableParameters.count)
        var failure: Error?
        var updateSeconds = 0.0
        tape.backward(from: loss, seed: lossSeed) { w in
            guard failure == nil, let i = optimizer.assignmentIndex(of: w), let g = w.grad else { return }
            let u0 = BenchClock.now()
            squares[i] = g.sumOfSquares()
            if squares[i].isFinite {
                do { try optimizer.update(i, step: step, lr: lr, seed: seed) } catch { failure = error }
            } else {
                failure = OptimizerError("step \(step), \(optimizer.assignments[i].info.name): the gradient is not finite (loss \(loss.scalar)); with per_layer_update the step cannot be skipped, since the weights after it in backward order are already updated")
            }
            w.grad = nil
            updateSeconds += BenchClock.now() - u0
        }
        if let failure { throw failure }
        let t2 = BenchClock.now()
        var r = StepReport(loss: Double(loss.scalar), gradNorm: squares.reduce(0, +).squareRoot(), skipped: false)
        r.forwardSeconds = t1 - start
        r.backwardSeconds = t2 - t1 - updateSeconds
        r.optimizerSeconds = updateSeconds
        r.totalSeconds = t2 - start
        r.optimizerMetrics = optimizer.metrics.values
        r.optimizerEvents = optimizer.metrics.events
        r.recordPhases(training: BufferPool.shared.peakSnapshot, update: BufferPool.shared.peakSnapshot)
        return r
    }
}
