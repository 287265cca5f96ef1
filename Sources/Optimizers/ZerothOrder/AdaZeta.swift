// AdaZeta: zeroth-order fine-tuning of tensor-train adapters with an adaptive query count
// (Yang et al., arXiv 2406.18060; spec optimizers-elementwise-zo.md §7). The base model is
// frozen; the TT adapters (LlamaAdapters) are the trainable set. Each step averages
// Q(e) two-point estimates, Q growing with the epoch e (QuerySchedule, §7.4):
// θ ← θ(1 − ηλ) − (η/Q)·Σ_q c_q·z_q, with λ on the TT cores and not on the biases.

public enum AdaZeta {
    public static let descriptor = OptimizerDescriptor(
        name: "adazeta",
        summary: "AdaZeta: zeroth-order SPSA on tensor-train adapters, queries per step growing with the epoch",
        rule: "c_q = (L(θ+εz_q) − L(θ−εz_q))/2ε, Q = min(max(⌊α·e^β⌋, Q_min), Q_max); θ ← θ(1−ηλ) − (η/Q)Σ c_q z_q",
        statePerMatrix: "0 (base frozen; the adapters are the trainable parameters)",
        paper: "Yang et al., arXiv 2406.18060",
        options: [.zoEps,
                  OptimizerOption("zo_queries_max", .integer, .number(15), .closed(1, 10_000), "largest query count Q_max"),
                  OptimizerOption("zo_queries_min", .integer, .number(1), .closed(1, 10_000), "smallest query count Q_min"),
                  OptimizerOption("zo_query_alpha", .number, .number(0.85), .open(0, 1e6), "schedule scale α of Q(e) = ⌊α·e^β⌋"),
                  OptimizerOption("zo_query_target", .number, .number(20), .open(0, 1e6), "N: the uncapped Q at the last epoch, from which β is derived"),
                  OptimizerOption("zo_query_beta", .number, .derived("ln(N/α)/ln(E)"), .open(0, 100), "schedule exponent β (default: derived from N, α and the run's epochs E)"),
                  OptimizerOption("zo_query_epoch_steps", .integer, .derived("train tokens / (B·T)"), .closed(1, 1e15), "steps per epoch S of the schedule (default: the training shard's tokens over B·T)"),
                  .zoDecayFilter,
                  OptimizerOption("weight_decay", .number, .number(0.01), .closed(0, 1e6),
                                  "weight decay λ: θ ← θ·(1 − η·λ) on the TT cores, not the biases (the reference scripts' 0.01)")],
        zerothOrder: true, trainsAdapters: true
    ) { c, _, params in
        guard params.allSatisfy({ $0.role == .adapter }) else {
            throw OptimizerError("adazeta trains tensor-train adapters only; the run must attach them (adapters \"tt\", the default for adazeta)")
        }
        let rule = ZerothOrderRule(eps: c.number("zo_eps")!, queries: .adaptive(
            alpha: c.number("zo_query_alpha")!, target: c.number("zo_query_target")!,
            minimum: c.int("zo_queries_min"), maximum: c.int("zo_queries_max"),
            beta: c.isSet("zo_query_beta") ? c.number("zo_query_beta") : nil,
            epochSteps: c.isSet("zo_query_epoch_steps") ? c.int("zo_query_epoch_steps") : 0))
        return ZerothOrderRule.plan(name: "adazeta", rule: rule, parameters: params, weightDecay: c.number("weight_decay")!,
                                    filter: c.string("zo_decay_filter"))
    }
}
