// KVCache: the keys (after rotary) and values of every layer for the positions a model has
// seen so far, so inference can run one new token against them instead of recomputing the
// whole context. Every buffer is allocated once, for the full capacity (the context window):
// memory does not grow with the number of generated tokens. Inference only (see LlamaDecode).
import Tensors

public final class KVCache {
    /// Positions the cache can hold (the context window).
    public let capacity: Int
    /// Hidden size d = heads · headDim (row length of every K and V buffer).
    public let width: Int
    /// Attention heads per layer.
    public let heads: Int
    /// Positions filled, 0...capacity; rows 0..<count of every buffer are valid.
    public internal(set) var count = 0

    /// Per layer, K [capacity, d]: row p is the key of position p, already rotated by p.
    let keys: [Tensor]
    /// Per layer, V [capacity, d]: row p is the value of position p.
    let values: [Tensor]
    /// [heads, capacity]: scratch of single-query attention, row h holding head h's scores
    /// (then probabilities) over the cached positions.
    let scores: Tensor

    /// An empty cache for `capacity` positions of a model with `config`
    /// (1 ≤ capacity ≤ max_position_embeddings).
    public init(config: LlamaConfig, capacity: Int) {
        precondition(capacity >= 1 && capacity <= config.maxPositionEmbeddings,
                     "KVCache: capacity \(capacity) must be in 1...\(config.maxPositionEmbeddings) (max_position_embeddings)")
        self.capacity = capacity
        self.width = config.hiddenSize
        self.heads = config.numAttentionHeads
        let d = config.hiddenSize, layers = config.numHiddenLayers
        keys = (0..<layers).map { _ in Tensor(uninitializedShape: [capacity, d]) }
        values = (0..<layers).map { _ in Tensor(uninitializedShape: [capacity, d]) }
        scores = Tensor(uninitializedShape: [config.numAttentionHeads, capacity])
    }

    /// Number of layers cached.
    public var layers: Int { keys.count }

    /// Whether every position is filled (the next token needs a re-prefill, see LlamaDecode).
    public var isFull: Bool { count == capacity }

    /// Bytes of all buffers (K and V of every layer plus the score scratch).
    public var bytes: Int { (2 * layers * capacity * width + heads * capacity) * MemoryLayout<Float>.stride }

    /// Forgets every position (the buffers are kept).
    public func reset() { count = 0 }

    /// Rows 0..<count of layer `layer`'s keys, [count, d] row-major (for tests and inspection).
    public func keyRows(layer: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: keys[layer].pointer, count: count * width))
    }

    /// Rows 0..<count of layer `layer`'s values, [count, d] row-major.
    public func valueRows(layer: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: values[layer].pointer, count: count * width))
    }
}
