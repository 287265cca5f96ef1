// The `alice` and `alice-0` descriptors: keys named as the spec names them (rank, leading_basis,
// update_proj_gap as K, alpha, alpha_c, beta1–3, gamma, alice_tracking, alice_compat) with the
// paper's Table 11 defaults (rank d/4, l = 5r/16: 40 of 128, 160 of 512), and the structured plan.
extension Alice {
    static func options(alice0: Bool) -> [OptimizerOption] {
        var o: [OptimizerOption] = [
            OptimizerOption("rank", .integer, .derived("hidden_size / 4"), .closed(1, 1e6), "subspace rank r (capped at the smaller dimension)"),
            OptimizerOption("leading_basis", .integer, .derived("5·rank/16"), .closed(1, 1e6), "Ritz vectors l kept at a refresh; the other r − l are switched"),
            OptimizerOption("update_proj_gap", .integer, .number(200), .closed(1, 1e9), "refresh interval K (updates 1, K, 2K, …)"),
            OptimizerOption("alpha", .number, .number(0.3), .closed(0, 1e6), "scale α of the whole update"),
            OptimizerOption("alpha_c", .number, .number(0.4), .closed(0, 1e6), "scale α_c of the compensation"),
            .beta1(0.9, "decay β1 of the subspace first moment and of the compensation energy"),
            .beta2(0.9, "decay β2 of the subspace second moment (the paper's 0.9)"),
        ]
        if !alice0 { o.append(OptimizerOption("beta3", .number, .number(0.999), .closedOpen(0, 1), "decay β3 of the tracked Q̃")) }
        o += [
            .eps(1e-8, "ε added to √V (no bias correction)"),
            OptimizerOption("gamma", .number, .number(1.01), .closed(1, 1e6), "norm-growth limiter γ of the compensation"),
            OptimizerOption("alice_tracking", .choice(["literal", "reproject"]), .string("literal"), nil,
                            "Q̃ after a switch: literal (Algorithm 4) or re-projected into the new basis"),
            OptimizerOption("alice_compat", .choice(["paper", "pytorch-optimizer"]), .string("paper"), nil,
                            "pytorch-optimizer: the port's start from U = 0, no orientation, p ≥ 1e-8, decay before the step, union sampling"),
        ]
        return o + StructuredPlan.options
    }

    static func make(_ c: OptimizerConfig, _ model: ModelDescription, alice0: Bool) -> Alice {
        let r = c.isSet("rank") ? c.int("rank") : max(1, model.hiddenSize / 4)
        let l = c.isSet("leading_basis") ? c.int("leading_basis") : max(1, 5 * r / 16)
        return Alice(rank: r, leading: l, updateGap: c.int("update_proj_gap"), alpha: c.number("alpha")!, alphaC: c.number("alpha_c")!,
                     beta1: c.number("beta1")!, beta2: c.number("beta2")!, beta3: alice0 ? 0 : c.number("beta3")!,
                     eps: c.number("eps")!, gamma: c.number("gamma")!,
                     tracking: Tracking(rawValue: c.string("alice_tracking"))!, compat: Compat(rawValue: c.string("alice_compat"))!)
    }

    static func plan(_ name: String, _ rule: Alice, _ c: OptimizerConfig, _ params: [LlamaModel.Parameter]) -> [ParameterGroup] {
        var groups = StructuredPlan.groups(name, rule, c, params)
        if rule.compat == .pytorchOptimizer { groups[0].decayPlacement = .before }
        return groups
    }

    public static let descriptor = OptimizerDescriptor(
        name: "alice",
        summary: "Alice: Adam in a tracked, switched rank-r subspace plus limited compensation outside it; AdamW on the rest",
        rule: "U refreshed every K (subspace iteration, Ritz top-l + sampled complement); Ω = Adam(UᵀG); θ ← θ − η·α·(U·Ω + α_c·C)",
        statePerMatrix: "r·d_lo + 2r·d_hi + d_hi + r² + 1",
        paper: "Gong et al., arXiv 2502.07752 (§5)",
        options: options(alice0: false)
    ) { c, model, params in plan("alice", make(c, model, alice0: false), c, params) }

    public static let zeroDescriptor = OptimizerDescriptor(
        name: "alice-0",
        summary: "Alice-0: Alice without tracking (β3 = 0, no Q̃); AdamW on the rest",
        rule: "as alice with β3 = 0",
        statePerMatrix: "r·d_lo + 2r·d_hi + d_hi + 1",
        paper: "Gong et al., arXiv 2502.07752 (§5)",
        options: options(alice0: true)
    ) { c, model, params in plan("alice-0", make(c, model, alice0: true), c, params) }
}

import LlamaModel
