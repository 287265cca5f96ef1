// KVCache and LlamaDecode: prefill + one-token decode give the logits of full recomputation
// at every position, cached generation draws the same tokens as recomputation, and over a
// sliding window the cache stays at its capacity and is rebuilt from the last window/2 tokens.
import Foundation
import XCTest
import LlamaModel
import Tensors

final class KVCacheTests: XCTestCase {
    /// hd = 8: the rotary and softmax tails (scalar code) only.
    let micro = LlamaConfig(vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2,
                            numAttentionHeads: 4, maxPositionEmbeddings: 64)
    /// hd = 32: the eight-lane rotary path too.
    let wideHeads = LlamaConfig(vocabSize: 64, hiddenSize: 64, intermediateSize: 96, numHiddenLayers: 2,
                                numAttentionHeads: 2, maxPositionEmbeddings: 64)

    /// Relative tolerance of cached against recomputed values: max |Δ| ≤ 1e-5 · max(1, max |row|).
    /// Not bitwise: OpenBLAS multiplies one row with other kernels than many rows (a [1, 64]
    /// product differs from the same row of a [64, 64] one by about an ulp), so the two paths
    /// agree to rounding; measured up to 7.3e-6 here.
    let tolerance: Float = 1e-5

    /// Weights larger than the default init (std 0.3, norms around 1) so logits are far from
    /// uniform and ties between tokens are rare.
    func model(_ config: LlamaConfig, seed: UInt64) -> Llama {
        var rng = RandomGenerator(seed: seed)
        return Llama(config: config) { shape, role in
            role == .norm ? Tensor.randn(shape, std: 0.2, mean: 1, rng: &rng) : Tensor.randn(shape, std: 0.3, rng: &rng)
        }
    }

    func tokens(_ n: Int, vocab: Int, seed: UInt64) -> [Int32] {
        var rng = RandomGenerator(seed: seed)
        return (0..<n).map { _ in Int32(rng.int(below: vocab)) }
    }

    /// max |a − b| / max(1, max |b|).
    func relativeError(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        precondition(a.count == b.count)
        var diff: Float = 0, scale: Float = 1
        for i in 0..<a.count { diff = max(diff, abs(a[i] - b[i])); scale = max(scale, abs(b[i])) }
        return diff / scale
    }

