// LlamaDecode: inference with a key/value cache. `prefill` runs a prompt once (batch 1) and
// stores every layer's rotated keys and values in a KVCache; `decode` then runs ONE new token
// at the next position against the cache (q/k/v of one row, rotary at that position, the
// attention of one query over the cached keys, MLP, final norm and head for that row only).
// Nothing here records on the autograd tape: both refuse to run while a tape is active.
//
// Sliding window (WindowedDecoder): the context is at most `window` positions, one cache of
// that capacity. While prompt + generated tokens fit the window, the generated tokens equal
// those of running `logits` over the whole context for every token (what
// Sampler.generateRecomputing does): the logits are the same products and agree to float
// rounding (OpenBLAS multiplies one row with other kernels than many rows; tested to 1e-5
// relative), so a draw could differ only if it fell within that rounding of the boundary
// between two tokens. When the window is full, recomputation would drop the oldest token and
// shift every position by one, which would invalidate every cached rotated key; instead the
// cache is rebuilt by a prefill of the last max(1, window/2) tokens (the newest included),
// leaving window/2 free positions before the next rebuild. Past the window the context
// therefore spans window/2 … window tokens rather than always the last `window`, and each
// rebuild costs one prefill of window/2 tokens per window/2 generated tokens.
import Tensors

extension Llama {
    /// An empty cache of `capacity` positions (1 ≤ capacity ≤ max_position_embeddings).
    public func makeKVCache(capacity: Int) -> KVCache { KVCache(config: config, capacity: capacity) }

    /// Runs `tokens` (one sequence at positions 0..<T, 1 ≤ T ≤ cache.capacity) through the
    /// model, replacing the cache's contents by their keys and values, and returns the logits
    /// [V] of the last position: row T−1 of `logits(tokens:batch: 1, seqLen: T)`.
    public func prefill(_ tokens: [Int32], cache: KVCache) -> Tensor {
        requireNoTape("prefill")
        requireMatching(cache)
        let n = tokens.count, d = config.hiddenSize
        precondition(n >= 1 && n <= cache.capacity,
                     "prefill: \(n) tokens for a cache of \(cache.capacity) positions (need 1...\(cache.capacity))")
        cache.count = 0
        var h = embedding(tokens, embed)                                        // [T, d]
        for (l, b) in blocks.enumerated() {  // the training block, keeping K (rotated) and V
            h = forward(b, h, batch: 1, seqLen: n, layer: l) { k, v in
                cache.keys[l].pointer.update(from: k.pointer, count: n * d)
                cache.values[l].pointer.update(from: v.pointer, count: n * d)
            }
        }
        cache.count = n
        let last = Tensor(uninitializedShape: [d])                               // [d]: row T−1
        last.pointer.update(from: h.pointer + (n - 1) * d, count: d)
        return headLogits(last)
    }

    /// Runs one token at position p = cache.count (< cache.capacity) against the cached
    /// positions 0..<p, appends its key and value at row p, and returns its logits [V]:
    /// the row p of `logits` over the whole sequence the cache was built from plus `token`.
    public func decode(_ token: Int32, cache: KVCache) -> Tensor {
        requireNoTape("decode")
        requireMatching(cache)
        let p = cache.count, d = config.hiddenSize, heads = config.numAttentionHeads
        precondition(p < cache.capacity,
                     "decode: the cache is full (\(cache.capacity) positions); prefill a shorter context first")
        precondition(token >= 0 && Int(token) < config.vocabSize,
                     "decode: token \(token) outside 0..<\(config.vocabSize)")
        let eps = Float(config.rmsNormEps)
        var h = Tensor(uninitializedShape: [d])                                  // [d]: embedding row
        h.pointer.update(from: embed.pointer + Int(token) * d, count: d)
        for (l, b) in blocks.enumerated() {
            let a = rmsNorm(h, b.inputNorm, eps: eps)                            // [d]
            let q = linear(a, b.q), k = linear(a, b.k), v = linear(a, b.v)       // [d] each
            rotaryRow(q.pointer, into: q.pointer, position: p, heads: heads, table: rotaryTable)
            rotaryRow(k.pointer, into: cache.keys[l].pointer + p * d, position: p, heads: heads, table: rotaryTable)
            (cache.values[l].pointer + p * d).update(from: v.pointer, count: d)
            let att = Tensor(uninitializedShape: [d])                            // [d]
            attendOne(query: q.pointer, keys: cache.keys[l].pointer, values: cache.values[l].pointer,
                      positions: p + 1, cache: cache, out: att.pointer)
            func adapt(_ x: Tensor, _ site: AdapterSite) -> Tensor { adapters?.adapt(x, at: site, layer: l) ?? x }
            h = add(h, adapt(linear(att, b.o), .attentionOutput))
            let m = rmsNorm(h, b.postNorm, eps: eps)
            h = add(h, adapt(linear(swiGLU(linear(adapt(m, .gateInput), b.gate), linear(adapt(m, .upInput), b.up)), b.down),
                             .downOutput))  // [d]
        }
        cache.count = p + 1
        return headLogits(h)
    }

