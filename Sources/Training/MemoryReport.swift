// MemoryReport: what a training run holds, per optimizer, without training it — parameters,
// gradients, optimizer state and activations for B×T — for `swift-train memory`.
// Optimizer state comes from the same code that counts a run's state (the plan is built,
// its buffers reserved but never touched, and `Optimizer.stateBytes` adds them up).
// Activations are measured, not estimated: the peak of live tensor bytes over one forward
// and backward pass of the real model, minus weights and gradients, taken on 2- and 3-layer
// copies of the model at the same widths and B×T and extended linearly to its layer count
// (every block holds the same tensors; a test checks the extension against a direct measure).
import Foundation
import LlamaModel
import Optimizers
import Tensors

public struct MemoryFigures: Sendable {
    public var optimizer: String
    public var parameterBytes: Int
    public var gradientBytes: Int
    public var optimizerStateBytes: Int
    public var activationBytes: Int
    public var totalBytes: Int { parameterBytes + gradientBytes + optimizerStateBytes + activationBytes }
}

public enum MemoryReport {
    /// Optimizer-state bytes of `config`'s optimizer for its model (a reserved, untouched plan).
    public static func optimizerStateBytes(_ config: RunConfig) throws -> Int {
        var config = config
        _ = try config.resolveOptimizerKeys()
        let mc = try config.modelConfig()
        let model = Llama(config: mc) { shape, _ in Tensor(uninitializedShape: shape) }
        let settings = config.optimizerSettings
        do {
            return try OptimizerCatalog.make(settings, model: ModelDescription(mc), parameters: model.parameters,
                                             materialized: false).stateBytes
        } catch let e as OptimizerError {
            throw ConfigError("optimizer \(settings.name): \(e.description)")
        }
    }

    /// Peak bytes of live tensors over one forward and backward pass of `model` on B×T tokens,
    /// beyond its weights and (already allocated) gradients.
    public static func measuredActivationBytes(_ model: Llama, batch: Int, seqLen: Int) -> Int {
        let v = model.config.vocabSize
        let tokens = (0..<(batch * seqLen)).map { Int32($0 % v) }
        let seed = Tensor(shape: [], values: [1])
        for p in model.parameters { p.tensor.ensureGrad() }
        let base = BufferPool.shared.liveBytes
        BufferPool.shared.resetPeak()
        do {
            let (loss, tape) = Tape.record { model.loss(tokens: tokens, targets: tokens, batch: batch, seqLen: seqLen) }
            tape.backward(from: loss, seed: seed)
        }
        return BufferPool.shared.peakBytes - base - seed.count * 4
    }

    /// Activation bytes of `config` at B×T, measured on 2- and 3-layer copies and extended
    /// linearly to its layer count (exact when L ≤ 3).
    public static func activationBytes(_ config: LlamaConfig, batch: Int, seqLen: Int) -> Int {
        func measure(_ layers: Int) -> Int {
            var c = config
            c.numHiddenLayers = layers
            let model = Llama(config: c, seed: 0)
            return measuredActivationBytes(model, batch: batch, seqLen: seqLen)
        }
        let l = config.numHiddenLayers
        if l <= 3 { return measure(l) }
        let two = measure(2), three = measure(3)
        return two + (l - 2) * (three - two)
    }

    /// Every figure for `config` (its optimizer and model) at B×T.
    public static func figures(_ config: RunConfig, batch: Int, seqLen: Int, activations: Int? = nil) throws -> MemoryFigures {
        let mc = try config.modelConfig()
        let params = mc.parameterCount * 4
        let state = try optimizerStateBytes(config)
        return MemoryFigures(optimizer: config.string("optimizer"), parameterBytes: params, gradientBytes: params,
                             optimizerStateBytes: state,
                             activationBytes: activations ?? activationBytes(mc, batch: batch, seqLen: seqLen))
    }
}
