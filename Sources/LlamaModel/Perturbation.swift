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
    public let seed: UInt64
    /// c: +ε or −ε.
    public let scale: Float
    /// Trainable tensor → its key k (its index in the trainable list).
    private let keys: [ObjectIdentifier: UInt64]

    public init(seed: UInt64, scale: Float, trainable: [Tensor]) {
        self.seed = seed
        self.scale = scale
        var k: [ObjectIdentifier: UInt64] = [:]
        for (i, t) in trainable.enumerated() { k[ObjectIdentifier(t)] = UInt64(i) }
        keys = k
    }

    /// The seed of query `query` (1-based) of step `step` (1-based) in run `runSeed`.
    public static func directionSeed(runSeed: UInt64, step: Int, query: Int) -> UInt64 {
        var g = RandomGenerator(seed: runSeed).derived(stream: 0x2E20)
        g = g.derived(stream: UInt64(truncatingIfNeeded: step))
        return g.derived(stream: UInt64(truncatingIfNeeded: query)).seed
    }

    /// Key of `t`, nil when `t` is not perturbed.
    public func key(of t: Tensor) -> UInt64? { keys[ObjectIdentifier(t)] }

    /// `t` itself when it is not trainable, else a temporary θ + c·z of its shape.
    public func read(_ t: Tensor) -> Tensor {
        guard let k = keys[ObjectIdentifier(t)] else { return t }
        let out = Tensor(uninitializedShape: t.shape, kind: .optimizerWork)
        Perturbation.addDirection(to: t.pointer, into: out.pointer, count: t.count, offset: 0, seed: seed, key: k, scale: scale)
        return out
    }

    /// Rows ids[i] of a [V, d] table as perturbed: out[i] = table[ids[i]] + c·z[ids[i]·d ..< +d]
    /// ([ids.count, d]); the unperturbed lookup when the table is not trainable.
    public func rows(of table: Tensor, ids: [Int32]) -> Tensor {
        guard let k = keys[ObjectIdentifier(table)] else { return embedding(ids, table) }
        let d = table.shape[1], n = ids.count
        let out = Tensor(uninitializedShape: [n, d])
        let src = SendablePointer(table.pointer), dst = SendablePointer(out.pointer)
        let seed = self.seed, scale = self.scale
        ids.withUnsafeBufferPointer { idp in
            let ip = idp.baseAddress!
            Parallel.forRanges(n, grain: max(1, (1 << 14) / max(d, 1))) { r in
                for i in r {
                    let row = Int(ip[i])
                    Perturbation.addDirection(to: src.p + row * d, into: dst.p + i * d, count: d, offset: row * d,
                                              seed: seed, key: k, scale: scale, threaded: false)
                }
            }
        }
        return out
    }

    /// out[i] = theta[i] + scale·z[offset + i] for i in 0..<count, z = Z(seed, key), in blocks
    /// of 1,024 values on the stack (no heap allocation); split over the threads unless
    /// `threaded` is false. The values do not depend on the split.
    public static func addDirection(to theta: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int,
                                    offset: Int, seed: UInt64, key: UInt64, scale: Float, threaded: Bool = true) {
        let th = SendablePointer(UnsafeMutablePointer(mutating: theta)), o = SendablePointer(out)
        let body: (Range<Int>) -> Void = { r in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 1024) { z in
                var i = r.lowerBound
                while i < r.upperBound {
                    let n = min(1024, r.upperBound - i)
                    GaussianFill.fill(UnsafeMutableBufferPointer(rebasing: z[0..<n]), seed: seed, key: key,
                                      offset: offset + i, threaded: false)
                    for j in 0..<n { o.p[i + j] = th.p[i + j] + scale * z[j] }
                    i += n
                }
            }
        }
        if threaded { Parallel.forRanges(count, grain: 1 << 13, body) } else { body(0..<count) }
    }
}
