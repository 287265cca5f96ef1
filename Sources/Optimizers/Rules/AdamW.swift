// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, arXiv 1711.05101), with
// torch.optim.AdamW semantics (optimizers-elementwise-zo.md §1.1): the shared step decays the
// old weight by (1 − η·λ); ε is added after the bias correction of √v (the torch core of
// AdamCore). State m, v: 2·numel floats, or 8-bit block-wise codes with `state_bits` 8 (§8.2).
import Tensors

public struct AdamW: FusedUpdateRule {
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var style: AdamCore.Style
    public var stateBits: Int

    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, style: AdamCore.Style = .torch, stateBits: Int = 32) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.style = style
        self.stateBits = stateBits
    }

    public var summary: String {
        "adamw(β=(\(beta1), \(beta2)), ε=\(eps)\(style == .hf ? ", hf core" : "")\(stateBits == 8 ? ", 8-bit state" : ""))"
    }

    public func makeState(for p: ParameterInfo, state: RuleState) throws {
        state.addMoment("exp_avg", shape: p.shape, bits: stateBits, signed: true)
        state.addMoment("exp_avg_sq", shape: p.shape, bits: stateBits, signed: false)
        state.updates = 0
    }

    public func stateBytesFormula(for p: ParameterInfo) -> Int { 2 * RuleState.momentBytes(count: p.count, bits: stateBits) }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        state.updates += 1
        let t = state.updates
        state.withMoment("exp_avg") { m in
            state.withMoment("exp_avg_sq") { v in
                AdamCore.update(style: style, grad: grad.pointer, m: m, v: v, direction: d.pointer, count: d.count,
                                beta1: beta1, beta2: beta2, eps: eps, t: t)
            }
        }
        return StepScale(lrFactor: AdamCore.lrFactor(style: style, beta1: beta1, beta2: beta2, t: t))
    }

    /// With 32-bit state, the moments and the weight in one pass (FusedAdamStep).
    public func fusedStep(grad: Tensor, parameter: Tensor, state: RuleState, placement: DecayPlacement,
                          write: (StepScale) -> (step: Float, decay: Float)) -> FusedAdamStep? {
        guard !state.isQuantized("exp_avg"), !state.isQuantized("exp_avg_sq") else { return nil }
        state.updates += 1
        let t = state.updates
        let (step, decay) = write(StepScale(lrFactor: AdamCore.lrFactor(style: style, beta1: beta1, beta2: beta2, t: t)))
        return FusedAdamStep(style: style, grad: grad.pointer, m: state.float("exp_avg").pointer,
                             v: state.float("exp_avg_sq").pointer, theta: parameter.pointer, count: parameter.count,
                             beta1: beta1, beta2: beta2, eps: eps, t: t, step: step, decay: decay, placement: placement)
    }

    /// The `adamw` descriptor: every parameter gets AdamW.
    public static let descriptor = OptimizerDescriptor(
        name: "adamw",
        summary: "AdamW, torch.optim.AdamW semantics (decoupled decay of the old weight, ε after bias correction)",
        rule: "torch.optim.AdamW: m, v moments; θ ← θ(1−ηλ) − η·m̂/(√v̂+ε)",
        statePerMatrix: "2mn (8-bit: ≈ mn/2 + mn/128)",
        paper: "Loshchilov & Hutter, arXiv 1711.05101",
        options: [.beta1(0.9), .beta2(0.999), .eps(1e-8), .weightDecay(), .stateBits]
    ) { c, _, params in
        let rule = AdamW(beta1: c.number("beta1")!, beta2: c.number("beta2")!, eps: c.number("eps")!, stateBits: try c.stateBits())
        return [ParameterGroup(name: "adamw", rule: rule, parameters: params, weightDecay: c.number("weight_decay")!)]
    }
}
