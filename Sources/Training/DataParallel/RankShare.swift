// RankShare: the sequences of a step's global batch that one rank of a data-parallel run
// trains on. The step's batch_size × grad_accum sequences, in the order a one-process run
// reads them, are cut into N equal consecutive parts (N must divide the count); rank r runs
// part r as micro-batches of b = gcd(part, batch_size) sequences, each inside one of the
// one-process run's micro-batches. Every micro-batch's mean loss is weighted by
// b / (batch_size × grad_accum), so the sum over all ranks of the weighted gradients is the
// one-process step's gradient (up to the order of float additions).
public struct RankShare: Equatable, Sendable {
    public let rank: Int
    public let ranks: Int
    public let batchSize: Int
    public let gradAccum: Int
    /// Sequences per micro-batch on this rank, and micro-batches per step.
    public let microSize: Int
    public let microCount: Int

    public init(rank: Int, ranks: Int, batchSize: Int, gradAccum: Int) throws {
        let total = batchSize * gradAccum
        guard ranks >= 1, total % ranks == 0 else {
            throw ConfigError("\(ranks) ranks cannot share a step of batch_size \(batchSize) × grad_accum \(gradAccum) = \(total) sequences equally; the global batch stays what the config says, so run a number of ranks that divides \(total) (mpirun -np), or change --batch-size / --grad-accum")
        }
        let part = total / ranks
        var a = part, b = batchSize
        while b != 0 { (a, b) = (b, a % b) }
        self.rank = rank
        self.ranks = ranks
        self.batchSize = batchSize
        self.gradAccum = gradAccum
        microSize = a
        microCount = part / a
    }

    /// Micro-batch `j` of this rank: the index of the one-process micro-batch it lies in
    /// (0..<grad_accum) and its rows there.
    public func micro(_ j: Int) -> (batch: Int, rows: Range<Int>) {
        let first = rank * microSize * microCount + j * microSize
        let row = first % batchSize
        return (first / batchSize, row..<(row + microSize))
    }

    /// The weight of one micro-batch's mean loss: b / (batch_size × grad_accum).
    public var lossWeight: Double { Double(microSize) / Double(batchSize * gradAccum) }
}
