// RunConfig: a training run's settings, read from a JSON file (flat snake_case keys of the
// ConfigKeys table) and overridden by `--kebab-case` flags. Errors name the file, key or
// flag, say what was wrong and, for a misspelling, suggest the known key.
import Foundation
import LlamaModel
import Optimizers
import Tensors

/// A run-configuration problem, with a message ready to print.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public struct RunConfig: Equatable {
    /// Explicitly set values (JSON then flags); defaults are applied by the accessors.
    public internal(set) var values: [String: ConfigValue] = [:]
    /// The model's Hugging Face keys (inline, or loaded from the path given).
    public private(set) var modelJSON: [String: JSONValue]?
    /// Where `modelJSON` came from, for messages.
    public private(set) var modelSource = "model"
    /// Keys last set by a command-line flag (the rest came from a file or a checkpoint).
    public private(set) var flagKeys: Set<String> = []
    /// The optimizer named in the config file, if any (its keys may stay in the file when a
    /// flag switches the optimizer).
    public private(set) var fileOptimizer: String?
    /// Where each key was set, for messages: "FILE" or "flag --x".
    public private(set) var origins: [String: String] = [:]

    public init() {}

    // MARK: Reading

    /// Reads a JSON run config. Relative paths inside it are relative to the working directory.
    public static func load(_ url: URL) throws -> RunConfig {
        let data: Data
        var info = stat()
        if stat(url.path, &info) == 0 && info.st_mode & S_IFMT != S_IFREG {
            throw ConfigError("\(url.path): is \(info.st_mode & S_IFMT == S_IFDIR ? "a folder" : "not a regular file"), not a config file; give the path of a JSON run config to --config")
        }
        do { data = try Data(contentsOf: url) } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? error.localizedDescription : "no such file"
            throw ConfigError("\(url.path): cannot read the config file (\(reason)); check the path given to --config")
        }
        guard let obj = try JSONValue.parse(data, source: url.path).object else {
            throw ConfigError("\(url.path): a run config must be a JSON object of settings, e.g. {\"optimizer\": \"adamw\", \"lr\": 0.001}")
        }
        var config = RunConfig()
        for name in obj.keys.sorted() {
            try config.set(name, json: obj[name]!, source: url.path)
        }
        return config
    }

    /// Sets `name` from a JSON value. `source` names the file for messages.
    public mutating func set(_ name: String, json value: JSONValue, source: String) throws {
        guard let key = ConfigKeys.key(name) else { throw ConfigError(RunConfig.unknown("\(source): unknown key \"\(name)\"", name)) }
        let place = "\(source): key \"\(name)\""
        switch key.kind {
        case .model:
            if let path = value.string { try setModel(path: path, place: place) }
            else if let obj = value.object { modelJSON = obj; modelSource = "\(source): model" }
            else { throw ConfigError("\(place) must be an object of Hugging Face llama keys or a path to a config.json, got \(value.described)") }
        case .int:
            guard let i = value.integer else { throw ConfigError("\(place) must be an integer, got \(value.described)") }
            try store(key, .int(i), place: place)
        case .double:
            guard let d = value.number else { throw ConfigError("\(place) must be a number, got \(value.described)") }
            try store(key, .double(d), place: place)
        case .bool:
            guard let b = value.bool else { throw ConfigError("\(place) must be true or false, got \(value.described)") }
            try store(key, .bool(b), place: place)
        case .string, .choice:
            guard let s = value.string else { throw ConfigError("\(place) must be a string, got \(value.described)") }
            try store(key, .string(s), place: place)
            if name == "optimizer" { fileOptimizer = s }
        }
        flagKeys.remove(name)
        origins[name] = "\(source): key \"\(name)\""
    }

    /// Sets `name` from command-line text (the flag's value).
    public mutating func set(_ name: String, text: String) throws {
        guard let key = ConfigKeys.key(name) else {
            throw ConfigError(RunConfig.unknown("unknown flag --\(name.replacingOccurrences(of: "_", with: "-"))", name, flag: true))
        }
        let place = "flag \(key.flag)"
        switch key.kind {
        case .model: try setModel(path: text, place: place)
        case .int:
            guard let i = Int(text) else { throw ConfigError("\(place) needs an integer, got \"\(text)\"") }
            try store(key, .int(i), place: place)
        case .double:
            guard let d = Double(text), d.isFinite else { throw ConfigError("\(place) needs a number, got \"\(text)\"") }
            try store(key, .double(d), place: place)
        case .bool:
            switch text.lowercased() {
            case "true", "1", "yes": try store(key, .bool(true), place: place)
            case "false", "0", "no": try store(key, .bool(false), place: place)
            default: throw ConfigError("\(place) needs true or false, got \"\(text)\"")
            }
        case .string, .choice: try store(key, .string(text), place: place)
        }
        flagKeys.insert(key.name)
        origins[key.name] = place
    }

    private mutating func setModel(path: String, place: String) throws {
        if path.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") {  // inline JSON, as --help says
            guard let obj = try JSONValue.parse(Data(path.utf8), source: place).object else {
                throw ConfigError("\(place): inline model config must be a JSON object of Hugging Face llama keys")
            }
            modelJSON = obj
            modelSource = place
            return
        }
        let url = URL(fileURLWithPath: path)
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigError("\(place): cannot read model config \(path) (\(error.localizedDescription))")
        }
        guard let obj = try JSONValue.parse(data, source: path).object else {
            throw ConfigError("\(path): a model config must be a JSON object of Hugging Face llama keys")
        }
        modelJSON = obj
        modelSource = path
    }

    private mutating func store(_ key: ConfigKey, _ value: ConfigValue, place: String) throws {
        if let lo = key.min, let d = value.double {
            if d < lo || (key.exclusiveMin && d == lo) || !d.isFinite {
                throw ConfigError("\(place) must be \(key.exclusiveMin ? ">" : "≥") \(RunConfig.format(lo)), got \(value.described)")
            }
        }
        if let hi = key.max, let d = value.double, d > hi {
            throw ConfigError("\(place) must be ≤ \(RunConfig.format(hi)), got \(value.described); sizes beyond that cannot be allocated or counted on this machine")
        }
        if case .double(let d) = value {  // every number is used as a 32-bit float
            let f = Float(d)
            if f.isInfinite || (d != 0 && f == 0) {
                throw ConfigError("\(place) = \(value.described) becomes \(f.isInfinite ? "infinite" : "0") as a 32-bit float, which the run computes in; use a value between 1.2e-38 and 3.4e38 in magnitude")
            }
        }
        if key.name == "threads", case .int(let n) = value { try RunConfig.checkThreads(n, place: place) }
        if case .choice(let options) = key.kind, case .string(let s) = value, !options.contains(s) {
            throw ConfigError("\(place) must be one of \(options.joined(separator: ", ")), got \"\(s)\"")
        }
        values[key.name] = value
    }

    static func unknown(_ what: String, _ name: String, flag: Bool = false) -> String {
        if let s = ConfigKeys.suggestion(for: name), let k = ConfigKeys.key(s) {
            return "\(what); did you mean \(flag ? k.flag : "\"\(k.name)\"")?"
        }
        return "\(what); `swift-train train --help` lists the settings"
    }

    /// A thread count (the `threads` key, or any command's `--threads`): 0 for all cores, or
    /// at most four threads a core.
    public static func checkThreads(_ n: Int, place: String) throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if n < 0 || n > 4 * cores {
            throw ConfigError("\(place) = \(n) is not 0 (all cores) or a count up to 4× this machine's \(cores) cores; more threads would oversubscribe them (and can stall); use 0 or at most \(cores)")
        }
    }

    static func format(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d) }

    // MARK: Typed access (defaults from the key table)

    public func value(_ name: String) -> ConfigValue? { values[name] ?? ConfigKeys.key(name)?.defaultValue }
    public func isSet(_ name: String) -> Bool { values[name] != nil }
    public func int(_ name: String) -> Int { if case .int(let i)? = value(name) { return i }; return 0 }
    public func double(_ name: String) -> Double { value(name)?.double ?? 0 }
    public func bool(_ name: String) -> Bool { if case .bool(let b)? = value(name) { return b }; return false }
    public func string(_ name: String) -> String { if case .string(let s)? = value(name) { return s }; return "" }

    public var steps: Int { int("steps") }
    public var batchSize: Int { int("batch_size") }
    public var seqLen: Int { int("seq_len") }
    public var gradAccum: Int { int("grad_accum") }
    public var seed: UInt64 { UInt64(int("seed")) }
    public var out: String { string("out") }
    public var data: String { string("data") }

    /// The model shape, validated. Errors name the key and the fix.
    public func modelConfig() throws -> LlamaConfig {
        guard let json = modelJSON else {
            throw ConfigError("no model given: set \"model\" in the config (inline Hugging Face llama keys or a config.json path) or pass --model FILE")
        }
        do { return try LlamaConfig(json: json, source: modelSource) } catch let e as ModelConfigError {
            throw ConfigError(e.description)
        }
    }

    /// The optimizer's name and every optimizer hyperparameter the run set.
    public var optimizerSettings: OptimizerSettings {
        var s = OptimizerSettings(name: string("optimizer"))
        s.numbers["lr"] = double("lr")
        for key in ConfigKeys.all where key.name != "lr" && values[key.name] != nil && RunConfig.optimizerKeys.contains(key.name) {
            switch values[key.name]! {
            case .bool(let b): s.flags[key.name] = b
            case .string(let t): s.strings[key.name] = t
            case let v: s.numbers[key.name] = v.double
            }
        }
        return s
    }

    /// Keys that belong to optimizers (everything any optimizer reads).
    static var optimizerKeys: Set<String> { ConfigKeys.optimizerKeyNames }

    /// Checks the optimizer keys against the chosen optimizer. A key it does not read is an
    /// error naming the optimizers that do — unless it came from a config file written for
    /// another optimizer (switched by a flag) that reads it: then it is dropped with a note,
    /// so one config serves every `--optimizer`. Returns the notes.
    public mutating func resolveOptimizerKeys() throws -> [String] {
        let chosen: OptimizerDescriptor
        do { chosen = try OptimizerCatalog.descriptor(named: string("optimizer")) } catch let e as OptimizerError {
            throw ConfigError("\(origins["optimizer"] ?? "optimizer"): \(e.description)")
        }
        var notes: [String] = []
        for name in values.keys.sorted() where RunConfig.optimizerKeys.contains(name) && chosen.option(name) == nil {
            let readers = OptimizerCatalog.readers(of: name)
            if !flagKeys.contains(name), let fileOpt = fileOptimizer,
               let fileDescriptor = try? OptimizerCatalog.descriptor(named: fileOpt),
               fileDescriptor.name != chosen.name, fileDescriptor.option(name) != nil {
                notes.append("\(name) \(values[name]!.described) in the config is a setting of \(fileDescriptor.name); \(chosen.name) does not read it, so it is left out")
                values[name] = nil
                continue
            }
            let place = origins[name] ?? "\"\(name)\""
            throw ConfigError("\(place): optimizer \(chosen.name) does not read \(name) (read by \(readers.joined(separator: ", "))); remove it, or choose one of those optimizers")
        }
        // Ranges are the chosen optimizer's (β in [0, 1), state_bits 8 or 32, …).
        for name in values.keys.sorted() where RunConfig.optimizerKeys.contains(name) {
            guard let option = chosen.option(name), let x = values[name]?.double else { continue }
            let place = origins[name] ?? "\"\(name)\""
            if let r = option.range, !r.contains(x) {
                throw ConfigError("\(place) must be in \(r.description) for \(chosen.name), got \(values[name]!.described)")
            }
            if name == "state_bits", x != 8, x != 32 {
                throw ConfigError("\(place) must be 32 or 8, got \(values[name]!.described)")
            }
        }
        return notes
    }

    /// The whole config as one JSON object (explicit values and the model), for checkpoints.
    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        for (k, v) in values {
            switch v {
            case .int(let i): o[k] = .int(i)
            case .double(let d): o[k] = .double(d)
            case .bool(let b): o[k] = .bool(b)
            case .string(let s): o[k] = .string(s)
            }
        }
        if let m = modelJSON { o["model"] = .object(m) }
        return .object(o)
    }

    /// Checks the cross-key rules that single values cannot (after flags are applied).
    public func validateForTraining() throws {
        let model = try modelConfig()
        if data.isEmpty {
            throw ConfigError("no training data: set \"data\" in the config or pass --data DIR (a folder made by `swift-train prepare`)")
        }
        if out.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ConfigError("\(origins["out"] ?? "out") is empty; give the run folder to write (e.g. --out runs/mine)")
        }
        if seqLen > model.maxPositionEmbeddings {
            throw ConfigError("seq_len \(seqLen) is longer than the model's max_position_embeddings \(model.maxPositionEmbeddings); lower --seq-len or raise max_position_embeddings")
        }
        if double("min_lr_ratio") > 1 {
            throw ConfigError("\(origins["min_lr_ratio"] ?? "min_lr_ratio") must be between 0 and 1, got \(double("min_lr_ratio"))")
        }
        try validateMemoryLevers()
        try validateSize(model)
        do { _ = try OptimizerCatalog.descriptor(named: string("optimizer")) } catch let e as OptimizerError {
            throw ConfigError("\(origins["optimizer"] ?? "optimizer"): \(e.description)")
        }
    }

    /// per_layer_update needs grad_clip 0 and grad_accum 1; errors say why and what to change.
    public func validateMemoryLevers() throws {
        if bool("per_layer_update") {
            let place = origins["per_layer_update"] ?? "per_layer_update"
            if double("grad_clip") > 0 {
                throw ConfigError("\(place): per_layer_update updates each weight during backward, before the global gradient norm that grad_clip \(double("grad_clip")) needs is known; set grad_clip to 0 (--grad-clip 0) or turn per_layer_update off")
            }
            if gradAccum > 1 {
                throw ConfigError("\(place): per_layer_update updates each weight during backward of a micro-batch, before the other \(gradAccum - 1) micro-batches of grad_accum \(gradAccum) have added to its gradient; set grad_accum to 1 (raise batch_size instead) or turn per_layer_update off")
            }
        }
    }

    /// The step's token count must fit an Int, and the run must fit this machine: weights,
    /// gradients, AdamW-sized state and a step's activations (the hand count the memory tests
    /// hold) against physical memory, before anything is allocated.
    public func validateSize(_ model: LlamaConfig) throws {
        let (tokens, o1) = batchSize.multipliedReportingOverflow(by: seqLen)
        let (_, o2) = tokens.multipliedReportingOverflow(by: gradAccum)
        if o1 || o2 {
            throw ConfigError("batch_size \(batchSize) × seq_len \(seqLen) × grad_accum \(gradAccum) tokens per step do not fit a 64-bit count; lower them")
        }
        var need = MemoryReport.estimatedPeakBytes(model, batch: batchSize, seqLen: seqLen)
        let have = Double(ProcessInfo.processInfo.physicalMemory)
        if let adapters = try adapterConfig() {
            // Adapter weights, gradients and up to two state tensors, 4 bytes each.
            let bytes = 16 * Double(try LlamaAdapters.parameterCount(model: model, config: adapters))
            if bytes > have {
                throw ConfigError(String(format: "the adapters of adapter_rank %ld and adapter_bottleneck %ld need about %.1f GiB (weights, gradients and optimizer state) but the machine has %.1f GiB; lower adapter_rank or adapter_bottleneck",
                                         adapters.rank, adapters.bottleneck, bytes / 1_073_741_824, have / 1_073_741_824))
            }
            need += bytes
        }
        if need > have {
            throw ConfigError(String(format: "this run needs about %.1f GiB (weights, gradients, optimizer state and the activations of batch_size %ld × seq_len %ld) but the machine has %.1f GiB; lower batch_size or seq_len, or the model size (`swift-train memory` gives the parts)",
                                     need / 1_073_741_824, batchSize, seqLen, have / 1_073_741_824))
        }
    }
}
