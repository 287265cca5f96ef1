// ConfigKeys: the one table of run settings. Each key is a snake_case JSON key of a run
// config and, in kebab-case, a flag of `swift-train train`; the table gives its type,
// default and help, so the JSON reader, the flag parser and `--help` cannot disagree. The
// optimizer keys come from the optimizers' descriptors (OptimizerCatalog).
import LlamaModel
import Optimizers

/// The type of a run setting's value.
public enum ConfigKind: Equatable, Sendable {
    case int, double, bool, string
    case choice([String])
    /// A JSON object of Hugging Face llama keys, or a path to a config.json.
    case model
}

public struct ConfigKey: Sendable {
    public let name: String
    public let kind: ConfigKind
    /// Default, or nil when the key has none (required, or optimizer-specific default).
    public let defaultValue: ConfigValue?
    public let help: String
    /// Lower bound (inclusive unless `exclusiveMin`) for numbers, checked on load.
    public let min: Double?
    public let exclusiveMin: Bool
    /// Upper bound (inclusive) for numbers, checked on load: sizes past it could not be
    /// allocated or counted.
    public let max: Double?
    /// Whether changing it on `--resume` keeps the run exact (cadence, length, threads).
    public let resumable: Bool

    init(_ name: String, _ kind: ConfigKind, _ defaultValue: ConfigValue?, min: Double? = nil,
         exclusiveMin: Bool = false, max: Double? = nil, resumable: Bool = false, _ help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
        self.min = min
        self.exclusiveMin = exclusiveMin
        self.max = max
        self.resumable = resumable
    }

    /// The command-line flag: `--` + the name with `_` replaced by `-`.
    public var flag: String { "--" + name.replacingOccurrences(of: "_", with: "-") }
}

/// A run setting's value.
public enum ConfigValue: Equatable, Sendable, Codable {
    case int(Int), double(Double), bool(Bool), string(String)

    public var double: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var described: String {
        switch self {
        case .int(let i): return "\(i)"
        case .double(let d): return "\(d)"
        case .bool(let b): return "\(b)"
        case .string(let s): return s
        }
    }
}

public enum ConfigKeys {
    /// Every run setting, in the order `--help` lists them: the general keys, then each
    /// optimizer key of the catalog's descriptors (once, with the optimizers that read it).
    public static let all: [ConfigKey] = {
        let general = generalKeys
        let at = general.firstIndex { $0.name == "schedule" } ?? general.count
        return Array(general[..<at]) + optimizerKeys + Array(general[at...])
    }()

    /// Keys of the optimizers' options (all but `lr`), made from the catalog.
    static let optimizerKeys: [ConfigKey] = OptimizerCatalog.allOptions.filter { $0.name != "lr" }.map { o in
        let kind: ConfigKind
        switch o.kind {
        case .number: kind = .double
        case .integer: kind = .int
        case .bool: kind = .bool
        case .choice(let c): kind = .choice(c)
        }
        let readers = OptimizerCatalog.all.compactMap { d in d.option(o.name).map { "\(d.name) \($0.defaultValue.described)" } }
        let helps = Set(OptimizerCatalog.all.compactMap { $0.option(o.name)?.help })
        let more = helps.count > 1 ? " (its meaning per optimizer: `swift-train optimizers`)" : ""
        return ConfigKey(o.name, kind, nil, "\(o.help)\(more) [read by: \(readers.joined(separator: ", "))]")
    }

    /// Names of the optimizer keys.
    public static let optimizerKeyNames: Set<String> = Set(optimizerKeys.map(\.name))

