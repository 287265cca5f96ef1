// OptimizerCatalog: the closed list of optimizers a run can ask for, as descriptors. The
// run-config keys, `train --help` and the README's optimizer table are all made from this
// list. Adding an optimizer: one file with its rule and descriptor, one line below.
import LlamaModel

public enum OptimizerCatalog {
    public static let all: [OptimizerDescriptor] = [
        AdamW.descriptor,
        SGD.descriptor,
        Adafactor.descriptor,
        Lion.descriptor,
        Cautious.adamWDescriptor,
        Cautious.lionDescriptor,
        AdamMini.descriptor,
        Muon.descriptor,
        GaLore.descriptor,
        Fira.descriptor,
        APOLLO.descriptor,
        APOLLO.miniDescriptor,
        RACS.descriptor,
        Alice.descriptor,
        Alice.zeroDescriptor,
        MeZO.descriptor,
        AdaZeta.descriptor,
    ]

    public static var names: [String] { all.map(\.name) }

    /// The descriptor for `name` (case-insensitive, `_` accepted for `-`), or an error
    /// listing the valid names.
    public static func descriptor(named name: String) throws -> OptimizerDescriptor {
        let key = name.lowercased().replacingOccurrences(of: "_", with: "-")
        if let d = all.first(where: { $0.name == key }) { return d }
        throw OptimizerError("unknown optimizer \"\(name)\"; valid names: \(names.joined(separator: ", "))")
    }

    /// Names of the optimizers that read `key`.
    public static func readers(of key: String) -> [String] {
        all.filter { $0.option(key) != nil }.map(\.name)
    }

    /// Every option key any optimizer reads, each once (first declaration), in catalog order.
    public static var allOptions: [OptimizerOption] {
        var seen = Set<String>()
        var out: [OptimizerOption] = []
        for d in all {
            for o in d.options where seen.insert(o.name).inserted { out.append(o) }
        }
        return out
    }

    /// Builds the optimizer named in `settings` for `model`'s `parameters`.
    /// With `materialized` false the state is reserved but not written (for counting it);
    /// with `owned` set, only those parameters' state is built (one rank's share).
    public static func make(_ settings: OptimizerSettings, model: ModelDescription, parameters: [Parameter],
                            materialized: Bool = true, owned: Set<String>? = nil) throws -> Optimizer {
        let descriptor = try descriptor(named: settings.name)
        let config = try OptimizerConfig(descriptor: descriptor, settings: settings)
        let groups = try descriptor.plan(config, model, parameters)
        let bits = descriptor.option("state_bits") != nil ? try config.stateBits() : 32
        return try Optimizer(name: descriptor.name, groups: groups, modelParameters: parameters, stateBits: bits,
                             materialized: materialized, owned: owned)
    }

    /// The README's optimizer table (Markdown), one row per descriptor.
    public static var markdownTable: String {
        var lines = ["| name | rule | state per m×n matrix | defaults | paper |", "| --- | --- | --- | --- | --- |"]
        for d in all {
            lines.append("| `\(d.name)` | \(d.rule) | \(d.statePerMatrix) | \(d.defaultsText) | \(d.paper) |")
        }
        return lines.joined(separator: "\n")
    }
}
