// Fira: GaLore plus the out-of-subspace gradient, scaled per channel by the ratio by which
// Adam changed the low-rank gradient's norm, and damped by the norm-growth limiter (Chen et
// al., arXiv 2410.01623; xichen-fy/Fira; optimizers-lowrank.md §2). Reference mode:
//   φ_c = ‖N_c‖/(‖R_c‖ + 1e-8);  S = NL((G − α·back(R))⊙φ);  θ ← θ − η·c_t·(α·back(N) + S)
// Paper mode: E = G − back(R), S = NL(c_t·E⊙φ), θ ← θ − η·α·(c_t·back(N) + S).
// State: GaLore's plus the limiter's φ: r·d_lo + 2r·d_hi + 1.
import Tensors

public struct Fira: UpdateRule {
    public enum Mode: String, Sendable { case reference, paper }
    public enum Scaling: String, Sendable { case channel, tensor }

    public var core: LowRankAdam
    public var scale: Double
    public var mode: Mode
    public var scaling: Scaling
    public var limiter = NormGrowthLimiter(gamma: 1.01)

    public init(core: LowRankAdam, scale: Double = 0.25, mode: Mode = .reference, scaling: Scaling = .channel) {
        self.core = core
        self.scale = scale
        self.mode = mode
        self.scaling = scaling
    }

    public var summary: String {
        "fira(rank \(core.projector.rank), T \(core.updateGap), α \(scale), \(mode.rawValue), \(scaling.rawValue) scaling, \(core.projector.projType.rawValue), β=(\(core.beta1), \(core.beta2)), ε=\(core.eps)\(core.stateBits == 8 ? ", 8-bit moments" : ""))"
    }

    public func makeState(for p: ParameterInfo, state: RuleState) throws {
        try core.makeState(for: p, state: state)
        LowRankAdam.addLimiterState(state)
    }

    public func stateBytesFormula(for p: ParameterInfo) -> Int { core.stateBytes(for: p) + 4 }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        guard let s = try core.step(grad: grad, state: state, context: context) else {
            d.fillZero()
            return StepScale(lrFactor: 0, decayRate: 0)  // not finite: leave the weight as it is
        }
        let a = Float(scale), ct = Float(s.ct)
        // E = G − α·back(R) (reference) or G − back(R) (paper), in d.
        d.copy(from: s.g)
        core.projector.back(s.r, s.p, rows: s.rows, cols: s.cols, alpha: mode == .reference ? -a : -1, beta: 1, into: d)
        switch scaling {
        case .channel: LowRankAdam.scaleChannels(d, LowRankAdam.channelRatios(s), side: s.side)
        case .tensor: d.scaleInPlace(Float(LowRankAdam.tensorRatio(s)))
        }
        if mode == .paper { d.scaleInPlace(ct) }
        LowRankAdam.limit(d, state: state, limiter: limiter, context: context)
        switch mode {
        case .reference:
            core.projector.back(s.n, s.p, rows: s.rows, cols: s.cols, alpha: a, beta: 1, into: d)
            return StepScale(lrFactor: s.ct)
        case .paper:
            core.projector.back(s.n, s.p, rows: s.rows, cols: s.cols, alpha: ct, beta: 1, into: d)
            return StepScale(lrFactor: scale)
        }
    }

    public static let descriptor = OptimizerDescriptor(
        name: "fira",
        summary: "Fira: GaLore plus the norm-scaled out-of-subspace gradient with the norm-growth limiter; HF AdamW on the rest",
        rule: "GaLore's N, plus S = NL((G − α·back(R))·φ), φ = ‖N_c‖/‖R_c‖ per channel; θ ← θ − η·c_t·(α·back(N) + S)",
        statePerMatrix: "r·d_lo + 2r·d_hi + 1",
        paper: "Chen et al., arXiv 2410.01623",
        options: [LowRankOptions.rank, LowRankOptions.updateProjGap, LowRankOptions.scale(0.25, "α: scale of the back-projected update"),
                  LowRankOptions.projType,
                  OptimizerOption("fira_mode", .choice(["reference", "paper"]), .string("reference"), nil,
                                  "reference: the xichen-fy/Fira code (α only on the correction); paper: Algorithm 1 (α on everything)"),
                  OptimizerOption("fira_scaling", .choice(["channel", "tensor"]), .string("channel"), nil,
                                  "one scaling factor per channel, or one for the matrix (Fira-matrix)")] + LowRankOptions.adamOptions
    ) { c, model, params in
        let rule = Fira(core: try LowRankOptions.core(c, model: model, kind: .svd), scale: c.number("scale")!,
                        mode: Mode(rawValue: c.string("fira_mode"))!, scaling: Scaling(rawValue: c.string("fira_scaling"))!)
        return try LowRankOptions.plan("fira", rule, c, params)
    }
}