    static let generalKeys: [ConfigKey] = [
        // What to train on.
        ConfigKey("model", .model, nil, "model shape: inline Hugging Face llama keys in JSON, or a path to a config.json"),
        ConfigKey("data", .string, nil, "folder with train.bin, val.bin and tokenizer.model (see `swift-train prepare`)"),
        ConfigKey("init_from", .string, .string(""), "start from weights in a .safetensors file (names and shapes must match the model)"),
        ConfigKey("out", .string, .string("runs/run"), resumable: true, "output folder: metrics.jsonl, checkpoints/ (on --resume: the folder resumed)"),
        ConfigKey("overwrite", .bool, .bool(false), resumable: true, "start a new run in an out folder that holds one, deleting its metrics and checkpoints (without it, such a folder is refused)"),
        // Optimizer.
        ConfigKey("optimizer", .string, .string("adamw"), "optimizer name: " + OptimizerCatalog.names.joined(separator: ", ")),
        ConfigKey("lr", .double, .double(1e-3), min: 0, exclusiveMin: true, "peak learning rate"),
        // Schedule.
        ConfigKey("schedule", .choice(["constant", "linear", "cosine"]), .string("cosine"), "learning-rate decay after warm-up"),
        ConfigKey("warmup_steps", .int, .int(0), min: 0, "linear warm-up steps: lr·s/warmup_steps for s ≤ warmup_steps"),
        ConfigKey("min_lr_ratio", .double, .double(0.1), min: 0, "final lr as a fraction of the peak (linear, cosine)"),
        ConfigKey("steps", .int, .int(100), min: 1, resumable: true, "total optimizer steps"),
        // Batches.
        ConfigKey("batch_size", .int, .int(8), min: 1, "sequences per micro-batch (B)"),
        ConfigKey("seq_len", .int, .int(128), min: 1, "tokens per sequence (T)"),
        ConfigKey("grad_accum", .int, .int(1), min: 1, max: 1_048_576, "micro-batches per optimizer step"),
        ConfigKey("shuffle", .bool, .bool(false), "seeded shuffle of window starts instead of the sequential order"),
        ConfigKey("grad_clip", .double, .double(0), min: 0, "clip the global gradient norm to this (0 = off)"),
        ConfigKey("max_bad_steps", .int, .int(3), min: 1, resumable: true, "stop the run after this many steps in a row whose loss or gradient is not finite, or whose gradient is exactly zero (a collapsed model); the last checkpoint is kept"),
        // Memory levers (each leaves the loss curve bit-identical).
        ConfigKey("per_layer_update", .bool, .bool(false), resumable: true, "update each weight as soon as backward completes its gradient, then free that gradient (gradient memory of one layer; needs grad_clip 0 and grad_accum 1)"),
        ConfigKey("activation_checkpointing", .bool, .bool(false), resumable: true, "keep only each block's input in forward and recompute the block during backward (less activation memory, about one more forward pass of time)"),
        // Tensor-train adapters (AdaZeta; any optimizer can train them).
        ConfigKey("adapters", .choice(["auto", "none", "tt"]), .string("auto"), "tt: freeze the base model and train tensor-train adapters only (saved as adapters.safetensors); none: train every weight; auto: tt for adazeta, none otherwise"),
        ConfigKey("adapter_rank", .int, .int(5), min: 1, max: 1024, "TT rank r of the adapters' cores"),
        ConfigKey("adapter_bottleneck", .int, .int(64), min: 2, max: 1_048_576, "adapter bottleneck width b (d → b → d)"),
        ConfigKey("adapter_activation", .choice(AdapterActivation.allCases.map(\.rawValue)), .string("relu"), "activation between the adapter's down and up maps"),
        ConfigKey("adapter_placement", .choice(AdapterPlacement.allCases.map(\.rawValue)), .string("mlp3"), "mlp3: on the inputs of gate_proj and up_proj and the output of down_proj (the reference LLaMA code); houlsby: on the attention output and the MLP output"),
        ConfigKey("adapter_init", .choice(AdapterInit.allCases.map(\.rawValue)), .string("reference"), "reference: the reference's TT init (the adapted model starts near, not at, the base); identity: the last up core and up bias zero, so it starts equal to the base model"),
        ConfigKey("adapter_model_modes", .string, .string(""), "TT modes of the hidden size, e.g. \"16,16,16\" (default: three near-equal factors of hidden_size)"),
        ConfigKey("adapter_bottleneck_modes", .string, .string(""), "TT modes of the bottleneck, e.g. \"4,4,4\" (default: three near-equal factors of adapter_bottleneck)"),
        // Evaluation, logging, checkpoints.
        ConfigKey("eval_every", .int, .int(0), min: 0, resumable: true, "validation every N steps and at the end (0 = only at the end when eval_batches > 0)"),
        ConfigKey("eval_batches", .int, .int(8), min: 0, resumable: true, "validation batches per evaluation"),
        ConfigKey("log_every", .int, .int(10), min: 1, resumable: true, "metrics line every N steps (and at the first and last step)"),
        ConfigKey("checkpoint_every", .int, .int(0), min: 0, resumable: true, "checkpoint every N steps (0 = only at the end and on interrupt)"),
        ConfigKey("keep_checkpoints", .int, .int(2), min: 1, resumable: true, "checkpoints kept (oldest removed first)"),
        // Reproducibility and speed.
        ConfigKey("seed", .int, .int(0), min: 0, "seed of initialisation, shuffling and every other random draw"),
        ConfigKey("threads", .int, .int(0), min: 0, resumable: true, "threads for OpenBLAS and the project's loops (0 = all cores; under mpirun, the cores of each rank)"),
        ConfigKey("mpi_timeout", .int, .int(600), min: 1, resumable: true, "under mpirun: seconds a rank waits for the others in a collective before the job ends with an error"),
    ]

    static let byName: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The key called `name`, if any.
    public static func key(_ name: String) -> ConfigKey? { byName[name] }

    /// The known key closest to `name` (edit distance ≤ 3 or a shared prefix), for "did you mean".
    public static func suggestion(for name: String) -> String? {
        let n = name.lowercased().replacingOccurrences(of: "-", with: "_")
        var best: (String, Int)?
        for k in all {
            let d = editDistance(n, k.name)
            let close = d <= max(2, min(3, k.name.count / 3)) || (n.count >= 3 && (k.name.hasPrefix(n) || n.hasPrefix(k.name)))
            if close, best == nil || d < best!.1 { best = (k.name, d) }
        }
        return best?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count), cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}
