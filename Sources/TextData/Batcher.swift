// Batcher: deterministic (inputs, targets) batches over one token shard, in the order of
// docs/model-and-formats.md "Deterministic batches": window j of batch k starts at
// s = ((k·B + j)·T) mod (n − T − 1). An optional seeded shuffle permutes the window starts.
import Foundation

/// Where a Batcher is in its stream: small and `Codable` so a checkpoint can store it.
/// `batchSize`, `sequenceLength` and `tokenCount` record what the position refers to, so a
/// restore into a differently configured Batcher is refused instead of silently drifting.
public struct BatchCursor: Codable, Equatable, Sendable {
    /// Index of the batch `next()` returns.
    public var nextBatch: Int
    /// nil: sequential order; otherwise the seed of the shuffled order.
    public var shuffleSeed: UInt64?
    public var batchSize: Int
    public var sequenceLength: Int
    public var tokenCount: Int

    public init(nextBatch: Int, shuffleSeed: UInt64?, batchSize: Int, sequenceLength: Int, tokenCount: Int) {
        self.nextBatch = nextBatch
        self.shuffleSeed = shuffleSeed
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.tokenCount = tokenCount
    }
}

/// One batch: row-major [B, T] inputs and targets (targets = inputs shifted by one token).
public struct Batch: Equatable, Sendable {
    public let index: Int
    public let batchSize: Int
    public let sequenceLength: Int
    /// Start offset in the shard of each of the B windows.
    public let starts: [Int]
    /// [B, T]: tokens[s ..< s+T] for each window start s.
    public let inputs: [Int32]
    /// [B, T]: tokens[s+1 ... s+T] for each window start s.
    public let targets: [Int32]
}

/// Produces batches from a token shard by index (random access) or as a stream with a cursor.
public final class Batcher: @unchecked Sendable {
    public let shard: TokenShard
    public let batchSize: Int
    public let sequenceLength: Int
    /// nil for the sequential order.
    public let shuffleSeed: UInt64?
    /// Number of tokens n in the shard.
    public var tokenCount: Int { shard.count }
    /// Window starts are taken modulo n − T − 1 (the last start is n − T − 2).
    public var startModulus: Int { shard.count - sequenceLength - 1 }
    /// Windows per epoch of the shuffled order: the starts 0, T, 2T, ... below n − T − 1.
    public var windowsPerEpoch: Int { (startModulus + sequenceLength - 1) / sequenceLength }

    /// Index of the batch `next()` returns.
    public private(set) var nextBatch = 0
    private var cachedEpoch = -1
    private var cachedPermutation: [Int32] = []
    private let lock = NSLock()

    /// Throws when the shard has fewer than T + 2 tokens or B, T are not positive.
    public init(shard: TokenShard, batchSize: Int, sequenceLength: Int, shuffleSeed: UInt64? = nil) throws {
        guard batchSize > 0, sequenceLength > 0 else {
            throw TextDataError.batch("batch size (\(batchSize)) and sequence length (\(sequenceLength)) must be positive")
        }
        guard shard.count >= sequenceLength + 2 else {
            throw TextDataError.batch("shard '\(shard.path)' has \(shard.count) tokens, but sequence length \(sequenceLength) "
                + "needs at least \(sequenceLength + 2) (T + 2); use a shorter sequence length or more text")
        }
        self.shard = shard
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.shuffleSeed = shuffleSeed
    }

    /// The current position, for a checkpoint.
    public var cursor: BatchCursor {
        BatchCursor(nextBatch: nextBatch, shuffleSeed: shuffleSeed, batchSize: batchSize,
                    sequenceLength: sequenceLength, tokenCount: tokenCount)
    }

    /// Continues from a saved position; throws if it was saved for another B, T, shard size
    /// or order.
    public func restore(_ cursor: BatchCursor) throws {
        let mine = self.cursor
        guard cursor.batchSize == mine.batchSize, cursor.sequenceLength == mine.sequenceLength,
              cursor.tokenCount == mine.tokenCount, cursor.shuffleSeed == mine.shuffleSeed, cursor.nextBatch >= 0
        else {
            throw TextDataError.batch("cannot restore batch position \(cursor) into a batcher with B=\(batchSize), "
                + "T=\(sequenceLength), \(tokenCount) tokens, shuffle seed \(shuffleSeed.map(String.init) ?? "none"); "
                + "resume with the same data and batch settings")
        }
        nextBatch = cursor.nextBatch
    }

