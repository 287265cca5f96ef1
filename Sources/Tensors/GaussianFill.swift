// GaussianFill: standard-normal numbers addressed by (seed, key, index) instead of drawn from
// a running stream, so any split of a buffer over threads, and any chunking, gives the same
// values. Element i uses pair j = i/2: two 53-bit uniforms hashed from (seed, key, j) by
// SplitMix64's finaliser, then Box–Muller (cos for even i, sin for odd i). Projections and
// perturbations (APOLLO, MeZO) can therefore be regenerated from a seed, never stored.
import Foundation

public enum GaussianFill {
    /// The stream base for (seed, key): mixes both so nearby keys give unrelated streams.
    @inlinable static func base(seed: UInt64, key: UInt64) -> UInt64 {
        RandomGenerator.mix(seed ^ RandomGenerator.mix(key &+ 0x5851_F42D_4C95_7F2D))
    }

    /// The pair (cos, sin) Box–Muller values of pair `j` of the stream `base`.
    @inlinable static func pair(base: UInt64, _ j: Int) -> (Double, Double) {
        let c = UInt64(truncatingIfNeeded: j) &* 2
        let a = RandomGenerator.mix(base &+ c &* 0xD1B5_4A32_D192_ED03)
        let b = RandomGenerator.mix(base &+ (c &+ 1) &* 0xD1B5_4A32_D192_ED03)
        let u1 = (Double(a >> 11) + 1) * (1.0 / 9_007_199_254_740_992.0)  // (0, 1]: the log is finite
        let u2 = Double(b >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let r = (-2 * Foundation.log(u1)).squareRoot()
        let t = 2 * Double.pi * u2
        return (r * Foundation.cos(t), r * Foundation.sin(t))
    }

    /// The value at `index` of the stream (seed, key), times `std`.
    public static func value(seed: UInt64, key: UInt64, index: Int, std: Float = 1) -> Float {
        let p = pair(base: base(seed: seed, key: key), index / 2)
        return std * Float(index % 2 == 0 ? p.0 : p.1)
    }

    /// Fills `out` with elements `offset ..< offset + out.count` of the stream (seed, key),
    /// each times `std`, split over the threads (unless `threaded` is false: a caller that is
    /// already one part of a parallel loop). The values do not depend on the split.
    public static func fill(_ out: UnsafeMutableBufferPointer<Float>, seed: UInt64, key: UInt64,
                            offset: Int = 0, std: Float = 1, threaded: Bool = true) {
        guard let start = out.baseAddress, !out.isEmpty else { return }
        let b = base(seed: seed, key: key)
        if !threaded { return fillRange(start, 0..<out.count, offset: offset, base: b, std: std) }
        let p = SendablePointer(start)
        Parallel.forRanges(out.count, grain: 1 << 13) { r in
            fillRange(p.p, r, offset: offset, base: b, std: std)
        }
    }

    /// Fills positions `r` of `out` (stream indices offset + r).
    static func fillRange(_ out: UnsafeMutablePointer<Float>, _ r: Range<Int>, offset: Int, base: UInt64, std: Float) {
        var i = r.lowerBound
        while i < r.upperBound {
            let global = offset + i
            let (c, s) = pair(base: base, global / 2)
            if global % 2 == 0 {
                out[i] = std * Float(c)
                if i + 1 < r.upperBound { out[i + 1] = std * Float(s) }
                i += 2
            } else {
                out[i] = std * Float(s)
                i += 1
            }
        }
    }
}
