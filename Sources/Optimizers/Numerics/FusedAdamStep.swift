// FusedAdamStep: AdamCore's moment update and ApplyUpdate's weight write in one pass over
// memory, for 32-bit AdamW state. Per element it does exactly what the two-pass path does —
// m, v and d = m / denom as AdamCore (torch or hf core), then θ written as ApplyUpdate with
// the same decay placement — so the weights and moments are bitwise those of
// `direction` + `ApplyUpdate.apply`. What it saves is memory traffic: g, m, v, θ are read and
// m, v, θ written once (7 streams) instead of the direction written, checked and read back
// (10 streams); AdamW's update is memory-bound, so this is its time (about 30% less).
// Finiteness of d is accumulated on the way (d·0 is NaN for ±inf and NaN); when a value is
// not finite the caller stops the run, as the two-pass check does, but the weight of that
// one parameter has been written by then.
import Tensors

public enum FusedAdamStep {
    /// Updates m, v and θ for `count` elements at update `t` (1-based); `step` is η·lrFactor,
    /// `decay` the decay rate·λ. Returns whether every direction value was finite.
    public static func run(style: AdamCore.Style, grad: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                           v: UnsafeMutablePointer<Float>, theta: UnsafeMutablePointer<Float>, count: Int,
                           beta1: Double, beta2: Double, eps: Double, t: Int,
                           step: Float, decay: Float, placement: DecayPlacement) -> Bool {
        let k = AdamCore.Moments(style: style, beta1: beta1, beta2: beta2, eps: eps, t: t)
        let g = SendablePointer(UnsafeMutablePointer(mutating: grad)), mp = SendablePointer(m)
        let vp = SendablePointer(v), th = SendablePointer(theta)
        let keep = 1 - decay
        let grain = 1 << 15
        let parts = Parallel.partCount(count, grain: grain)
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: max(parts, 1)) { checks in
            let cp = SendablePointer(checks.baseAddress!)
            Parallel.forIndexedRanges(count, grain: grain) { part, r in
                typealias V8 = SIMD8<Float>
                let s8 = V8(repeating: step), k8 = V8(repeating: keep), dec8 = V8(repeating: decay)
                var check = V8()
                var i = r.lowerBound
                while i + 8 <= r.upperBound {
                    let gv = UnsafeRawPointer(g.p + i).loadUnaligned(as: V8.self)
                    var mv = UnsafeRawPointer(mp.p + i).loadUnaligned(as: V8.self)
                    var vv = UnsafeRawPointer(vp.p + i).loadUnaligned(as: V8.self)
                    let d = k.advance(gv, &mv, &vv)
                    UnsafeMutableRawPointer(mp.p + i).storeBytes(of: mv, as: V8.self)
                    UnsafeMutableRawPointer(vp.p + i).storeBytes(of: vv, as: V8.self)
                    check += d * 0
                    let t = UnsafeRawPointer(th.p + i).loadUnaligned(as: V8.self)
                    let out: V8
                    switch placement {
                    case .before: out = decay == 0 ? t - s8 * d : t * k8 - s8 * d
                    case .after:
                        let u = t - s8 * d
                        out = decay == 0 ? u : u - dec8 * u
                    }
                    UnsafeMutableRawPointer(th.p + i).storeBytes(of: out, as: V8.self)
                    i += 8
                }
                var tail: Float = 0
                while i < r.upperBound {
                    let d = k.advance(g.p[i], &mp.p[i], &vp.p[i])
                    tail += d * 0
                    switch placement {
                    case .before: th.p[i] = decay == 0 ? th.p[i] - step * d : th.p[i] * keep - step * d
                    case .after:
                        let u = th.p[i] - step * d
                        th.p[i] = decay == 0 ? u : u - decay * u
                    }
                    i += 1
                }
                cp.p[part] = check.sum() + tail
            }
            var all: Float = 0
            for j in 0..<parts { all += checks[j] }
            return all.isFinite
        }
    }
}
