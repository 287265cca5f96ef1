// MemoryReport: what a training run will hold, per optimizer, without training it — the same
// parts as a run's memory account (MemoryAccount) and their sum, the predicted peak RSS —
// for `swift-train memory`.
// - Parameters are counted; optimizer state comes from the same code that counts a run's
//   state (the plan is built, its buffers reserved but never touched).
// - Gradients, activations, optimizer work and the pool's free bytes at the step's peak are
//   measured, not estimated: two real training steps (TrainingStep, the config's optimizer
//   and memory levers) on 2- and 3-layer copies of the model at the same widths and B×T,
//   extended linearly to its layer count (every block holds the same tensors).
// - The rest of the process (program, libraries, OpenBLAS's buffers, heap) is measured in
//   this process after those steps; the data folder's files are added as mapped pages.
import Foundation
import LlamaModel
import Optimizers
import Tensors

public struct MemoryFigures: Sendable {
    public var optimizer: String
    public var parameterBytes = 0
    public var gradientBytes = 0
    public var optimizerStateBytes = 0
    public var activationBytes = 0
    public var optimizerWorkBytes = 0
    public var poolFreeBytes = 0
    /// Program, libraries, OpenBLAS buffers and heap outside the tensors (measured here).
    public var runtimeBytes = 0
    /// Token shards and tokenizer of the data folder (mapped; an upper bound).
    public var dataBytes = 0
    /// Data-parallel figures (`memory --ranks N`): each rank's optimizer state (empty for one
    /// process) and the gradient all-reduce's buffer. Open MPI's own memory is not predicted
    /// (a run measures it: `mpi_runtime_bytes` in its summary).
    public var stateBytesPerRank: [Int] = []
    public var communicationBytes = 0
    /// The predicted peak resident memory of the run.
    public var totalBytes: Int {
        parameterBytes + gradientBytes + optimizerStateBytes + activationBytes + optimizerWorkBytes + poolFreeBytes
            + runtimeBytes + dataBytes + communicationBytes
    }
}

public enum MemoryReport {
    /// Optimizer-state bytes of `config`'s optimizer for its model (a reserved, untouched plan).
    public static func optimizerStateBytes(_ config: RunConfig) throws -> Int {
        try countingOptimizer(config).stateBytes
    }

    /// The optimizer state of each rank of a ZeRO-1 run over `ranks` ranks (ShardPlan).
    public static func stateBytesPerRank(_ config: RunConfig, ranks: Int) throws -> [Int] {
        ShardPlan(try countingOptimizer(config), ranks: ranks).stateBytes
    }

    /// `config`'s optimizer for its model, reserved but untouched (for counting).
    static func countingOptimizer(_ config: RunConfig) throws -> Optimizer {
        var config = config
        _ = try config.resolveOptimizerKeys()
        let mc = try config.modelConfig()
        let model = Llama(config: mc) { shape, _ in Tensor(uninitializedShape: shape) }
        if let adapters = try config.adapterConfig() { try model.attachAdapters(adapters, seed: 0) }
        let settings = config.optimizerSettings
        do {
            return try OptimizerCatalog.make(settings, model: ModelDescription(mc), parameters: model.trainableParameters,
                                             materialized: false)
        } catch let e as OptimizerError {
            throw ConfigError("optimizer \(settings.name): \(e.description)")
        }
    }

