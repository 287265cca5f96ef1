// GaLore: Adam in the top-r singular subspace of the gradient, refreshed every T updates,
// projected back and scaled by α (Zhao et al., arXiv 2403.03507; jiaweizzhao/GaLore;
// optimizers-lowrank.md §1). d = back(N), step η·α·c_t. State per m×n matrix: P (r·d_lo)
// and the moments of R (2r·d_hi).
import Tensors

public struct GaLore: UpdateRule {
    public var core: LowRankAdam
    /// α: the projected matrices move at α·lr.
    public var scale: Double

    public init(core: LowRankAdam, scale: Double = 0.25) {
        self.core = core
        self.scale = scale
    }

    public var summary: String {
        "galore(rank \(core.projector.rank), T \(core.updateGap), α \(scale), \(core.projector.projType.rawValue), β=(\(core.beta1), \(core.beta2)), ε=\(core.eps)\(core.stateBits == 8 ? ", 8-bit moments" : ""))"
    }

    public func makeState(for p: ParameterInfo, state: RuleState) throws { try core.makeState(for: p, state: state) }

    public func stateBytesFormula(for p: ParameterInfo) -> Int { core.stateBytes(for: p) }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        guard let s = try core.step(grad: grad, state: state, context: context) else {
            d.fillZero()
            return StepScale(lrFactor: 0, decayRate: 0)  // not finite: leave the weight as it is
        }
        core.projector.back(s.n, s.p, rows: s.rows, cols: s.cols, into: d)
        return StepScale(lrFactor: s.ct * scale)
    }

    public static let descriptor = OptimizerDescriptor(
        name: "galore",
        summary: "GaLore: HF Adam on the SVD-projected gradient of the attention/MLP matrices, projected back × α; HF AdamW on the rest",
        rule: "P = top-r singular vectors of G every T updates; R = G·Pᵀ; N = Adam(R); θ ← θ − η·α·c_t·N·P",
        statePerMatrix: "r·d_lo + 2r·d_hi",
        paper: "Zhao et al., arXiv 2403.03507",
        options: [LowRankOptions.rank, LowRankOptions.updateProjGap, LowRankOptions.scale(0.25, "α: scale of the back-projected update"),
                  LowRankOptions.projType] + LowRankOptions.adamOptions
    ) { c, model, params in
        let rule = GaLore(core: try LowRankOptions.core(c, model: model, kind: .svd), scale: c.number("scale")!)
        return try LowRankOptions.plan("galore", rule, c, params)
    }
}
