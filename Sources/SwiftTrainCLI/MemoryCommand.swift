// `swift-train memory`: builds a run config's model and each optimizer's plan without
// training and predicts what a run would hold at its peak — parameters, gradients, optimizer
// state (the run's own state count), activations, optimizer work and the pool's free bytes
// (measured on a real step of 2- and 3-layer copies), the program and data — the same parts
// as a run's memory account, and their sum, the predicted peak RSS.
import ArgumentParser
import Foundation
import Tensors
import Training

struct MemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Predicted memory of a run per optimizer: the parts of its memory account and the peak RSS.",
        discussion: """
        Each --optimizer is a name, optionally with settings: --optimizer galore,rank=128,update_proj_gap=200
        (any run setting works there, e.g. adamw,state_bits=8,per_layer_update=true).
        Settings of the config file that the optimizer does not read are left out, as in `train`.
        Optimizer state is what the plan holds (`opt_state_bytes` of a run). Gradients,
        activations, optimizer work and pool free are the buffer pool at the peak of a real
        training step (the config's optimizer and memory levers) on 2- and 3-layer copies of the
        model, extended to its layer count. "other" is this process's program, libraries and
        OpenBLAS buffers plus the data folder's files. The total is the predicted peak RSS.
        """)

    @Option(help: "Run config (JSON) with the model and, optionally, the optimizer and its settings.")
    var config: String
    @Option(name: .customLong("optimizer"), help: "Optimizer, with optional ,key=value settings; repeat to compare. Default: the config's.")
    var optimizers: [String] = []
    @Option(help: "Sequences per micro-batch B (default: the config's batch_size).")
    var batchSize: Int?
    @Option(help: "Tokens per sequence T (default: the config's seq_len).")
    var seqLen: Int?
    @Flag(help: "Every row with per_layer_update (and grad_clip 0).")
    var perLayerUpdate = false
    @Flag(help: "Every row with activation_checkpointing.")
    var activationCheckpointing = false
    @Option(help: "Threads for the measured steps (0 = all cores).")
    var threads: Int = 0
    @Flag(help: "Skip the measured step: only parameters, gradients and optimizer state.")
    var noActivations = false
    @Flag(help: "Print one JSON object instead of the table.")
    var json = false
    @Option(help: "Figures of one rank of an `mpirun -np N` run: the optimizer state of the largest rank's ZeRO-1 share and activations of a rank's part of the batch.")
    var ranks: Int = 1

    func run() throws {
        do {
            try RunConfig.checkThreads(threads, place: "--threads")
            Parallel.setThreads(threads)
            var base = try RunConfig.load(URL(fileURLWithPath: config))
            let mc = try base.modelConfig()
            let b = batchSize ?? base.batchSize, t = seqLen ?? base.seqLen
            guard b > 0, t > 0 else { throw CLIError("--batch-size and --seq-len must be positive") }
            guard (1...4096).contains(ranks) else { throw CLIError("--ranks must be between 1 and 4096, got \(ranks)") }
            guard t <= mc.maxPositionEmbeddings else {
                throw CLIError("--seq-len \(t) is longer than the model's max_position_embeddings \(mc.maxPositionEmbeddings)")
            }
            if perLayerUpdate {
                try base.set("per_layer_update", text: "true")
                try base.set("grad_clip", text: "0")
            }
            if activationCheckpointing { try base.set("activation_checkpointing", text: "true") }
            var rows: [(label: String, figures: MemoryFigures)] = []
            for spec in optimizers.isEmpty ? [base.string("optimizer")] : optimizers {
                var c = base
                let parts = spec.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let name = parts.first, !name.isEmpty else { throw CLIError("--optimizer needs a name, got \"\(spec)\"") }
                try c.set("optimizer", text: name)
                for kv in parts.dropFirst() {
                    guard let eq = kv.firstIndex(of: "=") else {
                        throw CLIError("--optimizer \(spec): settings are key=value, got \"\(kv)\"")
                    }
                    let key = String(kv[..<eq]).replacingOccurrences(of: "-", with: "_")
                    if ["batch_size", "seq_len"].contains(key) {
                        throw CLIError("--optimizer \(spec): \(key) is the same for every row; give it with --\(key.replacingOccurrences(of: "_", with: "-"))")
                    }
                    try c.set(key, text: String(kv[kv.index(after: eq)...]))
                }
                // per_layer_update runs without clipping unless this row sets grad_clip itself.
                if c.bool("per_layer_update") && !parts.contains(where: { $0.hasPrefix("grad_clip=") || $0.hasPrefix("grad-clip=") }) {
                    try c.set("grad_clip", text: "0")
                }
                rows.append((spec, try MemoryReport.figures(c, batch: b, seqLen: t, measureStep: !noActivations, ranks: ranks)))
            }
            if json { printJSON(rows, batch: b, seqLen: t, parameters: mc.parameterCount) } else { printTable(rows, batch: b, seqLen: t, parameters: mc.parameterCount) }
        } catch let e as ConfigError {
            throw CLIError(e.description)
        }
    }

    static func mib(_ bytes: Int) -> String { String(format: "%.2f", Double(bytes) / 1_048_576) }

    func printTable(_ rows: [(label: String, figures: MemoryFigures)], batch: Int, seqLen: Int, parameters: Int) {
        print("model \(parameters) parameters; B \(batch) × T \(seqLen); MiB (bytes / 2^20); total = predicted peak RSS"
              + (ranks > 1 ? " of one rank of \(ranks) (optimizer state: the largest rank's share)" : ""))
        let header = ["optimizer", "parameters", "gradients", "optimizer state", "activations", "optimizer work", "pool free", "other", "total"]
        var lines = [header]
        for (label, f) in rows {
            lines.append([label, Self.mib(f.parameterBytes), Self.mib(f.gradientBytes), Self.mib(f.optimizerStateBytes),
                          Self.mib(f.activationBytes), Self.mib(f.optimizerWorkBytes), Self.mib(f.poolFreeBytes),
                          Self.mib(f.runtimeBytes + f.dataBytes + f.communicationBytes), Self.mib(f.totalBytes)])
        }
        let widths = (0..<header.count).map { c in lines.map { $0[c].count }.max()! }
        defer {
            for (label, f) in rows where !f.stateBytesPerRank.isEmpty {
                print("\(label): optimizer state per rank \(f.stateBytesPerRank.map { Self.mib($0) }.joined(separator: " / ")) MiB (\(Self.mib(f.stateBytesPerRank.reduce(0, +))) in all); other includes the all-reduce buffer (\(Self.mib(f.communicationBytes)) MiB), not Open MPI's own memory (a run's summary.json gives it: mpi_runtime_bytes)")
            }
        }
        for l in lines {
            print(l.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  "))
        }
    }

    func printJSON(_ rows: [(label: String, figures: MemoryFigures)], batch: Int, seqLen: Int, parameters: Int) {
        let items = rows.map { label, f in
            "{\"optimizer\": \"\(label)\", \"parameter_bytes\": \(f.parameterBytes), \"gradient_bytes\": \(f.gradientBytes), " +
                "\"optimizer_state_bytes\": \(f.optimizerStateBytes), \"activation_bytes\": \(f.activationBytes), " +
                "\"optimizer_work_bytes\": \(f.optimizerWorkBytes), \"pool_free_bytes\": \(f.poolFreeBytes), " +
                "\"runtime_bytes\": \(f.runtimeBytes), \"data_bytes\": \(f.dataBytes), \"total_bytes\": \(f.totalBytes)" +
                (f.stateBytesPerRank.isEmpty ? "" : ", \"optimizer_state_bytes_per_rank\": [\(f.stateBytesPerRank.map(String.init).joined(separator: ", "))], \"communication_bytes\": \(f.communicationBytes)") + "}"
        }
        print("{\"parameters\": \(parameters), \"batch_size\": \(batch), \"seq_len\": \(seqLen), \"ranks\": \(ranks), \"rows\": [\(items.joined(separator: ", "))]}")
    }
}
