// OptimizerCatalog: the closed list of optimizer names a run can ask for, the
// hyperparameters each reads, and the plan that builds an Optimizer for a model: which
// rule each named parameter gets. Unknown names are rejected with the list of valid ones.
import LlamaModel
import Tensors

public enum OptimizerKind: String, CaseIterable, Sendable {
    case adamw
    case sgd

    /// Hyperparameter keys (run-config names) this optimizer reads; `lr` is read by all.
    public var keys: [String] {
        switch self {
        case .adamw: return ["lr", "beta1", "beta2", "eps", "weight_decay"]
        case .sgd: return ["lr", "momentum", "dampening", "weight_decay", "nesterov"]
        }
    }

    /// One-line description for `--help`.
    public var summary: String {
        switch self {
        case .adamw: return "AdamW, torch.optim.AdamW semantics (defaults β=(0.9, 0.999), ε=1e-8, wd=0)"
        case .sgd: return "SGD with optional momentum / dampening / Nesterov, torch.optim.SGD semantics"
        }
    }

    /// The kind for a name, or an error listing the valid names.
    public static func named(_ name: String) throws -> OptimizerKind {
        let key = name.lowercased().replacingOccurrences(of: "_", with: "-")
        if let k = OptimizerKind(rawValue: key) { return k }
        let valid = OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")
        throw OptimizerError("unknown optimizer \"\(name)\"; valid names: \(valid)")
    }
}

public enum OptimizerCatalog {
    /// Builds the optimizer named in `settings` for `parameters`.
    /// Weight decay applies to every parameter given to a rule (torch's default parameter group).
    public static func make(_ settings: OptimizerSettings, parameters: [Parameter]) throws -> Optimizer {
        let kind = try OptimizerKind.named(settings.name)
        let rule: UpdateRule
        switch kind {
        case .adamw:
            rule = AdamW(beta1: settings.number("beta1", default: 0.9),
                         beta2: settings.number("beta2", default: 0.999),
                         eps: settings.number("eps", default: 1e-8),
                         weightDecay: settings.number("weight_decay", default: 0))
            try checkAdamBetas(settings)
        case .sgd:
            rule = try SGD(momentum: settings.number("momentum", default: 0),
                           dampening: settings.number("dampening", default: 0),
                           weightDecay: settings.number("weight_decay", default: 0),
                           nesterov: settings.flag("nesterov", default: false))
        }
        return Optimizer(name: kind.rawValue, assignments: parameters.map {
            Optimizer.Assignment(parameter: $0, rule: rule, state: RuleState(), group: kind.rawValue)
        })
    }

    /// Keys the run set that `settings.name` does not read (for a warning).
    public static func ignoredKeys(_ settings: OptimizerSettings) -> [String] {
        guard let kind = try? OptimizerKind.named(settings.name) else { return [] }
        return settings.keys.subtracting(kind.keys).sorted()
    }

    static func checkAdamBetas(_ s: OptimizerSettings) throws {
        for key in ["beta1", "beta2"] {
            let b = s.number(key, default: 0.9)
            if !(b >= 0 && b < 1) { throw OptimizerError("\(key) must be in [0, 1), got \(b)") }
        }
        let eps = s.number("eps", default: 1e-8)
        if !(eps > 0) { throw OptimizerError("eps must be positive, got \(eps)") }
    }
}
