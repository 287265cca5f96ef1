// ApplyUpdate: the one place a weight is written. Given a rule's direction d:
//   before: θ ← θ·(1 − decay) − step·d        (decay of the old weight, torch.optim.AdamW)
//   after:  θ ← (θ − step·d)·(1 − decay)      (decay of the updated weight, GaLore/APOLLO/HF)
// with decay = rate·λ. Vectorised (8 lanes) and split over the threads; each element's
// arithmetic is the same whatever the split.
import Tensors

public enum ApplyUpdate {
    public static func apply(theta: Tensor, direction: Tensor, step: Float, decay: Float, placement: DecayPlacement) {
        precondition(theta.count == direction.count, "direction \(direction.shape) for parameter \(theta.shape)")
        let th = SendablePointer(theta.pointer), d = SendablePointer(direction.pointer)
        let keep = 1 - decay
        Parallel.forRanges(theta.count, grain: 1 << 15) { r in
            typealias V8 = SIMD8<Float>
            let s8 = V8(repeating: step), k8 = V8(repeating: keep)
            var i = r.lowerBound
            switch placement {
            case .before:
                if decay == 0 {
                    while i + 8 <= r.upperBound {
                        let t = UnsafeRawPointer(th.p + i).loadUnaligned(as: V8.self)
                        let v = UnsafeRawPointer(d.p + i).loadUnaligned(as: V8.self)
                        UnsafeMutableRawPointer(th.p + i).storeBytes(of: t - s8 * v, as: V8.self)
                        i += 8
                    }
                    while i < r.upperBound { th.p[i] = th.p[i] - step * d.p[i]; i += 1 }
                } else {
                    while i + 8 <= r.upperBound {
                        let t = UnsafeRawPointer(th.p + i).loadUnaligned(as: V8.self)
                        let v = UnsafeRawPointer(d.p + i).loadUnaligned(as: V8.self)
                        UnsafeMutableRawPointer(th.p + i).storeBytes(of: t * k8 - s8 * v, as: V8.self)
                        i += 8
                    }
                    while i < r.upperBound { th.p[i] = th.p[i] * keep - step * d.p[i]; i += 1 }
                }
            case .after:
                while i + 8 <= r.upperBound {
                    let t = UnsafeRawPointer(th.p + i).loadUnaligned(as: V8.self)
                    let v = UnsafeRawPointer(d.p + i).loadUnaligned(as: V8.self)
                    let u = t - s8 * v
                    UnsafeMutableRawPointer(th.p + i).storeBytes(of: decay == 0 ? u : u - V8(repeating: decay) * u, as: V8.self)
                    i += 8
                }
                while i < r.upperBound {
                    let u = th.p[i] - step * d.p[i]
                    th.p[i] = decay == 0 ? u : u - decay * u
                    i += 1
                }
            }
        }
    }

    /// Whether every element of `t` is finite (one vectorised pass: x·0 is NaN for ±inf and NaN).
    public static func allFinite(_ t: Tensor) -> Bool {
        var bad = false
        let p = t.pointer, n = t.count
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) * 0
            i += 8
        }
        var tail: Float = 0
        while i < n { tail += p[i] * 0; i += 1 }
        bad = !(acc.sum() + tail).isFinite
        return !bad
    }
}
