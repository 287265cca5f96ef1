// ZerothOrderRule: the plan entry of a zeroth-order optimizer (MeZO §6, AdaZeta §7 of
// optimizers-elementwise-zo.md). It holds no state (memory 0) and computes no direction from a
// gradient: the training step's zeroth-order branch (Training/ZerothOrderStep) estimates the
// projected gradient from forward passes and writes θ ← θ(1 − ηλ) − (η/Q)·Σ_q c_q·z_q itself.
// The groups of the plan still say which tensors move and which are decayed.
import LlamaModel
import Tensors

/// How many queries (directions) each step averages.
public enum QueryCount: Equatable, Sendable {
    /// n-SPSA with a constant n (MeZO's `zo_queries`).
    case fixed(Int)
    /// AdaZeta's epoch schedule; the trainer supplies the steps per epoch when `epochSteps`
    /// is 0 (the training shard's tokens over B·T) and the run's total steps.
    case adaptive(alpha: Double, target: Double, minimum: Int, maximum: Int, beta: Double?, epochSteps: Int)
}

public struct ZerothOrderRule: UpdateRule {
    /// Perturbation scale ε.
    public var eps: Double
    public var queries: QueryCount

    public init(eps: Double, queries: QueryCount) {
        self.eps = eps
        self.queries = queries
    }

    public var summary: String {
        switch queries {
        case .fixed(let n): return "zeroth-order SPSA(ε=\(eps), \(n) quer\(n == 1 ? "y" : "ies") per step; no state)"
        case .adaptive(let a, let t, let lo, let hi, let b, _):
            return "zeroth-order SPSA(ε=\(eps), adaptive queries α=\(a), N=\(t), Q in \(lo)...\(hi)\(b.map { ", β=\($0)" } ?? ""); no state)"
        }
    }

    public func makeState(for parameter: ParameterInfo, state: RuleState) throws {}

    public func stateBytesFormula(for parameter: ParameterInfo) -> Int { 0 }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into direction: Tensor,
                          context: RuleContext) throws -> StepScale {
        throw OptimizerError("a zeroth-order optimizer has no gradient rule; its steps run through the zeroth-order branch of the training step")
    }

    /// Whether `p` is decayed: `2d` (every tensor of rank ≥ 2: matrices, TT cores; never
    /// norm vectors or biases), or `reference` (MeZO's name filter: every name without
    /// "bias", "layer_norm" or "layernorm", which decays model.norm.weight too).
    public static func decayed(_ p: Parameter, filter: String) -> Bool {
        if filter == "reference" {
            return !["bias", "layer_norm", "layernorm"].contains { p.name.contains($0) }
        }
        return p.shape.count >= 2
    }

    /// The groups of a zeroth-order plan: decayed tensors at λ, the rest at 0.
    static func plan(name: String, rule: ZerothOrderRule, parameters: [Parameter], weightDecay: Double,
                     filter: String) -> [ParameterGroup] {
        let withDecay = parameters.filter { decayed($0, filter: filter) }
        let rest = parameters.filter { !decayed($0, filter: filter) }
        var groups: [ParameterGroup] = []
        if !withDecay.isEmpty { groups.append(ParameterGroup(name: name, rule: rule, parameters: withDecay, weightDecay: weightDecay)) }
        if !rest.isEmpty { groups.append(ParameterGroup(name: name + " (not decayed)", rule: rule, parameters: rest)) }
        return groups
    }
}

extension Optimizer {
    /// The zeroth-order rule of this optimizer's plan, nil for a gradient optimizer.
    public var zerothOrder: ZerothOrderRule? { groups.first?.rule as? ZerothOrderRule }
}

extension OptimizerOption {
    static let zoEps = OptimizerOption("zo_eps", .number, .number(1e-3), .open(0, 1), "perturbation scale ε of the two-point estimate (θ ± ε·z)")
    static let zoDecayFilter = OptimizerOption("zo_decay_filter", .choice(["2d", "reference"]), .string("2d"), nil,
                                               "which tensors weight decay applies to: 2d (rank ≥ 2: matrices and TT cores) or reference (MeZO's name filter, decays model.norm.weight too)")
}