    /// Row `row` of a [N, V] logits tensor.
    func row(_ t: Tensor, _ row: Int, _ v: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: t.pointer + row * v, count: v)
    }

    func all(_ t: Tensor) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: t.pointer, count: t.count) }

    // MARK: (1) logits

    func testPrefillAndDecodeMatchFullLogitsAtEveryPosition() {
        for config in [micro, wideHeads] {
            let m = model(config, seed: 11)
            let v = config.vocabSize, n = config.maxPositionEmbeddings
            let seq = tokens(n, vocab: v, seed: 5)
            let full = m.logits(tokens: seq, batch: 1, seqLen: n)              // [n, V]
            for promptLength in [1, 7] {
                let cache = m.makeKVCache(capacity: n)
                let first = m.prefill(Array(seq.prefix(promptLength)), cache: cache)
                XCTAssertEqual(first.shape, [v])
                XCTAssertEqual(cache.count, promptLength)
                var worst = relativeError(all(first), row(full, promptLength - 1, v))
                for p in promptLength..<n {
                    let logits = m.decode(seq[p], cache: cache)                  // [V]
                    XCTAssertEqual(cache.count, p + 1)
                    worst = max(worst, relativeError(all(logits), row(full, p, v)))
                }
                XCTAssertLessThanOrEqual(worst, tolerance, "d \(config.hiddenSize), prompt \(promptLength)")
                XCTAssertTrue(cache.isFull)
                // The decoded keys and values are those a prefill of the whole sequence stores.
                let reference = m.makeKVCache(capacity: n)
                _ = m.prefill(seq, cache: reference)
                for l in 0..<config.numHiddenLayers {
                    let (k, kr) = (cache.keyRows(layer: l), reference.keyRows(layer: l))
                    let (vv, vr) = (cache.valueRows(layer: l), reference.valueRows(layer: l))
                    k.withUnsafeBufferPointer { a in kr.withUnsafeBufferPointer { b in
                        XCTAssertLessThanOrEqual(relativeError(a, b), tolerance, "keys of layer \(l)")
                    } }
                    vv.withUnsafeBufferPointer { a in vr.withUnsafeBufferPointer { b in
                        XCTAssertLessThanOrEqual(relativeError(a, b), tolerance, "values of layer \(l)")
                    } }
                }
            }
        }
    }

    func testPrefillResetsTheCacheAndDecodeAllocatesNothingThatStays() {
        let m = model(micro, seed: 2)
        let cache = m.makeKVCache(capacity: 32)
        let seq = tokens(32, vocab: micro.vocabSize, seed: 9)
        _ = m.prefill(Array(seq.prefix(20)), cache: cache)
        _ = m.prefill(Array(seq.prefix(3)), cache: cache)                        // starts over
        XCTAssertEqual(cache.count, 3)
        let full = m.logits(tokens: Array(seq.prefix(4)), batch: 1, seqLen: 4)
        let next = m.decode(seq[3], cache: cache)
        XCTAssertLessThanOrEqual(relativeError(all(next), row(full, 3, micro.vocabSize)), tolerance)
        // Live pool bytes are the same after every step: nothing per token outlives its step.
        var live: [Int] = []
        for p in 4..<32 {
            _ = m.decode(seq[p], cache: cache)
            live.append(BufferPool.shared.liveBytes)
        }
        XCTAssertEqual(Set(live).count, 1, "live bytes changed across decode steps: \(live)")
        XCTAssertEqual(cache.bytes, (2 * 2 * 32 * 32 + 4 * 32) * 4)
    }

    // MARK: (2) tokens

    /// The Sampler's draw (temperature, optional top-k, one uniform per token), local to this
    /// module's tests; Training's Sampler is compared the same way in the CLI tests.
    struct Draw {
        var temperature: Double, topK: Int, rng: RandomGenerator
        mutating func pick(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
            if temperature <= 0 { return Int32(logits.indices.max { logits[$0] < logits[$1] }!) }
            var ids = Array(logits.indices)
            if topK > 0 && topK < ids.count { ids.sort { logits[$0] > logits[$1] }; ids = Array(ids.prefix(topK)) }
            let top = ids.map { Double(logits[$0]) }.max()!
            let w = ids.map { Foundation.exp((Double(logits[$0]) - top) / temperature) }
            var u = Double(rng.uniform()) * w.reduce(0, +)
            for (i, x) in zip(ids, w) { u -= x; if u <= 0 { return Int32(i) } }
            return Int32(ids.last!)
        }
    }

    func recomputed(_ m: Llama, prompt: [Int32], count: Int, window: Int, draw: Draw) -> [Int32] {
        var draw = draw, out = prompt
        for _ in 0..<count {
            let ctx = Array(out.suffix(window))
            let logits = m.logits(tokens: ctx, batch: 1, seqLen: ctx.count)
            out.append(draw.pick(row(logits, ctx.count - 1, m.config.vocabSize)))
        }
        return out
    }

    func cached(_ m: Llama, prompt: [Int32], count: Int, window: Int, draw: Draw) -> (tokens: [Int32], decoder: WindowedDecoder) {
        var draw = draw, out = prompt
        let decoder = WindowedDecoder(model: m, window: window)
        var logits = decoder.start(prompt: prompt)
        for i in 0..<count {
            out.append(draw.pick(all(logits)))
            if i + 1 < count { logits = decoder.append(out.last!) }
        }
        return (out, decoder)
    }

    func testCachedGenerationDrawsTheTokensOfRecomputationWithinTheWindow() {
        let m = model(micro, seed: 4)
        let prompt = tokens(6, vocab: micro.vocabSize, seed: 1)
        for (temperature, topK) in [(0.8, 0), (0.8, 10), (0.0, 0)] {
            let draw = Draw(temperature: temperature, topK: topK, rng: RandomGenerator(seed: 3).derived(stream: 7))
            let a = recomputed(m, prompt: prompt, count: 40, window: 64, draw: draw)
            let (b, decoder) = cached(m, prompt: prompt, count: 40, window: 64, draw: draw)
            XCTAssertEqual(b, a, "temperature \(temperature), top-k \(topK)")
            XCTAssertEqual(decoder.refills, 0)
            XCTAssertGreaterThan(Set(a.suffix(40)).count, temperature > 0 ? 10 : 1, "a degenerate sequence tests little")
        }
    }

    // MARK: (3) window

    func testGenerationPastTheWindowRebuildsTheCacheWithinItsCapacity() {
        let m = model(micro, seed: 8)
        let v = micro.vocabSize, window = 16, prompt = tokens(5, vocab: v, seed: 2)
        var draw = Draw(temperature: 0.8, topK: 0, rng: RandomGenerator(seed: 6))
        let decoder = WindowedDecoder(model: m, window: window)
        XCTAssertEqual(decoder.refillLength, 8)
        var out = prompt
        var logits = decoder.start(prompt: prompt)
        for i in 0..<60 {
            out.append(draw.pick(all(logits)))
            if i + 1 == 60 { break }
            logits = decoder.append(out.last!)
            XCTAssertEqual(decoder.cache.capacity, window)
            XCTAssertLessThanOrEqual(decoder.cache.count, window)
            XCTAssertEqual(decoder.context.count, decoder.cache.count)
            XCTAssertEqual(decoder.context, Array(out.suffix(decoder.context.count)), "the context is the newest tokens")
            // Whatever the cache went through, the logits are those of its context recomputed.
            let ctx = decoder.context
            let full = m.logits(tokens: ctx, batch: 1, seqLen: ctx.count)
            XCTAssertLessThanOrEqual(relativeError(all(logits), row(full, ctx.count - 1, v)), tolerance, "step \(i)")
        }
        // Filled at the 11th append (5 + 11 = 16); then a rebuild to 8 tokens on the 12th
        // append and every 9th after it: appends 12, 21, 30, 39, 48, 57 of 59.
        XCTAssertEqual(decoder.refills, 6)
        // Until the first rebuild the draws are those of recomputation over the same window.
        let reference = recomputed(m, prompt: prompt, count: 60, window: window,
                                   draw: Draw(temperature: 0.8, topK: 0, rng: RandomGenerator(seed: 6)))
        XCTAssertEqual(Array(out.prefix(5 + 12)), Array(reference.prefix(5 + 12)))
    }

    func testAWindowOfOneAndALongPromptWork() {
        let m = model(micro, seed: 8)
        let one = WindowedDecoder(model: m, window: 1)
        _ = one.start(prompt: [1, 2, 3])
        XCTAssertEqual(one.context, [3])
        for t: Int32 in [4, 5, 6] {
            let logits = one.append(t)
            let full = m.logits(tokens: [t], batch: 1, seqLen: 1)
            XCTAssertLessThanOrEqual(relativeError(all(logits), all(full)), tolerance)
        }
        XCTAssertEqual(one.refills, 3)
        XCTAssertEqual(one.cache.capacity, 1)
        // A prompt longer than the window is cut to its last `window` tokens.
        let long = tokens(40, vocab: micro.vocabSize, seed: 4)
        let d = WindowedDecoder(model: m, window: 10)
        let logits = d.start(prompt: long)
        XCTAssertEqual(d.context, Array(long.suffix(10)))
        let full = m.logits(tokens: Array(long.suffix(10)), batch: 1, seqLen: 10)
        XCTAssertLessThanOrEqual(relativeError(all(logits), row(full, 9, micro.vocabSize)), tolerance)
    }
}

