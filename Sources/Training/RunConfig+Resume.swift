// RunConfig+Resume: the settings of a resumed run — those saved in the checkpoint, with
// only the keys that cannot change the loss curve (length, cadence, threads) overridable.
import Tensors

extension RunConfig {
    /// The saved config with `overrides`' explicit values applied; a changed key that would
    /// alter the curve (lr, optimizer, data, model, …) is an error naming it.
    public static func resumed(saved: JSONValue, overrides: RunConfig) throws -> RunConfig {
        guard let obj = saved.object else { throw ConfigError("checkpoint trainer_state.json has no run config object") }
        var config = RunConfig()
        for name in obj.keys.sorted() { try config.set(name, json: obj[name]!, source: "checkpoint run config") }
        for (name, value) in overrides.values.sorted(by: { $0.key < $1.key }) {
            if config.value(name) == value { continue }
            guard ConfigKeys.key(name)?.resumable == true else {
                let was = config.value(name)?.described ?? "unset"
                throw ConfigError("--\(name.replacingOccurrences(of: "_", with: "-")) \(value.described) differs from the checkpoint's \(was); a resumed run keeps its settings so the curve stays exact (only \(ConfigKeys.all.filter(\.resumable).map(\.flag).joined(separator: ", ")) may change). Start a new run with another --out to change it")
            }
            config.values[name] = value
        }
        if let m = overrides.modelJSON, m != config.modelJSON {
            throw ConfigError("the model given differs from the checkpoint's; a resumed run keeps its model (drop --model/--config, or start a new run with another --out)")
        }
        return config
    }
}
