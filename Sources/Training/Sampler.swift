// Sampler: text generation from a trained model — temperature scaling, optional top-k, and a
// seeded draw. `generate` runs the prompt once and then one token at a time against a
// key/value cache over a sliding context window (LlamaDecode.swift: same tokens as full
// recomputation while the text fits the window; past it the cache is rebuilt from the last
// window/2 tokens). `generateRecomputing` is the plain reference: the whole context (last
// `window` tokens) through the model for every token. Enough to see what a small model has
// learned, not a serving engine.
import Foundation
import LlamaModel
import Tensors

/// Token counts and wall-clock seconds of the last generation.
public struct GenerationTiming: Sendable, Equatable {
    /// Prompt tokens run by the first prefill (the prompt's last `window` tokens).
    public var promptTokens = 0
    /// Seconds of that first prefill.
    public var prefillSeconds = 0.0
    /// Tokens generated.
    public var generatedTokens = 0
    /// Seconds from the end of the prefill to the last token (draws, decode steps, and the
    /// cache rebuilds past the window).
    public var generationSeconds = 0.0
    /// Cache rebuilds (window full).
    public var refills = 0

    public init() {}

    /// Generated tokens per second (0 when nothing was timed).
    public var tokensPerSecond: Double { generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0 }
}

public struct Sampler {
    public let model: Llama
    public var temperature: Double
    public var topK: Int
    public var rng: RandomGenerator
    /// Only ids below this are drawn (the tokenizer's vocabulary, when the model's is padded
    /// beyond it); default: the model's vocab_size.
    public var vocabularyLimit: Int
    /// Counts and times of the last `generate` / `generateRecomputing`.
    public private(set) var timing = GenerationTiming()

    public init(model: Llama, temperature: Double, topK: Int, seed: UInt64) {
        self.model = model
        self.temperature = temperature
        self.topK = topK
        self.rng = RandomGenerator(seed: seed).derived(stream: 0x5A3E)
        self.vocabularyLimit = model.config.vocabSize
    }

    /// Appends `count` tokens to a non-empty `prompt`, decoding with a key/value cache of
    /// `window` positions (1...max_position_embeddings); the cache is allocated once. Ends a
    /// buffer-pool epoch, so the cache's pages go back once it is dropped.
    public mutating func generate(prompt: [Int32], count: Int, window: Int) -> [Int32] {
        precondition(!prompt.isEmpty, "generate: empty prompt")
        timing = GenerationTiming()
        guard count > 0 else { return prompt }
        let tokens = cachedGeneration(prompt: prompt, count: count, window: window)
        BufferPool.shared.endEpoch()
        return tokens
    }

    /// The body of `generate`; the decoder and its cache are released when it returns.
    private mutating func cachedGeneration(prompt: [Int32], count: Int, window: Int) -> [Int32] {
        var tokens = prompt
        tokens.reserveCapacity(prompt.count + count)
        let decoder = WindowedDecoder(model: model, window: window)
        let t0 = ContinuousClock.now
        var logits = decoder.start(prompt: prompt)                              // [V]
        let t1 = ContinuousClock.now
        for i in 0..<count {
            let next = Int32(pick(UnsafeBufferPointer(start: logits.pointer, count: min(logits.count, vocabularyLimit))))
            tokens.append(next)
            if i + 1 < count { logits = decoder.append(next) }
        }
        let t2 = ContinuousClock.now
        timing.promptTokens = min(prompt.count, window)
        timing.prefillSeconds = seconds(t1 - t0)
        timing.generatedTokens = count
        timing.generationSeconds = seconds(t2 - t1)
        timing.refills = decoder.refills
        return tokens
    }

    /// Appends `count` tokens to `prompt` recomputing the whole context (the `window` most
    /// recent tokens) for every token: the reference `generate` is checked against.
    public mutating func generateRecomputing(prompt: [Int32], count: Int, window: Int) -> [Int32] {
        timing = GenerationTiming()
        var tokens = prompt
        let v = model.config.vocabSize
        let t0 = ContinuousClock.now
        for _ in 0..<count {
            let ctx = Array(tokens.suffix(window))
            let logits = model.logits(tokens: ctx, batch: 1, seqLen: ctx.count)
            let row = UnsafeBufferPointer(start: logits.pointer + (ctx.count - 1) * v, count: min(v, vocabularyLimit))
            tokens.append(Int32(pick(row)))
        }
        timing.generatedTokens = count
        timing.generationSeconds = seconds(ContinuousClock.now - t0)
        BufferPool.shared.endEpoch()
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

private func seconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) + Double(c.attoseconds) * 1e-18
}
