// `swift-train sample`: continues a prompt with a checkpoint's model and its tokenizer.
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

    func run() throws {
        do {
            guard tokens >= 0, temperature >= 0, topK >= 0 else {
                throw ConfigError("--tokens, --temperature and --top-k must not be negative")
            }
            let dir = try Checkpoint.resolve(URL(fileURLWithPath: checkpoint))
            let model = try Checkpoint.loadModel(dir)
            let tok = try Tokenizer(path: tokenizer ?? dir.appendingPathComponent("tokenizer.model").path)
            guard tok.vocabSize <= model.config.vocabSize else {
                throw ConfigError("the tokenizer has \(tok.vocabSize) pieces but the model's vocab_size is \(model.config.vocabSize); use the tokenizer the model was trained with")
            }
            var ids = try tok.encode(prompt)
            if ids.isEmpty { ids = [tok.bosID >= 0 ? tok.bosID : 0] }
            var sampler = Sampler(model: model, temperature: temperature, topK: topK, seed: seed)
            let window = min(model.config.maxPositionEmbeddings, 256)
            let out = sampler.generate(prompt: ids, count: tokens, window: window)
            print(try tok.decode(out))
        } catch let e as ConfigError { throw CLIError(e.description) }
        catch let e as TextDataError { throw CLIError(e.description) }
    }
}