/// With tensor-train adapters attached (either placement), the KV-cached decode still gives
/// the logits of full recomputation.
final class KVCacheAdapterTests: XCTestCase {
    func testDecodeWithAdaptersMatchesRecomputation() throws {
        let config = LlamaConfig(vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2,
                                 numAttentionHeads: 4, maxPositionEmbeddings: 64)
        for placement in AdapterPlacement.allCases {
            let model = Llama(config: config, seed: 9)
            try model.attachAdapters(AdapterConfig(rank: 2, bottleneck: 8, placement: placement), seed: 3)
            var rng = RandomGenerator(seed: 5)
            let tokens = (0..<12).map { _ in Int32(rng.int(below: 64)) }
            let full = model.logits(tokens: tokens, batch: 1, seqLen: 12)           // [12, 64]
            let cache = model.makeKVCache(capacity: 16)
            var logits = model.prefill(Array(tokens.prefix(6)), cache: cache)
            for t in 6..<12 {
                logits = model.decode(tokens[t], cache: cache)
                var diff: Float = 0, scale: Float = 1
                for v in 0..<64 { diff = max(diff, abs(logits[v] - full[t * 64 + v])); scale = max(scale, abs(full[t * 64 + v])) }
                XCTAssertLessThan(diff / scale, 1e-5, "\(placement), position \(t)")
            }
        }
    }
}
