// FusedAdamStep: AdamCore's moment update and ApplyUpdate's weight write in one pass over
// memory, for 32-bit AdamW state. Per element it does exactly what the two-pass path does —
// m, v and d = m / denom by the shared AdamCore.Moments (torch or hf core), then θ written by
// ApplyUpdate's own WeightWrite — so the weights and moments are bitwise those of
// `direction` + `ApplyUpdate.apply`, however the elements are split. What it
// saves is memory traffic: g, m, v, θ are read and m, v, θ written once (7 streams) instead
// of the direction written, checked and read back (10 streams); AdamW's update is
// memory-bound, so this is its time (about 30% less). Finiteness of d is accumulated on the
// way (d·0 is NaN for ±inf and NaN).
import Tensors

public struct FusedAdamStep: @unchecked Sendable {
    let moments: AdamCore.Moments
    let grad: UnsafePointer<Float>
    let m, v, theta: UnsafeMutablePointer<Float>
    let write: ApplyUpdate.WeightWrite
    /// Elements of the parameter.
    public let count: Int

    /// The step of update `t` (1-based) over `count` elements; `step` is η·lrFactor, `decay`
    /// the decay rate·λ. Nothing is read or written until `run`.
    public init(style: AdamCore.Style, grad: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                v: UnsafeMutablePointer<Float>, theta: UnsafeMutablePointer<Float>, count: Int,
                beta1: Double, beta2: Double, eps: Double, t: Int,
                step: Float, decay: Float, placement: DecayPlacement) {
        moments = AdamCore.Moments(style: style, beta1: beta1, beta2: beta2, eps: eps, t: t)
        self.grad = grad; self.m = m; self.v = v; self.theta = theta; self.count = count
        write = ApplyUpdate.WeightWrite(step: step, decay: decay, placement: placement)
    }

    /// Updates elements `r`; returns the sum of d·0 over them (finite iff every d was).
    public func run(_ r: Range<Int>) -> Float {
        typealias V8 = SIMD8<Float>
        let k = moments, w = write, g = grad, mp = m, vp = v, th = theta
        var check = V8()
        var i = r.lowerBound
        while i + 8 <= r.upperBound {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: V8.self)
            var mv = UnsafeRawPointer(mp + i).loadUnaligned(as: V8.self)
            var vv = UnsafeRawPointer(vp + i).loadUnaligned(as: V8.self)
            let d = k.advance(gv, &mv, &vv)
            UnsafeMutableRawPointer(mp + i).storeBytes(of: mv, as: V8.self)
            UnsafeMutableRawPointer(vp + i).storeBytes(of: vv, as: V8.self)
            check += d * 0
            let t = UnsafeRawPointer(th + i).loadUnaligned(as: V8.self)
            UnsafeMutableRawPointer(th + i).storeBytes(of: w.apply(t, d), as: V8.self)
            i += 8
        }
        var tail: Float = 0
        while i < r.upperBound {
            let d = k.advance(g[i], &mp[i], &vp[i])
            tail += d * 0
            th[i] = w.apply(th[i], d)
            i += 1
        }
        return check.sum() + tail
    }

    /// Values below this run on one thread (a hand-off would cost more than it saves).
    public static let grain = 1 << 15

    /// Runs every step of `steps` over the threads in one parallel region (each parameter
    /// split evenly when large, small ones dealt out whole) and returns the index of the first
    /// step with a non-finite direction value, or nil when all were finite.
    public static func runAll(_ steps: [FusedAdamStep]) -> Int? {
        let parts = max(1, Parallel.threads)
        guard !steps.isEmpty else { return nil }
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: steps.count * parts) { checks in
            checks.initialize(repeating: 0)
            let cp = SendablePointer(checks.baseAddress!)
            Parallel.forIndexedRanges(parts, grain: 1) { _, workers in
                for w in workers {
                    for (j, s) in steps.enumerated() {
                        if s.count >= grain * parts {
                            cp.p[j * parts + w] = s.run(s.count * w / parts ..< s.count * (w + 1) / parts)
                        } else if j % parts == w {
                            cp.p[j * parts + w] = s.run(0..<s.count)
                        }
                    }
                }
            }
            return (0..<steps.count).first { j in
                var sum: Float = 0
                for w in 0..<parts { sum += checks[j * parts + w] }
                return !sum.isFinite
            }
        }
    }
}
