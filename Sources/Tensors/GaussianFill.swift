// GaussianFill: standard-normal numbers addressed by (seed, key, index) instead of drawn from
// a running stream, so any split of a buffer over threads, and any chunking, gives the same
// values. Element i uses pair j = i/2: two 24-bit uniforms hashed from (seed, key, j) by
// SplitMix64's finaliser, then Box–Muller (cos for even i, sin for odd i), computed for eight
// pairs at a time in Float lanes with polynomial log and sin/cos (relative error ≈ 1e-7;
// values lie within ±5.8, the largest radius 24-bit uniforms give). A lane's result depends
// only on its own index, so every split, and `value(…)`, give the same bits. Projections
// and perturbations (APOLLO, MeZO, AdaZeta) are regenerated from a seed, never stored.

public enum GaussianFill {
    /// The stream base for (seed, key): mixes both so nearby keys give unrelated streams.
    @inlinable static func base(seed: UInt64, key: UInt64) -> UInt64 {
        RandomGenerator.mix(seed ^ RandomGenerator.mix(key &+ 0x5851_F42D_4C95_7F2D))
    }

    /// Box–Muller (cos, sin) values of pairs j0 ..< j0 + 8 of the stream `base`.
    @inline(__always) static func pairs(base: UInt64, from j0: Int) -> (cos: SIMD8<Float>, sin: SIMD8<Float>) {
        // The 16 hashes go through a plain buffer (writing SIMD lanes one by one is slow).
        var draws = (SIMD8<UInt32>(), SIMD8<UInt32>())
        withUnsafeMutableBytes(of: &draws) { raw in
            let d = raw.bindMemory(to: UInt32.self)
            for l in 0..<8 {
                let c = UInt64(truncatingIfNeeded: j0 + l) &* 2
                d[l] = UInt32(truncatingIfNeeded: RandomGenerator.mix(base &+ c &* 0xD1B5_4A32_D192_ED03) >> 40)
                d[8 + l] = UInt32(truncatingIfNeeded: RandomGenerator.mix(base &+ (c &+ 1) &* 0xD1B5_4A32_D192_ED03) >> 40)
            }
        }
        let (a, b) = draws
        let scale = SIMD8<Float>(repeating: 1.0 / 16_777_216.0)
        let u1 = (SIMD8<Float>(a) + 1) * scale   // (0, 1]: the log is finite
        let u2 = SIMD8<Float>(b) * scale         // [0, 1)
        let r = (-2 * log(u1)).squareRoot()
        let (c, s) = cosSin2Pi(u2)
        return (r * c, r * s)
    }

