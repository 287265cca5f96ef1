// APOLLO and APOLLO-Mini: the raw gradient scaled per channel (or per tensor) by how much Adam
// changes the norm of a random rank-r projection of it (Zhu et al., arXiv 2412.05270;
// zhuhanqing/APOLLO; optimizers-lowrank.md §3):
//   s = ‖N_c‖/(‖R_c‖ + 1e-8) (or ‖N‖/‖R‖);  S = √scale·NL(G⊙s);  θ ← θ − η·c_t·S
// P is Gaussian N(0, 1/r), regenerated from (run seed, parameter, refresh index) and not
// kept; `proj svd` uses GaLore's projector instead (stored). State per m×n matrix:
// 2r·d_hi + 1 (+ r·d_lo with svd). APOLLO-Mini: rank 1, one factor per tensor, scale 128.
import Tensors

public struct APOLLO: UpdateRule {
    public enum ScaleType: String, Sendable { case channel, tensor }

    public var core: LowRankAdam
    /// The code's `scale`; the update is multiplied by √scale.
    public var scale: Double
    public var scaleType: ScaleType
    public var scaleFront: Bool
    public var disableLimiter: Bool
    public var limiter = NormGrowthLimiter(gamma: 1.01)

    public init(core: LowRankAdam, scale: Double = 1, scaleType: ScaleType = .channel, scaleFront: Bool = false, disableLimiter: Bool = false) {
        self.core = core
        self.scale = scale
        self.scaleType = scaleType
        self.scaleFront = scaleFront
        self.disableLimiter = disableLimiter
    }

    public var summary: String {
        "apollo(rank \(core.projector.rank), \(core.projector.kind.rawValue) projection, T \(core.updateGap), \(scaleType.rawValue) scaling, scale \(scale)\(scaleFront ? ", scale front" : "")\(disableLimiter ? ", no limiter" : ""), β=(\(core.beta1), \(core.beta2)), ε=\(core.eps)\(core.stateBits == 8 ? ", 8-bit moments" : ""))"
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
        d.copy(from: s.g)
        switch scaleType {
        case .channel:
            // The channels are G's rows for a right projection, its columns for a left one.
            LowRankAdam.scaleChannels(d, LowRankAdam.channelRatios(s), side: s.side)
        case .tensor:
            d.scaleInPlace(Float(LowRankAdam.tensorRatio(s)))
        }
        let a = Float(scale.squareRoot())
        if scaleFront { d.scaleInPlace(a) }
        if !disableLimiter { LowRankAdam.limit(d, state: state, limiter: limiter, context: context) }
        if !scaleFront { d.scaleInPlace(a) }
        return StepScale(lrFactor: s.ct)
    }

    static func options(scale: Double, mini: Bool) -> [OptimizerOption] {
        var o: [OptimizerOption] = []
        if !mini {
            o.append(LowRankOptions.rank)
            o.append(OptimizerOption("scale_type", .choice(["channel", "tensor"]), .string("channel"), nil,
                                     "one scaling factor per channel, or one per matrix"))
        }
        o += [LowRankOptions.updateProjGap,
              LowRankOptions.scale(scale, "the update is multiplied by √scale (the code's scale; the paper's α is √scale)"),
              LowRankOptions.projType,
              OptimizerOption("proj", .choice(["random", "svd"]), .string("random"), nil,
                              "random: Gaussian P regenerated from the seed (not stored); svd: GaLore's projector (stored)"),
              OptimizerOption("scale_front", .bool, .bool(false), nil, "apply √scale before the limiter instead of after"),
              OptimizerOption("disable_nl", .bool, .bool(false), nil, "turn the norm-growth limiter off")]
        return o + LowRankOptions.adamOptions
    }

    static func rule(_ c: OptimizerConfig, _ model: ModelDescription, mini: Bool) throws -> APOLLO {
        let kind = LowRankProjector.Kind(rawValue: c.string("proj"))!
        let core = try LowRankOptions.core(c, model: model, kind: kind, rank: mini ? 1 : nil)
        return APOLLO(core: core, scale: c.number("scale")!, scaleType: mini ? .tensor : ScaleType(rawValue: c.string("scale_type"))!,
                      scaleFront: c.bool("scale_front"), disableLimiter: c.bool("disable_nl"))
    }

    public static let descriptor = OptimizerDescriptor(
        name: "apollo",
        summary: "APOLLO: the raw gradient scaled per channel by Adam's norm ratio in a random rank-r space; HF AdamW on the rest",
        rule: "R = G·Pᵀ (random P); N = Adam(R); s_c = ‖N_c‖/‖R_c‖; θ ← θ − η·c_t·√scale·NL(G·s)",
        statePerMatrix: "2r·d_hi + 1 (P regenerated; + r·d_lo with proj svd)",
        paper: "Zhu et al., arXiv 2412.05270",
        options: options(scale: 1, mini: false)
    ) { c, model, params in
        try LowRankOptions.plan("apollo", try rule(c, model, mini: false), c, params)
    }

    public static let miniDescriptor = OptimizerDescriptor(
        name: "apollo-mini",
        summary: "APOLLO-Mini: rank 1, one scaling factor per matrix, scale 128; HF AdamW on the rest",
        rule: "as apollo with r = 1 and s = ‖N‖_F/‖R‖_F",
        statePerMatrix: "2·d_hi + 1",
        paper: "Zhu et al., arXiv 2412.05270",
        options: options(scale: 128, mini: true)
    ) { c, model, params in
        try LowRankOptions.plan("apollo-mini", try rule(c, model, mini: true), c, params)
    }
}
