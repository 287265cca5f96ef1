// AdamCore: the two Adam moment-and-direction kernels the specs use, each writing the
// direction d (the caller's shared step applies θ ← θ − η·lrFactor·d):
//   torch (torch.optim.AdamW, optimizers-elementwise-zo.md §1.1):
//     m ← lerp(m, g, 1−β1); v ← β2·v + (1−β2)·g²; d = m / (√v / √bc2 + ε); lrFactor = 1/bc1
//   hf (transformers AdamW, the inner Adam of GaLore/Fira/APOLLO, optimizers-lowrank.md §0.3):
//     m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; d = m / (√v + ε); lrFactor = √bc2/bc1
// Bias corrections use pow in Double (never a running Float product). Vectorised, threaded.
import Foundation
import Tensors

public enum AdamCore {
    public enum Style: String, Sendable { case torch, hf }

    /// 1 − β^t in Double.
    public static func biasCorrection(_ beta: Double, _ t: Int) -> Double { 1 - Foundation.pow(beta, Double(t)) }

    /// The step-size factor of update `t` for `style` (torch 1/bc1; hf √bc2/bc1, the c_t of §0.3).
    public static func lrFactor(style: Style, beta1: Double, beta2: Double, t: Int) -> Double {
        let bc1 = biasCorrection(beta1, t), bc2 = biasCorrection(beta2, t)
        return style == .torch ? 1 / bc1 : bc2.squareRoot() / bc1
    }

    /// The per-element arithmetic of update `t`: m and v advanced from g, and d returned.
    /// Shared by `update` and FusedAdamStep, so both compute the very same values.
    public struct Moments {
        let b1, a1, b2, a2, e, bc2Sqrt: Float
        let torch: Bool
        let b18, a18, b28, a28, e8, c8: SIMD8<Float>

        public init(style: Style, beta1: Double, beta2: Double, eps: Double, t: Int) {
            b1 = Float(beta1); a1 = Float(1 - beta1); b2 = Float(beta2); a2 = Float(1 - beta2); e = Float(eps)
            bc2Sqrt = Float(biasCorrection(beta2, t).squareRoot())
            torch = style == .torch
            b18 = SIMD8(repeating: b1); a18 = SIMD8(repeating: a1); b28 = SIMD8(repeating: b2)
            a28 = SIMD8(repeating: a2); e8 = SIMD8(repeating: e); c8 = SIMD8(repeating: bc2Sqrt)
        }

        /// Eight lanes: m, v advanced in place; returns d.
        @inline(__always)
        public func advance(_ g: SIMD8<Float>, _ m: inout SIMD8<Float>, _ v: inout SIMD8<Float>) -> SIMD8<Float> {
            m = torch ? m + a18 * (g - m) : m * b18 + a18 * g
            v = v * b28 + a28 * (g * g)
            return m / (torch ? v.squareRoot() / c8 + e8 : v.squareRoot() + e8)
        }

        /// One element, the same arithmetic.
        @inline(__always)
        public func advance(_ g: Float, _ m: inout Float, _ v: inout Float) -> Float {
            m = torch ? m + a1 * (g - m) : m * b1 + a1 * g
            v = v * b2 + a2 * (g * g)
            return m / (torch ? v.squareRoot() / bc2Sqrt + e : v.squareRoot() + e)
        }
    }

    /// Updates m and v from g and writes d, for `count` elements, at update `t` (1-based).
    public static func update(style: Style, grad: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                              v: UnsafeMutablePointer<Float>, direction: UnsafeMutablePointer<Float>,
                              count: Int, beta1: Double, beta2: Double, eps: Double, t: Int) {
        let k = Moments(style: style, beta1: beta1, beta2: beta2, eps: eps, t: t)
        let g = SendablePointer(UnsafeMutablePointer(mutating: grad)), mp = SendablePointer(m)
        let vp = SendablePointer(v), dp = SendablePointer(direction)
        Parallel.forRanges(count, grain: 1 << 15) { r in
            typealias V8 = SIMD8<Float>
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let gv = UnsafeRawPointer(g.p + i).loadUnaligned(as: V8.self)
                var mv = UnsafeRawPointer(mp.p + i).loadUnaligned(as: V8.self)
                var vv = UnsafeRawPointer(vp.p + i).loadUnaligned(as: V8.self)
                let d = k.advance(gv, &mv, &vv)
                UnsafeMutableRawPointer(mp.p + i).storeBytes(of: mv, as: V8.self)
                UnsafeMutableRawPointer(vp.p + i).storeBytes(of: vv, as: V8.self)
                UnsafeMutableRawPointer(dp.p + i).storeBytes(of: d, as: V8.self)
                i += 8
            }
            while i < r.upperBound {
                dp.p[i] = k.advance(g.p[i], &mp.p[i], &vp.p[i])
                i += 1
            }
        }
    }
}
