// Cautious: the one-line mask of "Cautious Optimizers" (Liang et al., arXiv 2411.16085;
// kyleliang919/C-Optim; optimizers-elementwise-zo.md §4) around any momentum rule. After the
// inner rule has written its direction d (and updated its moments), coordinates where d and
// the current gradient disagree (d·g ≤ 0) are zeroed and the rest rescaled:
//   mean: d ← d·φ / max(mean φ, 1e-3)        legacy: d ← d·φ·numel / (nnz + 1)
// The mask touches neither the moments nor the weight decay. With every coordinate agreeing,
// the "mean" scale is exactly 1, so C-AdamW is bit-identical to AdamW (same code path).
import Tensors

public struct Cautious: UpdateRule {
    public enum Normalisation: String, Sendable { case mean, legacy }

    public var inner: UpdateRule
    public var normalisation: Normalisation

    public init(_ inner: UpdateRule, normalisation: Normalisation = .mean) {
        self.inner = inner
        self.normalisation = normalisation
    }

    public var summary: String { "cautious(\(normalisation.rawValue)) " + inner.summary }

    public func makeState(for p: ParameterInfo, state: RuleState) throws { try inner.makeState(for: p, state: state) }

    public func stateBytesFormula(for p: ParameterInfo) -> Int { inner.stateBytesFormula(for: p) }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        let scale = try inner.direction(grad: grad, parameter: parameter, state: state, into: d, context: context)
        let n = d.count
        let dp = d.pointer, g = grad.pointer
        let agree = Cautious.countAgreeing(dp, g, n)
        let factor: Float
        switch normalisation {
        case .mean: factor = 1 / max(Float(agree) / Float(n), 1e-3)
        case .legacy: factor = Float(n) / Float(agree + 1)
        }
        let out = SendablePointer(dp), gp = SendablePointer(g)
        Parallel.forRanges(n, grain: 1 << 15) { r in  // d ← (d·g > 0) ? d·factor : 0, eight lanes at a time
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let x = UnsafeRawPointer(out.p + i).loadUnaligned(as: SIMD8<Float>.self)
                let keep = x * UnsafeRawPointer(gp.p + i).loadUnaligned(as: SIMD8<Float>.self) .> 0
                UnsafeMutableRawPointer(out.p + i).storeBytes(of: SIMD8<Float>(repeating: 0).replacing(with: x * factor, where: keep),
                                                               as: SIMD8<Float>.self)
                i += 8
            }
            while i < r.upperBound {
                let x = out.p[i]
                out.p[i] = x * gp.p[i] > 0 ? x * factor : 0
                i += 1
            }
        }
        context.metrics.observe("caution_kept", Double(agree) / Double(max(n, 1)))
        return scale
    }

    /// Number of i with d[i]·g[i] > 0, counted in fixed chunks over the threads (exact).
    static func countAgreeing(_ d: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ n: Int) -> Int {
        let chunk = 1 << 15
        let chunks = (n + chunk - 1) / chunk
        var partial = [Int](repeating: 0, count: max(chunks, 1))
        let dp = SendablePointer(d), gp = SendablePointer(g)
        partial.withUnsafeMutableBufferPointer { buf in
            let out = SendablePointer(buf.baseAddress!)
            Parallel.forRanges(chunks, grain: 1) { r in
                for c in r {
                    var lanes = SIMD8<Int32>(), count = 0
                    var i = c * chunk
                    let end = min(n, (c + 1) * chunk)
                    while i + 8 <= end {
                        let p = UnsafeRawPointer(dp.p + i).loadUnaligned(as: SIMD8<Float>.self)
                            * UnsafeRawPointer(gp.p + i).loadUnaligned(as: SIMD8<Float>.self)
                        lanes &+= SIMD8<Int32>(repeating: 0).replacing(with: 1, where: p .> 0)
                        i += 8
                    }
                    while i < end { if dp.p[i] * gp.p[i] > 0 { count += 1 }; i += 1 }
                    out.p[c] = count + Int(lanes.wrappedSum())
                }
            }
        }
        return partial.reduce(0, +)
    }

    static let normOption = OptimizerOption(
        "caution_norm", .choice(["mean", "legacy"]), .string("mean"), nil,
        "rescaling of the kept coordinates: mean (φ/max(mean φ, 1e-3), C-Optim's current C-AdamW) or legacy (φ·numel/(nnz+1))")

    /// `cadamw`: the cautious mask over the AdamW rule.
    public static let adamWDescriptor = OptimizerDescriptor(
        name: "cadamw",
        summary: "C-AdamW: AdamW whose update is masked where it disagrees in sign with the gradient",
        rule: "AdamW direction u; φ = 1[u·g > 0]; θ ← θ(1−ηλ) − η·u·φ/max(mean φ, 1e-3)",
        statePerMatrix: "2mn (8-bit: ≈ mn/2 + mn/128)",
        paper: "Liang et al., arXiv 2411.16085",
        options: [.beta1(0.9), .beta2(0.999), .eps(1e-8), .weightDecay(), normOption, .stateBits]
    ) { c, _, params in
        let adam = AdamW(beta1: c.number("beta1")!, beta2: c.number("beta2")!, eps: c.number("eps")!, stateBits: try c.stateBits())
        let rule = Cautious(adam, normalisation: Normalisation(rawValue: c.string("caution_norm"))!)
        return [ParameterGroup(name: "cadamw", rule: rule, parameters: params, weightDecay: c.number("weight_decay")!)]
    }

    /// `clion`: the cautious mask over the Lion rule.
    public static let lionDescriptor = OptimizerDescriptor(
        name: "clion",
        summary: "C-Lion: Lion whose sign update is masked where it disagrees in sign with the gradient",
        rule: "Lion direction u; φ = 1[u·g > 0]; θ ← θ(1−ηλ) − η·u·φ/max(mean φ, 1e-3)",
        statePerMatrix: "mn",
        paper: "Liang et al., arXiv 2411.16085",
        options: [.beta1(0.9, "interpolation β1 of the update's sign"), .beta2(0.99, "momentum decay β2"), .weightDecay(), normOption, .stateBits]
    ) { c, _, params in
        let lion = Lion(beta1: c.number("beta1")!, beta2: c.number("beta2")!, stateBits: try c.stateBits())
        let rule = Cautious(lion, normalisation: Normalisation(rawValue: c.string("caution_norm"))!)
        return [ParameterGroup(name: "clion", rule: rule, parameters: params, weightDecay: c.number("weight_decay")!)]
    }
}
