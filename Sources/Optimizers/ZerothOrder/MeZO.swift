// MeZO: memory-efficient zeroth-order SGD (Malladi et al., arXiv 2305.17333; spec
// optimizers-elementwise-zo.md §6). Each step estimates the projected gradient
// p̂ = (L(θ+εz) − L(θ−εz))/(2ε) along a seeded Gaussian direction z from two forward passes
// on one batch and moves θ ← θ(1 − ηλ) − η·p̂·z; with `zo_queries` n > 1 it averages n such
// estimates (n-SPSA). No optimizer state; z is regenerated from its seed, never stored.
// Trains every weight, or only the adapters when the run attaches them.

public enum MeZO {
    public static let descriptor = OptimizerDescriptor(
        name: "mezo",
        summary: "MeZO: two-point SPSA with seeded Gaussian directions; forward passes only, no state",
        rule: "p̂ = (L(θ+εz) − L(θ−εz))/2ε; θ ← θ(1−ηλ) − η·p̂·z (n queries: mean of p̂ᵢzᵢ)",
        statePerMatrix: "0",
        paper: "Malladi et al., arXiv 2305.17333",
        options: [.zoEps,
                  OptimizerOption("zo_queries", .integer, .number(1), .closed(1, 10_000), "directions averaged per step (n-SPSA; 2n forward passes)"),
                  .zoDecayFilter,
                  .weightDecay("weight decay λ: θ ← θ·(1 − η·λ) on the decayed tensors (see zo_decay_filter)")],
        zerothOrder: true
    ) { c, _, params in
        let rule = ZerothOrderRule(eps: c.number("zo_eps")!, queries: .fixed(c.int("zo_queries")))
        return ZerothOrderRule.plan(name: "mezo", rule: rule, parameters: params, weightDecay: c.number("weight_decay")!,
                                    filter: c.string("zo_decay_filter"))
    }
}
