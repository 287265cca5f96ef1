// Perturbation: the weights a zeroth-order forward pass reads, θ + c·z (MeZO, Malladi et
// al. arXiv 2305.17333; spec optimizers-elementwise-zo.md §6), without ever writing θ.
// z_k = Z(s, k) is the keyed Gaussian fill (GaussianFill, seed s, key k = the tensor's index
// in the trainable list), so each perturbed tensor is built when an op reads it, as a
// temporary copy θ_k + c·z_k that lives only while that op runs; the embedding builds only
// the rows a batch looks up. θ itself is never modified by a ± pass, so "restore" is exact by
// construction (the reference's in-place +ε, −2ε, +ε drifts by a few ulps per step).
import Tensors

public struct Perturbation {
    /// The direction seed s = H(run seed, step, query).
    public private(set) var seed: UInt64
    /// c: +ε or −ε.
    public private(set) var scale: Float
    /// Trainable tensor → its key k (its index in the trainable list).
    private let keys: [ObjectIdentifier: UInt64]

    public init(seed: UInt64, scale: Float, trainable: [Tensor]) {
        self.seed = seed
        self.scale = scale
        var k: [ObjectIdentifier: UInt64] = [:]
        for (i, t) in trainable.enumerated() { k[ObjectIdentifier(t)] = UInt64(i) }
        keys = k
    }

    /// The same trainable set with another seed and scale (the key map is shared, not rebuilt).
    public func with(seed: UInt64, scale: Float) -> Perturbation {
        var p = self
        p.seed = seed
        p.scale = scale
        return p
    }

    /// The seed of query `query` (1-based) of step `step` (1-based) in run `runSeed`.
    public static func directionSeed(runSeed: UInt64, step: Int, query: Int) -> UInt64 {
        var g = RandomGenerator(seed: runSeed).derived(stream: 0x2E20)
        g = g.derived(stream: UInt64(truncatingIfNeeded: step))
        return g.derived(stream: UInt64(truncatingIfNeeded: query)).seed
    }

    /// `t` itself when it is not trainable, else a temporary θ + c·z of its shape.
    public func read(_ t: Tensor) -> Tensor {
        guard let k = keys[ObjectIdentifier(t)] else { return t }
        let out = Tensor(uninitializedShape: t.shape, kind: .optimizerWork)
        out.copy(from: t)
        GaussianFill.add(out.buffer, seed: seed, key: k, std: scale)
        return out
    }

    /// Rows ids[i] of a [V, d] table as perturbed: out[i] = table[ids[i]] + c·z[ids[i]·d ..< +d]
    /// ([ids.count, d]); the unperturbed lookup when the table is not trainable.
    public func rows(of table: Tensor, ids: [Int32]) -> Tensor {
        let out = embedding(ids, table)                     // [n, d]; nothing records here
        guard let k = keys[ObjectIdentifier(table)] else { return out }
        let d = table.shape[1], dst = SendablePointer(out.pointer), seed = self.seed, scale = self.scale
        ids.withUnsafeBufferPointer { idp in
            let ip = idp.baseAddress!
            Parallel.forRanges(ids.count, grain: max(1, (1 << 14) / max(d, 1))) { r in
                for i in r {
                    GaussianFill.add(UnsafeMutableBufferPointer(start: dst.p + i * d, count: d), seed: seed, key: k,
                                     offset: Int(ip[i]) * d, std: scale, threaded: false)
                }
            }
        }
        return out
    }
}