    /// The pool during a training step of `config` (its optimizer, clipping and memory
    /// levers, one micro-batch) on a copy of its model with `layers` blocks at B×T: the live
    /// peaks of forward/backward and of the update (each the larger of two steps': the first
    /// holds one-off work such as a projector's first SVD, the second the steady state), and
    /// the most bytes the pool held in either step.
    public static func measureStep(_ config: RunConfig, layers: Int, batch: Int, seqLen: Int) throws
        -> (training: PoolSnapshot, update: PoolSnapshot, peakHeld: Int) {
        var config = config
        _ = try config.resolveOptimizerKeys()
        try config.validateMemoryLevers()
        var mc = try config.modelConfig()
        mc.numHiddenLayers = layers
        BufferPool.shared.releaseFree()
        let model = Llama(config: mc, seed: 0)
        model.activationCheckpointing = config.bool("activation_checkpointing")
        // AdaZeta's query count does not change what a step holds: one epoch for the whole run.
        let stepper = try Trainer.makeStepper(config, model: model, batchSize: batch, seqLen: seqLen, gradAccum: 1,
                                              trainTokens: batch * seqLen * max(1, config.steps))
        var rng = RandomGenerator(seed: 11).derived(stream: 0x3E3)
        let tokens = (0..<(batch * seqLen + 1)).map { _ in Int32(rng.int(below: mc.vocabSize)) }
        var training = PoolSnapshot(), update = PoolSnapshot(), mostHeld = 0
        for s in 1...2 {
            let r: StepReport
            do {
                r = try stepper.run(step: s, lr: 1e-4) { _ in (Array(tokens.dropLast()), Array(tokens.dropFirst())) }
            } catch let e as OptimizerError { throw ConfigError(e.description) }
            if r.trainingPhaseMemory.liveTotal > training.liveTotal { training = r.trainingPhaseMemory }
            if r.optimizerPhaseMemory.liveTotal > update.liveTotal { update = r.optimizerPhaseMemory }
            mostHeld = max(mostHeld, r.memory.peakHeld)
            BufferPool.shared.endEpoch()
        }
        return (training, update, mostHeld)
    }

    /// Gradient, activation and optimizer-work bytes at the step's live peak and the rest the
    /// pool holds at its most (pool free), for the full model: each phase's live peak and
    /// the pool's most are measured on 2- and 3-layer copies and extended linearly (exact
    /// when L ≤ 3); the phase with the larger extended live bytes is the step's live peak.
    public static func stepBytes(_ config: RunConfig, batch: Int, seqLen: Int) throws
        -> (gradients: Int, activations: Int, optimizerWork: Int, poolFree: Int) {
        let l = try config.modelConfig().numHiddenLayers
        func live(_ s: PoolSnapshot) -> [Int] { [s[.gradient], s[.activation], s[.optimizerWork]] }
        // Everything the pool held at its most beyond the weights and the optimizer state.
        func beyond(_ m: (training: PoolSnapshot, update: PoolSnapshot, peakHeld: Int)) -> Int {
            m.peakHeld - m.training[.parameter] - m.training[.optimizerState]
        }
        var phases: [[Int]], most: Int
        if l <= 3 {
            let m = try measureStep(config, layers: l, batch: batch, seqLen: seqLen)
            phases = [live(m.training), live(m.update)]
            most = beyond(m)
        } else {
            let two = try measureStep(config, layers: 2, batch: batch, seqLen: seqLen)
            let three = try measureStep(config, layers: 3, batch: batch, seqLen: seqLen)
            func extend(_ a: [Int], _ b: [Int]) -> [Int] { zip(a, b).map { max(0, $0 + (l - 2) * ($1 - $0)) } }
            phases = [extend(live(two.training), live(three.training)), extend(live(two.update), live(three.update))]
            most = extend([beyond(two)], [beyond(three)])[0]
        }
        let v = phases.max { $0.reduce(0, +) < $1.reduce(0, +) }!
        return (v[0], v[1], v[2], max(0, most - v[0] - v[1] - v[2]))
    }

    /// A quick upper estimate of a run's peak bytes in Double (no allocation, no overflow):
    /// weights, gradients, AdamW's two moments and the activations a step keeps (the hand
    /// count MemoryAccountTests checks exactly). For refusing runs that cannot fit.
    public static func estimatedPeakBytes(_ m: LlamaConfig, batch: Int, seqLen: Int) -> Double {
        let n = Double(batch) * Double(seqLen), d = Double(m.hiddenSize), i = Double(m.intermediateSize)
        let v = Double(m.vocabSize), l = Double(m.numHiddenLayers), h = Double(m.numAttentionHeads)
        let params = 2 * v * d + l * (4 * d * d + 3 * d * i + 2 * d) + d
        let perBlock = 8 * n * d + 3 * n * i + 2 * n + 2 * n * h
        let activations = n * d + l * perBlock + 2 * n * d + n + min(n, 2_097_152 / max(v, 1) + 1) * v
        return 4 * (4 * params + activations)
    }

