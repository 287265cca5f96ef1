// StructuredPlan: the plan of RACS and Alice (arXiv 2502.07752; optimizers-lowrank.md §0.6,
// §8.12): the structured rule on the attention/MLP matrices (and lm_head with
// `lowrank_include_head`, the paper's "Ppl." setting), PyTorch-style AdamW (β 0.9/0.999,
// ε 1e-8) on the rest at the same scheduled lr unless `adamw_lr` is set.
import LlamaModel

enum StructuredPlan {
    static let options: [OptimizerOption] = [
        OptimizerOption("lowrank_include_head", .bool, .bool(false), nil, "give lm_head to the structured rule too (else AdamW)"),
        OptimizerOption("adamw_lr", .number, .derived("lr"), .open(0, 1e6), "peak lr of the AdamW part (scheduled like lr)"),
        .weightDecay("decoupled weight decay λ, applied after the step (none in the paper)"),
    ]

    static func groups(_ name: String, _ rule: UpdateRule, _ c: OptimizerConfig, _ params: [Parameter]) -> [ParameterGroup] {
        let withHead = c.bool("lowrank_include_head")
        let structured = params.filter { $0.role.isBlockMatrix || (withHead && $0.role == .head) }
        let rest = params.filter { !($0.role.isBlockMatrix || (withHead && $0.role == .head)) }
        let wd = c.number("weight_decay")!
        let scale = c.number("adamw_lr").map { $0 / c.lr } ?? 1
        return [ParameterGroup(name: name, rule: rule, parameters: structured, weightDecay: wd, decayPlacement: .after),
                ParameterGroup(name: "adamw (embedding, norms\(withHead ? "" : ", head"))", rule: AdamW(beta1: 0.9, beta2: 0.999, eps: 1e-8),
                               parameters: rest, lrScale: scale, weightDecay: wd, decayPlacement: .after)]
    }
}
