// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, arXiv 1711.05101), with
// torch.optim.AdamW semantics (optimizers-elementwise-zo.md §1.1): decay multiplies the old
// weight by (1 − η·λ), ε is added after the bias correction of √v. State m, v: 2·numel.
import Foundation
import Tensors

public struct AdamW: UpdateRule {
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double

    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }

    public var summary: String { "adamw(β=(\(beta1), \(beta2)), ε=\(eps), wd=\(weightDecay))" }

    public func stateBytesFormula(shape: [Int]) -> Int { 2 * shape.reduce(1, *) * 4 }

    public func update(parameter: Tensor, grad: Tensor, state: RuleState, context: StepContext) {
        let m = state.tensor("exp_avg", shape: parameter.shape)
        let v = state.tensor("exp_avg_sq", shape: parameter.shape)
        state.updates += 1
        let t = Double(state.updates)
        let lr = Double(context.lr)
        // Scalars in Double (β^t via pow, not a running Float product), applied in Float.
        let bc1 = 1 - Foundation.pow(beta1, t)
        let bc2Sqrt = (1 - Foundation.pow(beta2, t)).squareRoot()
        let k = AdamKernel(decay: Float(1 - lr * weightDecay), oneMinusB1: Float(1 - beta1),
                           b2: Float(beta2), oneMinusB2: Float(1 - beta2),
                           invBc2Sqrt: Float(1 / bc2Sqrt), eps: Float(eps),
                           stepSize: Float(lr / bc1))
        k.apply(theta: parameter.pointer, grad: grad.pointer, m: m.pointer, v: v.pointer, count: parameter.count)
    }
}

/// The element-wise PyTorch AdamW update, vectorised and split over the threads:
/// θ ← θ·decay; m ← lerp(m, g, 1−β1); v ← β2·v + (1−β2)·g²; θ ← θ − stepSize·m / (√v·invBc2Sqrt + ε).
struct AdamKernel {
    let decay, oneMinusB1, b2, oneMinusB2, invBc2Sqrt, eps, stepSize: Float

    func apply(theta: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>,
               m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int) {
        let th = SendablePointer(theta), g = SendablePointer(grad)
        let mp = SendablePointer(m), vp = SendablePointer(v)
        Parallel.forRanges(count, grain: 1 << 15) { r in
            self.run(th.p, g.p, mp.p, vp.p, r)
        }
    }

    @inline(__always)
    private func run(_ th: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                     _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ r: Range<Int>) {
        typealias V8 = SIMD8<Float>
        var i = r.lowerBound
        let decay8 = V8(repeating: decay), a1 = V8(repeating: oneMinusB1)
        let b28 = V8(repeating: b2), a2 = V8(repeating: oneMinusB2)
        let ic = V8(repeating: invBc2Sqrt), e8 = V8(repeating: eps), s8 = V8(repeating: stepSize)
        while i + 8 <= r.upperBound {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: V8.self)
            var mv = UnsafeRawPointer(m + i).loadUnaligned(as: V8.self)
            var vv = UnsafeRawPointer(v + i).loadUnaligned(as: V8.self)
            var tv = UnsafeRawPointer(th + i).loadUnaligned(as: V8.self)
            tv = tv * decay8
            mv = mv + a1 * (gv - mv)
            vv = vv * b28 + a2 * (gv * gv)
            tv = tv - s8 * (mv / (vv.squareRoot() * ic + e8))
            UnsafeMutableRawPointer(m + i).storeBytes(of: mv, as: V8.self)
            UnsafeMutableRawPointer(v + i).storeBytes(of: vv, as: V8.self)
            UnsafeMutableRawPointer(th + i).storeBytes(of: tv, as: V8.self)
            i += 8
        }
        while i < r.upperBound {
            let gi = g[i]
            th[i] *= decay
            m[i] += oneMinusB1 * (gi - m[i])
            v[i] = v[i] * b2 + oneMinusB2 * (gi * gi)
            th[i] -= stepSize * (m[i] / (v[i].squareRoot() * invBc2Sqrt + eps))
            i += 1
        }
    }
}
