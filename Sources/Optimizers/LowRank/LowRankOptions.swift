// LowRankOptions: the keys GaLore, Fira and APOLLO share, named as their drivers name them
// (rank, update_proj_gap, scale, proj_type), and the plan they share (optimizers-lowrank.md
// §0.6): the low-rank rule on the attention/MLP matrices, the HF-style AdamW (ε 1e-6, decay
// after the step) on the embedding, norms and lm_head at the same lr.
import LlamaModel

enum LowRankOptions {
    static let rank = OptimizerOption("rank", .integer, .derived("hidden_size / 4"), .closed(1, 1e6),
                                      "projection rank r (the SVD projector caps it at min(m, n))")
    static let updateProjGap = OptimizerOption("update_proj_gap", .integer, .number(200), .closed(1, 1e9),
                                               "updates between projector refreshes T")
    static func scale(_ d: Double, _ help: String) -> OptimizerOption {
        OptimizerOption("scale", .number, .number(d), .closed(0, 1e6), help)
    }
    static let projType = OptimizerOption("proj_type", .choice(LowRankProjector.ProjType.allCases.map(\.rawValue)), .string("std"), nil,
                                          "side of the projection: std (compress the smaller dimension), reverse_std, right, left")
    static let adamOptions: [OptimizerOption] = [
        .beta1(0.9), .beta2(0.999),
        .eps(1e-6, "ε added to √v before bias correction (HF Adam core, as the reference optimizers)"),
        .weightDecay("weight decay λ, applied after the step to the updated weight (reference order)"),
        .stateBits,
    ]

    /// The low-rank core configured from `c` for `model`.
    static func core(_ c: OptimizerConfig, model: ModelDescription, kind: LowRankProjector.Kind, rank: Int? = nil) throws -> LowRankAdam {
        let r = rank ?? (c.isSet("rank") ? c.int("rank") : max(1, model.hiddenSize / 4))
        let projType = LowRankProjector.ProjType(rawValue: c.string("proj_type"))!
        return LowRankAdam(projector: LowRankProjector(kind: kind, projType: projType, rank: r),
                           updateGap: c.int("update_proj_gap"), beta1: c.number("beta1")!, beta2: c.number("beta2")!,
                           eps: c.number("eps")!, stateBits: try c.stateBits())
    }

    /// The two groups: `rule` on the block matrices, HF AdamW on the rest.
    static func plan(_ name: String, _ rule: UpdateRule, _ c: OptimizerConfig, _ params: [Parameter]) throws -> [ParameterGroup] {
        let (matrices, rest) = Plan.splitBlockMatrices(params)
        let wd = c.number("weight_decay")!
        let adam = AdamW(beta1: c.number("beta1")!, beta2: c.number("beta2")!, eps: c.number("eps")!, style: .hf, stateBits: try c.stateBits())
        return [ParameterGroup(name: name, rule: rule, parameters: matrices, weightDecay: wd, decayPlacement: .after),
                ParameterGroup(name: "adamw-hf (embedding, norms, head)", rule: adam, parameters: rest, weightDecay: wd, decayPlacement: .after)]
    }
}