    /// ln x for x in (0, 1] (normal floats): x = m·2^e with m in [√½, √2), ln m by the
    /// atanh series in s = (m − 1)/(m + 1) to s⁹ (|s| ≤ 0.172: truncation < 1e-9).
    @inline(__always) static func log(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        var e = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: bits &>> 23) &- 127)
        var m = unsafeBitCast((bits & 0x7F_FFFF) | 0x3F80_0000, to: SIMD8<Float>.self)   // [1, 2)
        let big = m .> 1.41421356
        m.replace(with: m * 0.5, where: big)
        e.replace(with: e + 1, where: big)
        let s = (m - 1) / (m + 1), s2 = s * s
        var series = s2 * Float(1.0 / 9) + Float(1.0 / 7)
        series = series * s2 + Float(1.0 / 5)
        series = series * s2 + Float(1.0 / 3)
        series = series * s2 + 1
        return e * Float(0.693147180559945) + 2 * s * series
    }

    /// (cos 2πu, sin 2πu) for u in [0, 1): the quadrant q = ⌊4u⌋ and φ = (4u − q)·π/2 in
    /// [0, π/2), Taylor polynomials of sin (to φ¹¹) and cos (to φ¹²), rotated by q·π/2.
    @inline(__always) static func cosSin2Pi(_ u: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
        let t = u * 4
        let q = t.rounded(.down)
        let p = (t - q) * Float(1.5707963267948966), p2 = p * p
        var sinP = p2 * Float(-1.0 / 39_916_800) + Float(1.0 / 362_880)
        sinP = sinP * p2 + Float(-1.0 / 5040)
        sinP = sinP * p2 + Float(1.0 / 120)
        sinP = sinP * p2 + Float(-1.0 / 6)
        sinP = (sinP * p2 + 1) * p
        var cosP = p2 * Float(1.0 / 479_001_600) + Float(-1.0 / 3_628_800)
        cosP = cosP * p2 + Float(1.0 / 40320)
        cosP = cosP * p2 + Float(-1.0 / 720)
        cosP = cosP * p2 + Float(1.0 / 24)
        cosP = cosP * p2 - 0.5
        cosP = cosP * p2 + 1
        var c = cosP, s = sinP
        let q1 = q .== 1, q2 = q .== 2, q3 = q .== 3
        c.replace(with: -sinP, where: q1); s.replace(with: cosP, where: q1)
        c.replace(with: -cosP, where: q2); s.replace(with: -sinP, where: q2)
        c.replace(with: sinP, where: q3); s.replace(with: -cosP, where: q3)
        return (c, s)
    }

    /// The two 24-bit uniform draws (before scaling) behind pair `j` of the stream (seed, key),
    /// for checking the fill against an exact Box–Muller.
    public static func draws(seed: UInt64, key: UInt64, pair j: Int) -> (UInt32, UInt32) {
        let b = base(seed: seed, key: key), c = UInt64(truncatingIfNeeded: j) &* 2
        return (UInt32(truncatingIfNeeded: RandomGenerator.mix(b &+ c &* 0xD1B5_4A32_D192_ED03) >> 40),
                UInt32(truncatingIfNeeded: RandomGenerator.mix(b &+ (c &+ 1) &* 0xD1B5_4A32_D192_ED03) >> 40))
    }

    /// The value at `index` of the stream (seed, key), times `std`.
    public static func value(seed: UInt64, key: UInt64, index: Int, std: Float = 1) -> Float {
        let p = pairs(base: base(seed: seed, key: key), from: index / 2)
        return (index % 2 == 0 ? p.cos * std : p.sin * std)[0]
    }

    /// Fills `out` with elements `offset ..< offset + out.count` of the stream (seed, key),
    /// each times `std`, split over the threads (unless `threaded` is false: a caller that is
    /// already one part of a parallel loop). The values do not depend on the split.
    public static func fill(_ out: UnsafeMutableBufferPointer<Float>, seed: UInt64, key: UInt64,
                            offset: Int = 0, std: Float = 1, threaded: Bool = true) {
        run(out, seed: seed, key: key, offset: offset, std: std, threaded: threaded, accumulate: false)
    }

    /// Adds the same elements, each times `std`, to `out`: out[i] += std·z[offset + i] (a
    /// perturbation θ + c·z, or an update θ − a·z with std = −a), with no buffer for z.
    public static func add(_ out: UnsafeMutableBufferPointer<Float>, seed: UInt64, key: UInt64,
                           offset: Int = 0, std: Float, threaded: Bool = true) {
        run(out, seed: seed, key: key, offset: offset, std: std, threaded: threaded, accumulate: true)
    }

    private static func run(_ out: UnsafeMutableBufferPointer<Float>, seed: UInt64, key: UInt64, offset: Int,
                            std: Float, threaded: Bool, accumulate: Bool) {
        guard let start = out.baseAddress, !out.isEmpty else { return }
        let b = base(seed: seed, key: key)
        if !threaded { return fillRange(start, 0..<out.count, offset: offset, base: b, std: std, accumulate: accumulate) }
        let p = SendablePointer(start)
        Parallel.forRanges(out.count, grain: 1 << 13) { r in
            fillRange(p.p, r, offset: offset, base: b, std: std, accumulate: accumulate)
        }
    }

    /// Writes (or adds to) positions `r` of `out` (stream indices offset + r), eight pairs at a time.
    static func fillRange(_ out: UnsafeMutablePointer<Float>, _ r: Range<Int>, offset: Int, base: UInt64, std: Float,
                          accumulate: Bool) {
        var i = r.lowerBound
        while i < r.upperBound {
            let global = offset + i
            let j0 = global / 2
            var values = pairs(base: base, from: j0)
            values.cos *= std
            values.sin *= std
            // Elements 2·j0 ... 2·j0 + 15 interleave cos and sin; write those inside r.
            let first = global - 2 * j0          // 0, or 1 when starting on a sin
            let n = min(16 - first, r.upperBound - i)
            withUnsafeBytes(of: &values) { raw in
                let v = raw.bindMemory(to: Float.self)   // cos 0..<8, sin 8..<16
                if accumulate {
                    for k in 0..<n { out[i + k] += v[((first + k) & 1) * 8 + (first + k) >> 1] }
                } else {
                    for k in 0..<n { out[i + k] = v[((first + k) & 1) * 8 + (first + k) >> 1] }
                }
            }
            i += n
        }
    }
}
