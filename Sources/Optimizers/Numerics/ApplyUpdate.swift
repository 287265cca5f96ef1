// ApplyUpdate: the one place a weight is written. Given a rule's direction d:
//   before: θ ← θ·(1 − decay) − step·d        (decay of the old weight, torch.optim.AdamW)
//   after:  θ ← (θ − step·d)·(1 − decay)      (decay of the updated weight, GaLore/APOLLO/HF)
// with decay = rate·λ. Vectorised (8 lanes) and split over the threads; each element's
// arithmetic is the same whatever the split. `WeightWrite` is that per-element arithmetic,
// shared with FusedAdamStep's one-pass update.
import Tensors

public enum ApplyUpdate {
    /// The weight write of one step: θ from θ and d, per element.
    public struct WeightWrite {
        let step, decay, keep: Float
        let placement: DecayPlacement
        let s8, k8, dec8: SIMD8<Float>

        public init(step: Float, decay: Float, placement: DecayPlacement) {
            self.step = step; self.decay = decay; keep = 1 - decay; self.placement = placement
            s8 = SIMD8(repeating: step); k8 = SIMD8(repeating: keep); dec8 = SIMD8(repeating: decay)
        }

        /// Eight lanes: the new θ from θ and d.
        @inline(__always)
        public func apply(_ t: SIMD8<Float>, _ d: SIMD8<Float>) -> SIMD8<Float> {
            switch placement {
            case .before: return decay == 0 ? t - s8 * d : t * k8 - s8 * d
            case .after:
                let u = t - s8 * d
                return decay == 0 ? u : u - dec8 * u
            }
        }

        /// One element, the same arithmetic.
        @inline(__always)
        public func apply(_ t: Float, _ d: Float) -> Float {
            switch placement {
            case .before: return decay == 0 ? t - step * d : t * keep - step * d
            case .after:
                let u = t - step * d
                return decay == 0 ? u : u - decay * u
            }
        }
    }

    public static func apply(theta: Tensor, direction: Tensor, step: Float, decay: Float, placement: DecayPlacement) {
        precondition(theta.count == direction.count, "direction \(direction.shape) for parameter \(theta.shape)")
        let th = SendablePointer(theta.pointer), d = SendablePointer(direction.pointer)
        let w = WeightWrite(step: step, decay: decay, placement: placement)
        Parallel.forRanges(theta.count, grain: 1 << 15) { r in
            typealias V8 = SIMD8<Float>
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let t = UnsafeRawPointer(th.p + i).loadUnaligned(as: V8.self)
                let v = UnsafeRawPointer(d.p + i).loadUnaligned(as: V8.self)
                UnsafeMutableRawPointer(th.p + i).storeBytes(of: w.apply(t, v), as: V8.self)
                i += 8
            }
            while i < r.upperBound { th.p[i] = w.apply(th.p[i], d.p[i]); i += 1 }
        }
    }

    /// Whether every element of `t` is finite (one vectorised pass: x·0 is NaN for ±inf and NaN).
    public static func allFinite(_ t: Tensor) -> Bool {
        let p = t.pointer, n = t.count
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) * 0
            i += 8
        }
        var tail: Float = 0
        while i < n { tail += p[i] * 0; i += 1 }
        return (acc.sum() + tail).isFinite
    }
}