    /// logits [V] = head · rmsNorm(x) for one hidden row x [d].
    private func headLogits(_ x: Tensor) -> Tensor {
        linear(rmsNorm(x, finalNorm, eps: Float(config.rmsNormEps)), head)
    }

    private func requireNoTape(_ what: String) {
        precondition(Tape.active == nil,
                     "\(what): KV-cached inference must not run while an autograd tape is recording (Tape.active != nil); use logits(tokens:batch:seqLen:) for training")
    }

    private func requireMatching(_ cache: KVCache) {
        precondition(cache.layers == blocks.count && cache.width == config.hiddenSize
                        && cache.heads == config.numAttentionHeads
                        && cache.capacity <= config.maxPositionEmbeddings,
                     "KVCache of \(cache.layers) layers × \(cache.width) (\(cache.heads) heads, \(cache.capacity) positions) does not fit this model")
    }

    /// Attention of one query row q [heads·hd] over rows 0..<n of the cached K and V
    /// [capacity, d]: per head h, s = q_h · K_h[0..<n]ᵀ / √hd (into the cache's score
    /// scratch, row h), P = softmax(s), out_h = P · V_h[0..<n]. out is [d].
    private func attendOne(query q: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                           values: UnsafePointer<Float>, positions n: Int, cache: KVCache,
                           out: UnsafeMutablePointer<Float>) {
        let heads = cache.heads, d = cache.width, hd = d / heads, capacity = cache.capacity
        let scale = 1 / Float(hd).squareRoot()
        let qp = SendablePointer(UnsafeMutablePointer(mutating: q))
        let kp = SendablePointer(UnsafeMutablePointer(mutating: keys))
        let vp = SendablePointer(UnsafeMutablePointer(mutating: values))
        let sp = SendablePointer(cache.scores.pointer), op = SendablePointer(out)
        // Heads go to separate threads only once a head is ≳ 32 Ki multiply-adds.
        let grain = max(1, (1 << 15) / max(1, 2 * n * hd))
        Parallel.forRanges(heads, grain: grain) { range in
            for h in range {
                let s = sp.p + h * capacity
                BLAS.sgemm(transB: true, m: 1, n: n, k: hd, alpha: scale,
                           a: qp.p + h * hd, lda: d, b: kp.p + h * hd, ldb: d,
                           c: s, ldc: n)                                     // [1, n]
                attentionSoftmaxRow(s, count: n)
                BLAS.sgemm(m: 1, n: hd, k: n, a: s, lda: n, b: vp.p + h * hd, ldb: d,
                           c: op.p + h * hd, ldc: d)                          // [1, hd]
            }
        }
    }
}

/// Generation over a sliding context window with one KVCache of `window` positions (see the
/// file comment): `start` prefills the prompt's last `window` tokens, `append` feeds each
/// chosen token and returns the logits of the next choice, rebuilding the cache from the last
/// `refillLength` tokens whenever it is full.
public final class WindowedDecoder {
    public let model: Llama
    /// The one cache, capacity = window; never reallocated.
    public let cache: KVCache
    /// The tokens the cache holds, oldest first (count == cache.count ≤ window).
    public private(set) var context: [Int32] = []
    /// Cache rebuilds so far (each a prefill of `refillLength` tokens).
    public private(set) var refills = 0

    /// Context window in tokens.
    public var window: Int { cache.capacity }
    /// Tokens kept (newest included) when the window is full: max(1, window/2).
    public var refillLength: Int { max(1, window / 2) }

    /// A decoder over a window of 1...max_position_embeddings tokens.
    public init(model: Llama, window: Int) {
        precondition(window >= 1 && window <= model.config.maxPositionEmbeddings,
                     "context window \(window) must be in 1...\(model.config.maxPositionEmbeddings) (max_position_embeddings)")
        self.model = model
        cache = model.makeKVCache(capacity: window)
        context.reserveCapacity(window)
    }

    /// Prefills the last `window` tokens of a non-empty prompt; returns the logits [V] of
    /// its last token.
    public func start(prompt: [Int32]) -> Tensor {
        precondition(!prompt.isEmpty, "WindowedDecoder.start: empty prompt")
        context.removeAll(keepingCapacity: true)
        context.append(contentsOf: prompt.suffix(window))
        return model.prefill(context, cache: cache)
    }

    /// Appends `token` to the context and returns the logits [V] that follow it: one decode
    /// step, or a prefill of the last `refillLength` tokens when the window is full.
    public func append(_ token: Int32) -> Tensor {
        precondition(!context.isEmpty, "WindowedDecoder.append before start(prompt:)")
        if cache.isFull {
            context.removeFirst(context.count - (refillLength - 1))
            context.append(token)
            refills += 1
            return model.prefill(context, cache: cache)
        }
        context.append(token)
        return model.decode(token, cache: cache)
    }
}
