// `swift-train memory`: builds a run config's model and each optimizer's plan without
// training and prints what a run would hold — parameters, gradients, optimizer state (the
// run's own state count), activations for B×T (measured) and the total — per optimizer.
import ArgumentParser
import Foundation
import Training

struct MemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Memory of a run per optimizer: parameters, gradients, optimizer state, activations.",
        discussion: """
        Each --optimizer is a name, optionally with settings: --optimizer galore,rank=128,update_proj_gap=200.
        Settings of the config file that the optimizer does not read are left out, as in `train`.
        Optimizer state is what the plan holds (`opt_state_bytes` of a run); activations are the
        measured peak of live tensors over one forward and backward pass at B×T beyond weights
        and gradients (measured on 2- and 3-layer copies, extended to the layer count).
        """)

    @Option(help: "Run config (JSON) with the model and, optionally, the optimizer and its settings.")
    var config: String
    @Option(name: .customLong("optimizer"), help: "Optimizer, with optional ,key=value settings; repeat to compare. Default: the config's.")
    var optimizers: [String] = []
    @Option(help: "Sequences per micro-batch B for the activations (default: the config's batch_size).")
    var batchSize: Int?
    @Option(help: "Tokens per sequence T for the activations (default: the config's seq_len).")
    var seqLen: Int?
    @Flag(help: "Skip measuring activations (reported as 0).")
    var noActivations = false
    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func run() throws {
        do {
            let base = try RunConfig.load(URL(fileURLWithPath: config))
            let mc = try base.modelConfig()
            let b = batchSize ?? base.batchSize, t = seqLen ?? base.seqLen
            guard b > 0, t > 0 else { throw CLIError("--batch-size and --seq-len must be positive") }
            guard t <= mc.maxPositionEmbeddings else {
                throw CLIError("--seq-len \(t) is longer than the model's max_position_embeddings \(mc.maxPositionEmbeddings)")
            }
            let activations = noActivations ? 0 : MemoryReport.activationBytes(mc, batch: b, seqLen: t)
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
                    try c.set(String(kv[..<eq]).replacingOccurrences(of: "-", with: "_"), text: String(kv[kv.index(after: eq)...]))
                }
                rows.append((spec, try MemoryReport.figures(c, batch: b, seqLen: t, activations: activations)))
            }
            if json { printJSON(rows, batch: b, seqLen: t, parameters: mc.parameterCount) } else { printTable(rows, batch: b, seqLen: t, parameters: mc.parameterCount) }
        } catch let e as ConfigError {
            throw CLIError(e.description)
        }
    }

    static func mib(_ bytes: Int) -> String { String(format: "%.2f", Double(bytes) / 1_048_576) }

    func printTable(_ rows: [(label: String, figures: MemoryFigures)], batch: Int, seqLen: Int, parameters: Int) {
        print("model \(parameters) parameters; activations for B \(batch) × T \(seqLen); MiB (bytes / 2^20), float32")
        let header = ["optimizer", "parameters", "gradients", "optimizer state", "activations", "total"]
        var lines = [header]
        for (label, f) in rows {
            lines.append([label, Self.mib(f.parameterBytes), Self.mib(f.gradientBytes), Self.mib(f.optimizerStateBytes),
                          Self.mib(f.activationBytes), Self.mib(f.totalBytes)])
        }
        let widths = (0..<header.count).map { c in lines.map { $0[c].count }.max()! }
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
                "\"optimizer_state_bytes\": \(f.optimizerStateBytes), \"activation_bytes\": \(f.activationBytes), \"total_bytes\": \(f.totalBytes)}"
        }
        print("{\"parameters\": \(parameters), \"batch_size\": \(batch), \"seq_len\": \(seqLen), \"rows\": [\(items.joined(separator: ", "))]}")
    }
}
