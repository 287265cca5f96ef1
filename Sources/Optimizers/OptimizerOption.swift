// OptimizerOption: one hyperparameter an optimizer reads — its run-config key (snake_case;
// the flag is the kebab-case form), type, default, valid range and help. Descriptors list
// their options; the run-config key table, `train --help` and the README are made from them.

public struct OptimizerOption: Sendable {
    public enum Kind: Sendable, Equatable {
        case number, integer, bool
        case choice([String])
    }

    /// The default used when the run does not set the key.
    public enum Default: Sendable, Equatable {
        case number(Double)
        case bool(Bool)
        case string(String)
        /// No fixed value: the text says what is used instead (e.g. "lr", "none").
        case derived(String)

        public var described: String {
            switch self {
            case .number(let d): return OptimizerOption.format(d)
            case .bool(let b): return "\(b)"
            case .string(let s): return s
            case .derived(let s): return s
            }
        }
    }

    public let name: String
    public let kind: Kind
    public let defaultValue: Default
    public let range: ValueRange?
    public let help: String

    public init(_ name: String, _ kind: Kind, _ defaultValue: Default, _ range: ValueRange? = nil, _ help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.range = range
        self.help = help
    }

    /// The command-line flag.
    public var flag: String { "--" + name.replacingOccurrences(of: "_", with: "-") }

    static func format(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e6 { return String(Int(d)) }
        return "\(d)"
    }

    // Options several optimizers share, with the default each one uses.
    public static func beta1(_ d: Double, _ help: String = "first-moment decay β1") -> OptimizerOption {
        OptimizerOption("beta1", .number, .number(d), .closedOpen(0, 1), help)
    }
    public static func beta2(_ d: Double, _ help: String = "second-moment decay β2") -> OptimizerOption {
        OptimizerOption("beta2", .number, .number(d), .closedOpen(0, 1), help)
    }
    public static func eps(_ d: Double, _ help: String = "denominator ε, added after the bias correction of √v") -> OptimizerOption {
        OptimizerOption("eps", .number, .number(d), .open(0, 1), help)
    }
    public static func weightDecay(_ help: String = "decoupled weight decay λ (θ ← θ·(1 − η·λ), old weight)") -> OptimizerOption {
        OptimizerOption("weight_decay", .number, .number(0), .closed(0, 1e6), help)
    }
    public static let stateBits = OptimizerOption(
        "state_bits", .integer, .number(32), .closed(8, 32),
        "bits per moment value: 32, or 8 (block-wise, 256 values per absmax; tensors under 4096 values stay 32-bit)")
}

/// A numeric interval with open or closed ends, printed as "[0, 1)".
public struct ValueRange: Sendable, Equatable {
    public let lower: Double, upper: Double
    public let lowerOpen: Bool, upperOpen: Bool

    public static func closed(_ a: Double, _ b: Double) -> ValueRange { ValueRange(lower: a, upper: b, lowerOpen: false, upperOpen: false) }
    public static func closedOpen(_ a: Double, _ b: Double) -> ValueRange { ValueRange(lower: a, upper: b, lowerOpen: false, upperOpen: true) }
    public static func open(_ a: Double, _ b: Double) -> ValueRange { ValueRange(lower: a, upper: b, lowerOpen: true, upperOpen: true) }
    public static func openClosed(_ a: Double, _ b: Double) -> ValueRange { ValueRange(lower: a, upper: b, lowerOpen: true, upperOpen: false) }

    public func contains(_ x: Double) -> Bool {
        guard x.isFinite else { return false }
        let lo = lowerOpen ? x > lower : x >= lower
        let hi = upperOpen ? x < upper : x <= upper
        return lo && hi
    }

    public var description: String {
        (lowerOpen ? "(" : "[") + OptimizerOption.format(lower) + ", " + OptimizerOption.format(upper) + (upperOpen ? ")" : "]")
    }
}
