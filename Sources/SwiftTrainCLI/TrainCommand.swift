// `swift-train train`: trains a LLaMA from a JSON run config and/or flags, logging to
// OUT/metrics.jsonl and checkpointing to OUT/checkpoints; `--resume DIR` continues a run.
// Flags are the run-config keys in kebab-case, parsed against the one ConfigKeys table.
import ArgumentParser
import Distributed
import Foundation
import Optimizers
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a LLaMA model from a run config and flags.",
        discussion: TrainCommand.settingsHelp)

    @Argument(parsing: .captureForPassthrough, help: "--config FILE, --resume DIR, and --<setting> VALUE flags (listed below)")
    var arguments: [String] = []

    static var settingsHelp: String {
        var lines = ["Every setting is a key of the JSON run config (snake_case) and a flag (kebab-case); flags override the file.",
                     "  --config FILE          JSON run config (optional: flags alone can describe a run)",
                     "  --resume DIR           continue the newest checkpoint in DIR (a run folder or a checkpoint)", ""]
        for k in ConfigKeys.all {
            let def = k.defaultValue.map { " [default: \($0.described)]" } ?? ""
            let flag = k.flag + (k.kind == .bool ? " [true|false]" : " VALUE")
            lines.append("  " + flag.padding(toLength: 30, withPad: " ", startingAt: 0) + " " + k.help + def)
        }
        lines.append("")
        lines.append("Optimizers:")
        for d in OptimizerCatalog.all {
            lines.append("  \(d.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(d.summary)")
            lines.append("  " + String(repeating: " ", count: 13) + "state per m×n matrix: \(d.statePerMatrix); reads: "
                         + d.options.map { "\($0.flag) [\($0.defaultValue.described)]" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    func run() throws {
        if arguments.contains("--help") || arguments.contains("-h") {  // the passthrough captures them
            print(TrainCommand.helpMessage())
            return
        }
        // Under mpirun every rank runs this command; MPI is loaded and started only then.
        let communicator: Communicator
        if Communicator.startedByMPIRun {
            do { communicator = try Communicator(initializingMPI: ()) } catch {
                throw CLIError("\(error)")
            }
        } else {
            communicator = .single
        }
        do {
            let (config, resume) = try TrainCommand.parse(arguments)
            let trainer = try Trainer(config: config, resume: resume, communicator: communicator)
            if communicator.rank == 0 {
                trainer.printHeader()
                if let hint = OpenBLASEnvironment.hint { print(hint) }
            }
            let summary = try trainer.run()
            if communicator.rank == 0 { print(TrainCommand.describe(summary)) }
            // 130 for SIGINT, 143 for SIGTERM. An interrupted rank skips MPI_Finalize: when the
            // signal came through mpirun, its daemons are shutting down and would never answer.
            if summary.interrupted { throw ExitCode(128 + (Interrupt.signal ?? SIGTERM)) }
            communicator.finalize()
        } catch let e as ExitCode {
            throw e
        } catch {
            let message = (error as? ConfigError)?.description ?? (error as? MPIError)?.description ?? "\(error)"
            guard communicator.isDistributed else { throw CLIError(message) }
            // One rank's error ends every rank (MPI_Abort), named so the user knows where.
            FileHandle.standardError.write(Data("error: \(message.hasPrefix("rank ") ? "" : communicator.label + ": ")\(message)\n".utf8))
            communicator.abort(code: 1)
        }
    }

    /// Parses `--config`, `--resume` and setting flags (`--key value` or `--key=value`).
    static func parse(_ args: [String]) throws -> (RunConfig, URL?) {
        var pairs: [(String, String?)] = []
        var i = 0
        while i < args.count {
            let arg = args[i]
            guard arg.hasPrefix("--"), arg.count > 2 else {
                throw ConfigError("unexpected argument \"\(arg)\"; settings are given as --name VALUE (see `swift-train train --help`)")
            }
            var name = String(arg.dropFirst(2)), value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            } else if i + 1 < args.count, !(args[i + 1].hasPrefix("--") && args[i + 1].count > 2 && Double(args[i + 1]) == nil) {
                value = args[i + 1]
                i += 1
            }
            pairs.append((name, value))
            i += 1
        }
        var config = RunConfig()
        var resume: URL?
        let configs = pairs.filter { $0.0 == "config" }
        if configs.count > 1 {
            throw ConfigError("--config is given \(configs.count) times (\(configs.map { $0.1 ?? "" }.joined(separator: ", "))); give one config file and override its settings with flags")
        }
        if let c = configs.first {
            guard let path = c.1 else { throw ConfigError("--config needs a file path") }
            config = try RunConfig.load(URL(fileURLWithPath: path))
        }
        for (name, value) in pairs where name != "config" {
            if name == "resume" {
                guard let v = value else { throw ConfigError("--resume needs a run folder or checkpoint folder") }
                resume = URL(fileURLWithPath: v)
                continue
            }
            let key = name.replacingOccurrences(of: "-", with: "_")
            if let k = ConfigKeys.key(key), k.kind == .bool, value == nil {
                try config.set(key, text: "true")
                continue
            }
            guard let v = value else {
                if ConfigKeys.key(key) == nil { try config.set(key, text: "") }  // reports the unknown flag
                throw ConfigError("--\(name) needs a value")
            }
            try config.set(key, text: v)
        }
        return (config, resume)
    }

    static func describe(_ s: Trainer.Summary) -> String {
        var lines = ["done: \(s.steps) steps" + (s.interrupted ? " (interrupted)" : "")]
        lines.append(String(format: "  final train loss  %.4f", s.finalLoss))
        if let v = s.finalValLoss { lines.append(String(format: "  final val loss    %.4f (ppl %.2f)", v, Foundation.exp(v))) }
        lines.append(String(format: "  tokens/s          %.0f", s.tokensPerSecond))
        lines.append("  optimizer state   \(s.optimizerStateBytes) bytes (\(String(format: "%.2f", Double(s.optimizerStateBytes) / 1_048_576)) MiB)")
        lines.append("  peak RSS          \(s.peakRSSBytes) bytes (\(String(format: "%.1f", Double(s.peakRSSBytes) / 1_048_576)) MiB)")
        if s.memory.accountedBytes > 0 {
            var m = s.memory
            m.peakResidentBytes = s.peakRSSBytes
            lines.append(m.table)
        }
        if let c = s.checkpoint { lines.append("  checkpoint        \(c.path)") }
        return lines.joined(separator: "\n")
    }
}

/// A user-facing error: printed as "error: message" with exit code 1, never a trap.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
