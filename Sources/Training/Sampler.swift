// Sampler: text generation from a trained model — temperature scaling, optional top-k,
// and a seeded draw, recomputing the (short) context each token; enough to see what a
// small model has learned, not a serving engine.
import Foundation
import LlamaModel
import Tensors

public struct Sampler {
    public let model: Llama
    public var temperature: Double
    public var topK: Int
    public var rng: RandomGenerator

    public init(model: Llama, temperature: Double, topK: Int, seed: UInt64) {
        self.model = model
        self.temperature = temperature
        self.topK = topK
        self.rng = RandomGenerator(seed: seed).derived(stream: 0x5A3E)
    }

    /// Appends `count` tokens to `prompt` (context truncated to `window` most recent tokens).
    public mutating func generate(prompt: [Int32], count: Int, window: Int) -> [Int32] {
        var tokens = prompt
        let v = model.config.vocabSize
        for _ in 0..<count {
            let ctx = Array(tokens.suffix(window))
            let logits = model.logits(tokens: ctx, batch: 1, seqLen: ctx.count)
            let row = UnsafeBufferPointer(start: logits.pointer + (ctx.count - 1) * v, count: v)
            tokens.append(Int32(pick(row)))
        }
        return tokens
    }

    /// Draws one id from a row of logits.
    mutating func pick(_ logits: UnsafeBufferPointer<Float>) -> Int {
        if temperature <= 0 { return logits.indices.max { logits[$0] < logits[$1] }! }
        var ids = Array(logits.indices)
        if topK > 0 && topK < ids.count {
            ids.sort { logits[$0] > logits[$1] }
            ids = Array(ids.prefix(topK))
        }
        let maxLogit = ids.map { Double(logits[$0]) }.max()!
        let weights = ids.map { Foundation.exp((Double(logits[$0]) - maxLogit) / temperature) }
        var u = Double(rng.uniform()) * weights.reduce(0, +)
        for (i, w) in zip(ids, weights) {
            u -= w
            if u <= 0 { return i }
        }
        return ids.last!
    }
}
