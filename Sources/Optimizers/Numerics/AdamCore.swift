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

    /// Updates m and v from g and writes d, for `count` elements, at update `t` (1-based).
    public static func update(style: Style, grad: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                              v: UnsafeMutablePointer<Float>, direction: UnsafeMutablePointer<Float>,
                              count: Int, beta1: Double, beta2: Double, eps: Double, t: Int) {
        let b1 = Float(beta1), a1 = Float(1 - beta1), b2 = Float(beta2), a2 = Float(1 - beta2), e = Float(eps)
        let bc2Sqrt = Float(biasCorrection(beta2, t).squareRoot())
        let g = SendablePointer(UnsafeMutablePointer(mutating: grad)), mp = SendablePointer(m)
        let vp = SendablePointer(v), dp = SendablePointer(direction)
        let torch = style == .torch
        Parallel.forRanges(count, grain: 1 << 15) { r in
            typealias V8 = SIMD8<Float>
            let b18 = V8(repeating: b1), a18 = V8(repeating: a1), b28 = V8(repeating: b2), a28 = V8(repeating: a2)
            let e8 = V8(repeating: e), c8 = V8(repeating: bc2Sqrt)
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let gv = UnsafeRawPointer(g.p + i).loadUnaligned(as: V8.self)
                var mv = UnsafeRawPointer(mp.p + i).loadUnaligned(as: V8.self)
                var vv = UnsafeRawPointer(vp.p + i).loadUnaligned(as: V8.self)
                mv = torch ? mv + a18 * (gv - mv) : mv * b18 + a18 * gv
                vv = vv * b28 + a28 * (gv * gv)
                let denom = torch ? vv.squareRoot() / c8 + e8 : vv.squareRoot() + e8
                UnsafeMutableRawPointer(mp.p + i).storeBytes(of: mv, as: V8.self)
                UnsafeMutableRawPointer(vp.p + i).storeBytes(of: vv, as: V8.self)
                UnsafeMutableRawPointer(dp.p + i).storeBytes(of: mv / denom, as: V8.self)
                i += 8
            }
            while i < r.upperBound {
                let gi = g.p[i]
                var mi = mp.p[i], vi = vp.p[i]
                mi = torch ? mi + a1 * (gi - mi) : mi * b1 + a1 * gi
                vi = vi * b2 + a2 * (gi * gi)
                mp.p[i] = mi
                vp.p[i] = vi
                dp.p[i] = mi / (torch ? vi.squareRoot() / bc2Sqrt + e : vi.squareRoot() + e)
                i += 1
            }
        }
    }
}