    /// The batch at the cursor; advances the cursor by one.
    public func next() -> Batch {
        let k = nextBatch
        nextBatch += 1
        return batch(k)
    }

    /// Micro-batch indices of optimizer step `step` (1-based) with `accumulation` micro-batches
    /// per step: (step − 1)·accumulation ..< step·accumulation.
    public static func microBatches(forStep step: Int, accumulation: Int) -> Range<Int> {
        precondition(step >= 1 && accumulation >= 1, "step and accumulation start at 1")
        return (step - 1) * accumulation ..< step * accumulation
    }

    /// Epoch (full pass over the window starts) that window `j` of batch `k` belongs to in
    /// the shuffled order.
    public func epoch(ofBatch k: Int, window j: Int = 0) -> Int { (k * batchSize + j) / windowsPerEpoch }

    /// Start offsets of the B windows of batch `k` (k ≥ 0).
    public func windowStarts(batch k: Int) -> [Int] {
        precondition(k >= 0, "batch index must be non-negative")
        return (0 ..< batchSize).map { windowStart(batch: k, window: $0) }
    }

    private func windowStart(batch k: Int, window j: Int) -> Int {
        let global = k * batchSize + j
        guard let seed = shuffleSeed else { return (global * sequenceLength) % startModulus }
        let epoch = global / windowsPerEpoch
        let position = global % windowsPerEpoch
        lock.lock()
        defer { lock.unlock() }
        if epoch != cachedEpoch {
            cachedPermutation = WindowPermutation.make(count: windowsPerEpoch, seed: seed, epoch: UInt64(epoch))
            cachedEpoch = epoch
        }
        return Int(cachedPermutation[position]) * sequenceLength
    }

    /// Batch `k` (random access; does not move the cursor).
    public func batch(_ k: Int) -> Batch {
        let count = batchSize * sequenceLength
        var inputs = [Int32](repeating: 0, count: count)
        var targets = [Int32](repeating: 0, count: count)
        // B, T > 0 (checked in init), so both buffers have a base address.
        let starts = inputs.withUnsafeMutableBufferPointer { inputBuffer in
            targets.withUnsafeMutableBufferPointer { targetBuffer -> [Int] in
                guard let i = inputBuffer.baseAddress, let t = targetBuffer.baseAddress else { return [] }
                return fill(batch: k, inputs: i, targets: t)
            }
        }
        return Batch(index: k, batchSize: batchSize, sequenceLength: sequenceLength, starts: starts,
                     inputs: inputs, targets: targets)
    }

    /// Writes batch `k` into caller buffers of B·T Int32 each (row-major [B, T]); returns the
    /// window starts. No allocation besides the returned starts.
    @discardableResult
    public func fill(batch k: Int, inputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>) -> [Int] {
        let starts = windowStarts(batch: k)
        let t = sequenceLength
        for (row, start) in starts.enumerated() {
            shard.copyTokens(from: start, count: t, into: inputs + row * t)
            shard.copyTokens(from: start + 1, count: t, into: targets + row * t)
        }
        return starts
    }
}

/// A seeded permutation of 0..<count: Fisher–Yates (Durstenfeld) driven by SplitMix64
/// (Steele, Lea & Flood 2014), seeded from (seed, epoch), with unbiased bounded draws
/// (Lemire 2019). The same (seed, epoch) always gives the same order on every machine.
enum WindowPermutation {
    static func make(count: Int, seed: UInt64, epoch: UInt64) -> [Int32] {
        var order = (0 ..< Int32(count)).map { $0 }
        var generator = SplitMix64(state: seed ^ SplitMix64.mix(epoch &+ 0x632B_E59B_D9B4_E019))
        var i = count - 1
        while i > 0 {
            let j = Int(generator.next(below: UInt64(i + 1)))
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }
}

/// SplitMix64: a 64-bit counter passed through a fixed mixing function.
struct SplitMix64 {
    var state: UInt64

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// Uniform in 0..<bound (bound > 0), without modulo bias.
    mutating func next(below bound: UInt64) -> UInt64 {
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }
}