    /// Resident bytes of this process outside the pool's tensors: program, libraries,
    /// OpenBLAS's work buffers (allocated by the products already run) and the heap.
    public static func runtimeBytes() -> Int {
        BufferPool.shared.releaseFree()
        return max(0, ProcessMemory.residentBytes - BufferPool.shared.liveBytes)
    }

    /// Bytes of the data folder's shards and tokenizer (0 when it does not exist).
    public static func dataBytes(_ config: RunConfig) -> Int {
        let folder = config.data
        guard !folder.isEmpty else { return 0 }
        return ["train.bin", "val.bin", "tokenizer.model"].reduce(0) { sum, name in
            let path = URL(fileURLWithPath: folder).appendingPathComponent(name).path
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
            return sum + (size ?? 0)
        }
    }

    /// Every figure for `config` (its optimizer, model and memory levers) at B×T. Without
    /// `measureStep`, gradients are the trainable parameters' size (0 for a zeroth-order
    /// optimizer) and the measured parts are 0.
    /// With `ranks` > 1, the figures of one rank of a data-parallel run: the whole model and
    /// gradients, the largest rank's optimizer state, and the step measured on a rank's
    /// micro-batch (RankShare) instead of B.
    public static func figures(_ config: RunConfig, batch: Int, seqLen: Int, measureStep: Bool = true, ranks: Int = 1) throws -> MemoryFigures {
        let mc = try config.modelConfig()
        // The sizes must fit the machine before anything is built or measured.
        var sized = config
        try sized.set("batch_size", text: String(batch))
        try sized.set("seq_len", text: String(seqLen))
        try sized.validateSize(mc)
        var f = MemoryFigures(optimizer: config.string("optimizer"))
        var batch = batch
        if ranks > 1 {
            if config.isZerothOrder || config.bool("per_layer_update") {
                throw ConfigError("--ranks \(ranks): \(config.isZerothOrder ? "a zeroth-order optimizer" : "per_layer_update") runs in one process only, as `train` under mpirun refuses it")
            }
            batch = try RankShare(rank: 0, ranks: ranks, batchSize: batch, gradAccum: config.gradAccum).microSize
            f.stateBytesPerRank = try stateBytesPerRank(config, ranks: ranks)
            // The gradient all-reduce's packing buffer (DataParallel.bucketFloats).
            let trainable = try config.adapterConfig().map { try LlamaAdapters.parameterCount(model: mc, config: $0) } ?? mc.parameterCount
            f.communicationBytes = 4 * min(DataParallel.bucketBytes / 4, trainable)
        }
        // Adapters (when the run attaches them) are parameters too, and then the only ones
        // with gradients; a zeroth-order optimizer keeps no gradient at all.
        let adapterBytes = try config.adapterConfig().map { try LlamaAdapters.parameterCount(model: mc, config: $0) * 4 } ?? 0
        let trainableBytes = adapterBytes > 0 ? adapterBytes : mc.parameterCount * 4
        f.parameterBytes = mc.parameterCount * 4 + adapterBytes
        f.gradientBytes = config.isZerothOrder ? 0 : trainableBytes
        f.optimizerStateBytes = try f.stateBytesPerRank.max() ?? optimizerStateBytes(config)
        if measureStep {
            let s = try stepBytes(config, batch: batch, seqLen: seqLen)
            if config.bool("per_layer_update") && !config.isZerothOrder { f.gradientBytes = s.gradients }
            f.activationBytes = s.activations
            f.optimizerWorkBytes = s.optimizerWork
            f.poolFreeBytes = s.poolFree
            f.runtimeBytes = runtimeBytes()
            f.dataBytes = dataBytes(config)
        }
        return f
    }
}
