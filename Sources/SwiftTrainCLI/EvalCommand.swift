// `swift-train eval`: validation loss and perplexity of a checkpoint on a data folder's
// val.bin, over the same deterministic batches the trainer's evaluations use.
import ArgumentParser
import Foundation
import LlamaModel
import Tensors
import TextData
import Training

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Validation loss and perplexity of a checkpoint.")

    @Option(help: "A checkpoint folder, or a run folder (its newest checkpoint is used).")
    var checkpoint: String
    @Option(help: "Data folder with val.bin (default: the run's data).")
    var data: String?
    @Option(help: "Validation batches (default: the run's eval_batches).")
    var batches: Int?
    @Option(help: "Sequences per batch (default: the run's batch_size).")
    var batchSize: Int?
    @Option(help: "Tokens per sequence (default: the run's seq_len).")
    var seqLen: Int?
    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0

    func run() throws {
        do {
            try RunConfig.checkThreads(threads, place: "--threads")
            Parallel.setThreads(threads)
            let dir = try Checkpoint.resolve(URL(fileURLWithPath: checkpoint))
            let model = try Checkpoint.loadModel(dir)
            let run = (try? Checkpoint.readState(dir)).flatMap { try? RunConfig.resumed(saved: $0.runConfig, overrides: RunConfig()) }
            let folder = data ?? run?.data ?? ""
            guard !folder.isEmpty else { throw ConfigError("no data folder: pass --data DIR (a folder with val.bin)") }
            let b = batchSize ?? run?.batchSize ?? 8, t = seqLen ?? run?.seqLen ?? 128
            let n = batches ?? max(run?.int("eval_batches") ?? 8, 1)
            guard b > 0, t > 0, n > 0 else { throw ConfigError("--batch-size, --seq-len and --batches must be positive") }
            let (_, overflow) = b.multipliedReportingOverflow(by: t)
            let need = MemoryReport.estimatedPeakBytes(model.config, batch: b, seqLen: t)
            guard !overflow, need <= Double(ProcessInfo.processInfo.physicalMemory) else {
                throw ConfigError(String(format: "--batch-size %ld × --seq-len %ld needs about %.1f GiB, more than this machine's %.1f GiB; lower them",
                                         b, t, need / 1_073_741_824, Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824))
            }
            guard t <= model.config.maxPositionEmbeddings else {
                throw ConfigError("--seq-len \(t) exceeds the model's max_position_embeddings \(model.config.maxPositionEmbeddings)")
            }
            let shard = try TokenShard(path: URL(fileURLWithPath: folder).appendingPathComponent("val.bin").path)
            let val = try Batcher(shard: shard, batchSize: b, sequenceLength: t)
            var total = 0.0
            for k in 0..<n {
                let batch = val.batch(k)
                if batch.inputs.contains(where: { Int($0) >= model.config.vocabSize })
                    || batch.targets.contains(where: { Int($0) >= model.config.vocabSize }) {
                    throw ConfigError("\(shard.path) holds token ids ≥ the model's vocab_size \(model.config.vocabSize); it was made with another tokenizer")
                }
                total += try model.forwardLoss(tokens: batch.inputs, targets: batch.targets, batch: b, seqLen: t)
            }
            let loss = total / Double(n)
            print("checkpoint: \(dir.path)\(model.adapters.map { " (with \($0.parameters.count) adapter tensors, \($0.parameterCount) values)" } ?? "")")
            print(String(format: "val loss %.4f, val ppl %.2f (%ld batches of %ld×%ld tokens)", loss, Foundation.exp(loss), n, b, t))
        } catch let e as ConfigError { throw CLIError(e.description) }
        catch let e as TextDataError { throw CLIError(e.description) }
        catch let e as ForwardOnlyError { throw CLIError(e.description) }
    }
}
