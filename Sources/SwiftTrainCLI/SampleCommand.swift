// `swift-train sample`: continues a prompt with a checkpoint's model and its tokenizer, decoding
// with a key/value cache over a `--context` window; the text goes to stdout, the speed of the
// generation (and of the prompt's prefill, separately) to stderr.
import ArgumentParser
import Foundation
import Tensors
import TextData
import Training

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample", abstract: "Generate text from a checkpoint.")

    @Option(help: "A checkpoint folder, or a run folder (its newest checkpoint is used).")
    var checkpoint: String
    @Option(help: "Text to continue.")
    var prompt: String = ""
    @Option(help: "Tokens to generate.")
    var tokens: Int = 64
    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Double = 0.8
    @Option(help: "Sample among the k most likely tokens (0 = all).")
    var topK: Int = 40
    @Option(help: "Seed of the draws.")
    var seed: UInt64 = 0
    @Option(help: "Tokenizer model (default: the checkpoint's tokenizer.model).")
    var tokenizer: String?
    @Option(help: ArgumentHelp(
        "Context window in tokens, 1...max_position_embeddings (default: max_position_embeddings).",
        discussion: "Once the text fills the window, the key/value cache is rebuilt from the last half of it."))
    var context: Int?

    func run() throws {
        do {
            guard temperature.isFinite, Float(temperature).isFinite else {
                throw ConfigError("--temperature must be a finite number ≥ 0 (0 = greedy), got \(temperature)")
            }
            guard tokens >= 0, temperature >= 0, topK >= 0 else {
                throw ConfigError("--tokens, --temperature and --top-k must not be negative")
            }
            if tokens > 1_000_000 { throw ConfigError("--tokens \(tokens) is more than 1,000,000; generate at most that many per call") }
            if let n = context, n < 1 { throw ConfigError("--context must be at least 1, got \(n)") }
            let dir = try Checkpoint.resolve(URL(fileURLWithPath: checkpoint))
            let model = try Checkpoint.loadModel(dir)
            let maxPositions = model.config.maxPositionEmbeddings
            let window = context ?? maxPositions
            guard window <= maxPositions else {
                throw ConfigError("--context \(window) exceeds the model's max_position_embeddings (\(maxPositions))")
            }
            // The key/value cache holds keys and values of every layer for the whole window.
            let cacheBytes = 8 * Double(model.config.numHiddenLayers) * Double(window) * Double(model.config.hiddenSize)
            let memory = Double(ProcessInfo.processInfo.physicalMemory)
            if cacheBytes > memory / 2 {
                throw ConfigError(String(format: "a context window of %ld positions needs a %.1f GiB key/value cache, more than half of this machine's %.1f GiB; pass a smaller --context (default: max_position_embeddings)",
                                         window, cacheBytes / 1_073_741_824, memory / 1_073_741_824))
            }
            let tok = try Tokenizer(path: tokenizer ?? dir.appendingPathComponent("tokenizer.model").path)
            guard tok.vocabSize <= model.config.vocabSize else {
                throw ConfigError("the tokenizer has \(tok.vocabSize) pieces but the model's vocab_size is \(model.config.vocabSize); use the tokenizer the model was trained with")
            }
            var ids = try tok.encode(prompt)
            if ids.isEmpty { ids = [tok.bosID >= 0 ? tok.bosID : 0] }
            var sampler = Sampler(model: model, temperature: temperature, topK: topK, seed: seed)
            sampler.vocabularyLimit = tok.vocabSize  // never draw an id the tokenizer cannot decode
            let out = sampler.generate(prompt: ids, count: tokens, window: window)
            print(try tok.decode(out))
            let t = sampler.timing
            var line = String(format: "generated %ld tokens in %.2f s (%.1f tokens/s; prompt %ld tokens in %.2f s)",
                              t.generatedTokens, t.generationSeconds, t.tokensPerSecond,
                              t.promptTokens, t.prefillSeconds)
            if t.refills > 0 { line += "; context window \(window) rebuilt \(t.refills) times" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        } catch let e as ConfigError { throw CLIError(e.description) }
        catch let e as TextDataError { throw CLIError(e.description) }
    }
}
