// OptimizerDescriptor: everything the rest of the program knows about one optimizer — its
// name, the keys it reads (type, default, range, help), a one-line summary, the README
// table row, and the plan builder that maps a model's parameters to rules. The catalog is a
// list of descriptors; adding an optimizer is one file with its descriptor plus one line there.
import LlamaModel

public struct OptimizerDescriptor {
    public let name: String
    public let summary: String
    /// The README table's "rule" cell.
    public let rule: String
    /// The README table's "state per m×n matrix" cell.
    public let statePerMatrix: String
    /// The README table's "paper" cell.
    public let paper: String
    /// Keys this optimizer reads, `lr` first.
    public let options: [OptimizerOption]
    /// Builds the plan: groups of parameters with their rules.
    public let plan: (OptimizerConfig, ModelDescription, [Parameter]) throws -> [ParameterGroup]
    /// Estimates its steps from forward passes (no gradient, no activations for backward).
    public let zerothOrder: Bool
    /// Trains tensor-train adapters only (a run with it attaches them unless told not to).
    public let trainsAdapters: Bool

    public static let lrOption = OptimizerOption("lr", .number, .number(1e-3), .open(0, 1e6), "peak learning rate")

    public init(name: String, summary: String, rule: String, statePerMatrix: String, paper: String,
                options: [OptimizerOption], zerothOrder: Bool = false, trainsAdapters: Bool = false,
                plan: @escaping (OptimizerConfig, ModelDescription, [Parameter]) throws -> [ParameterGroup]) {
        self.name = name
        self.summary = summary
        self.rule = rule
        self.statePerMatrix = statePerMatrix
        self.paper = paper
        self.options = [OptimizerDescriptor.lrOption] + options.filter { $0.name != "lr" }
        self.plan = plan
        self.zerothOrder = zerothOrder
        self.trainsAdapters = trainsAdapters
    }

    public func option(_ key: String) -> OptimizerOption? { options.first { $0.name == key } }

    /// Defaults as the README prints them: "β1 0.9, β2 0.999, …" (lr excluded).
    public var defaultsText: String {
        options.dropFirst().map { "\($0.name) \($0.defaultValue.described)" }.joined(separator: ", ")
    }
}
