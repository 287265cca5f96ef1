// OptimizerSettings: the optimizer's name and the hyperparameters a run gave explicitly;
// each optimizer fills the rest from its own defaults (AdamW ε = 1e-8, GaLore's inner
// Adam ε = 1e-6, …), which is why unset values stay absent here rather than defaulted.

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

    public func number(_ key: String, default value: Double) -> Double { numbers[key] ?? value }
    public func flag(_ key: String, default value: Bool) -> Bool { flags[key] ?? value }
    public func string(_ key: String, default value: String) -> String { strings[key] ?? value }

    /// Every key that was set.
    public var keys: Set<String> { Set(numbers.keys).union(flags.keys).union(strings.keys) }
}
