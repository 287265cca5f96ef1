// OptimizerSettings: the optimizer's name and the hyperparameters a run gave explicitly.
// OptimizerConfig pairs them with the chosen optimizer's descriptor: it checks types and
// ranges, rejects keys the optimizer does not read, and fills the rest from its defaults
// (AdamW ε = 1e-8, Lion β2 = 0.99, …), which is why unset values stay absent here.

public struct OptimizerSettings {
    public var name: String
    public var numbers: [String: Double]
    public var flags: [String: Bool]
    public var strings: [String: String]

    public init(name: String, numbers: [String: Double] = [:], flags: [String: Bool] = [:], strings: [String: String] = [:]) {
        self.name = name
        self.numbers = numbers
        self.flags = flags
        self.strings = strings
    }

    /// Every key that was set.
    public var keys: Set<String> { Set(numbers.keys).union(flags.keys).union(strings.keys) }
}

/// A run's settings resolved against one optimizer's options.
public struct OptimizerConfig {
    public let descriptor: OptimizerDescriptor
    public let settings: OptimizerSettings

    /// Checks every set key: read by this optimizer, of the right type, in range.
    public init(descriptor: OptimizerDescriptor, settings: OptimizerSettings) throws {
        self.descriptor = descriptor
        self.settings = settings
        for key in settings.keys.sorted() {
            guard let option = descriptor.option(key) else {
                let readers = OptimizerCatalog.readers(of: key)
                let who = readers.isEmpty ? "no optimizer reads it" : "it is read by \(readers.joined(separator: ", "))"
                throw OptimizerError("\(descriptor.name) does not read \"\(key)\" (\(who)); remove it or choose one of those optimizers")
            }
            switch option.kind {
            case .number, .integer:
                guard let x = settings.numbers[key] else {
                    throw OptimizerError("\"\(key)\" must be a number for \(descriptor.name)")
                }
                if option.kind == .integer, x != x.rounded() {
                    throw OptimizerError("\"\(key)\" must be an integer, got \(x)")
                }
                if let r = option.range, !r.contains(x) {
                    throw OptimizerError("\"\(key)\" must be in \(r.description) for \(descriptor.name), got \(OptimizerOption.format(x))")
                }
            case .bool:
                guard settings.flags[key] != nil else { throw OptimizerError("\"\(key)\" must be true or false") }
            case .choice(let options):
                guard let s = settings.strings[key] else { throw OptimizerError("\"\(key)\" must be one of \(options.joined(separator: ", "))") }
                guard options.contains(s) else {
                    throw OptimizerError("\"\(key)\" must be one of \(options.joined(separator: ", ")) for \(descriptor.name), got \"\(s)\"")
                }
            }
        }
    }

    private func option(_ key: String) -> OptimizerOption {
        guard let o = descriptor.option(key) else { preconditionFailure("\(descriptor.name) reads \(key) without declaring it") }
        return o
    }

    /// The number set for `key`, else the descriptor's default (nil for a derived default).
    public func number(_ key: String) -> Double? {
        let o = option(key)
        if let x = settings.numbers[key] { return x }
        if case .number(let d) = o.defaultValue { return d }
        return nil
    }

    public func int(_ key: String) -> Int { Int(number(key) ?? 0) }

    public func bool(_ key: String) -> Bool {
        let o = option(key)
        if let b = settings.flags[key] { return b }
        if case .bool(let b) = o.defaultValue { return b }
        return false
    }

    public func string(_ key: String) -> String {
        let o = option(key)
        if let s = settings.strings[key] { return s }
        if case .string(let s) = o.defaultValue { return s }
        return ""
    }

    public func isSet(_ key: String) -> Bool { settings.keys.contains(key) }

    /// The base learning rate of the run.
    public var lr: Double { settings.numbers["lr"] ?? 1e-3 }

    /// `state_bits` as 8 or 32; any other value is an error naming the key.
    public func stateBits() throws -> Int {
        let b = int("state_bits")
        guard b == 8 || b == 32 else { throw OptimizerError("\"state_bits\" must be 32 or 8, got \(b)") }
        return b
    }
}
