// Optimizer: routes every named parameter to its update rule (the plan) and owns their
// states; one `step` applies them all at the trainer's step clock. Its state enumerates
// as named buffers and scalars, which gives the exact state-byte count and checkpointing
// for every optimizer without optimizer-specific code (the innerState idea of mlx-swift).
import LlamaModel
import Tensors

public final class Optimizer {
    public struct Assignment {
        public let parameter: Parameter
        public let rule: UpdateRule
        public let state: RuleState
        /// Name of the group in the start-up plan, e.g. "low-rank" or "adamw".
        public let group: String
    }

    /// The optimizer's name as given in the run config.
    public let name: String
    public let assignments: [Assignment]

    public init(name: String, assignments: [Assignment]) {
        self.name = name
        self.assignments = assignments
    }

    /// Applies one update to every parameter that has a gradient.
    public func step(context: StepContext) {
        for a in assignments {
            guard let g = a.parameter.tensor.grad else { continue }
            a.rule.update(parameter: a.parameter.tensor, grad: g, state: a.state, context: context)
        }
    }

    /// Bytes of optimizer state actually held now.
    public var stateBytes: Int { assignments.reduce(0) { $0 + $1.state.stateBytes } }

    /// Bytes the memory formulas give for this plan once every parameter has been updated.
    public var stateBytesFormula: Int {
        assignments.reduce(0) { $0 + $1.rule.stateBytesFormula(shape: $1.parameter.shape) }
    }

    /// The parameter → rule mapping, one line per group of identical rules, for the start-up print.
    public var planDescription: String {
        var order: [String] = []
        var members: [String: [Assignment]] = [:]
        for a in assignments {
            let key = a.group + ": " + a.rule.summary
            if members[key] == nil { order.append(key) }
            members[key, default: []].append(a)
        }
        return order.map { key in
            let list = members[key]!
            let count = list.reduce(0) { $0 + $1.parameter.tensor.count }
            let roles = Set(list.map { $0.parameter.role.rawValue }).sorted().joined(separator: ", ")
            return "  \(key)\n    \(list.count) tensors, \(count) values (\(roles))"
        }.joined(separator: "\n")
    }

    // MARK: - Checkpoint state

    /// Scalars and integers of every parameter's state, keyed by parameter name.
    public struct ScalarState: Codable, Equatable {
        public var scalars: [String: Double]
        /// UInt64 values as decimal strings, so JSON keeps them exact.
        public var integers: [String: String]
    }

    /// Every state buffer, named "<parameter name>/<state key>", in a stable order.
    public func stateTensors() -> [(name: String, tensor: Tensor)] {
        assignments.flatMap { a in
            a.state.tensors.keys.sorted().map { (a.parameter.name + "/" + $0, a.state.tensors[$0]!) }
        }
    }

    /// Every state scalar, keyed by parameter name.
    public func stateScalars() -> [String: ScalarState] {
        var out: [String: ScalarState] = [:]
        for a in assignments where !(a.state.scalars.isEmpty && a.state.integers.isEmpty) {
            out[a.parameter.name] = ScalarState(scalars: a.state.scalars,
                                                integers: a.state.integers.mapValues { String($0) })
        }
        return out
    }

    /// Replaces every state with the saved one. `tensors` maps "<parameter>/<key>" to buffers.
    public func restoreState(tensors: [String: Tensor], scalars: [String: ScalarState]) throws {
        let byName = Dictionary(uniqueKeysWithValues: assignments.map { ($0.parameter.name, $0) })
        for a in assignments {
            a.state.tensors.removeAll()
            a.state.scalars.removeAll()
            a.state.integers.removeAll()
        }
        for (key, t) in tensors {
            guard let slash = key.lastIndex(of: "/") else {
                throw OptimizerError("optimizer state entry \"\(key)\" is not of the form <parameter>/<state>")
            }
            let pname = String(key[..<slash]), skey = String(key[key.index(after: slash)...])
            guard let a = byName[pname] else {
                throw OptimizerError("optimizer state names parameter \"\(pname)\", which the model does not have")
            }
            a.state.tensors[skey] = t
        }
        for (pname, s) in scalars {
            guard let a = byName[pname] else {
                throw OptimizerError("optimizer state names parameter \"\(pname)\", which the model does not have")
            }
            a.state.scalars = s.scalars
            for (k, v) in s.integers {
                guard let u = UInt64(v) else { throw OptimizerError("optimizer state \(pname)/\(k): \"\(v)\" is not an unsigned integer") }
                a.state.integers[k] = u
            }
        }
    }
}
