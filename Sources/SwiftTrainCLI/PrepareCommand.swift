// `swift-train prepare`: text files → SentencePiece tokenizer + llm.c token shards
// (OUT/tokenizer.model, OUT/train.bin, OUT/val.bin) via TextData.Prepare; prints document,
// character and token counts and the encoding throughput.
import ArgumentParser
import Foundation
import TextData

struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Tokenize text files into train/val token shards (and train a tokenizer).",
        discussion: """
            Each input file holds one or more documents separated by blank lines; documents are joined \
            with the end-of-text piece between them. The last --val-fraction of the text (cut at a line \
            boundary) becomes val.bin. Without --tokenizer a SentencePiece model is trained on the train \
            part and saved as OUT/tokenizer.model; with it, that model is copied there.
            """)

    @Option(name: .long, parsing: .upToNextOption, help: "UTF-8 text file(s) to tokenize.")
    var input: [String] = []

    @Option(name: .long, help: "Output folder for tokenizer.model, train.bin and val.bin.")
    var out: String

    @Option(name: .long, help: "Vocabulary size of the tokenizer to train (at most 65535).")
    var vocabSize: Int = 4096

    @Option(name: .long, help: "Use this SentencePiece .model instead of training one.")
    var tokenizer: String?

    @Option(name: .long, help: "Tokenizer model type to train: bpe or unigram.")
    var modelType: String = "bpe"

    @Option(name: .long, help: "Fraction of the text (its end) kept for validation.")
    var valFraction: Double = 0.05

    func run() throws {
        do {
            guard let type = TokenizerTrainer.ModelType(rawValue: modelType.lowercased()) else {
                throw TextDataError.invalidArgument("--model-type '\(modelType)' is not supported; use bpe or unigram")
            }
            var options = PrepareOptions(inputs: input, outputDirectory: out)
            options.vocabSize = vocabSize
            options.tokenizerPath = tokenizer
            options.modelType = type
            options.valFraction = valFraction
            let stats = try Prepare.run(options) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            print(PrepareCommand.describe(stats))
        } catch let error as TextDataError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }

    static func describe(_ s: PrepareStatistics) -> String {
        func count(_ n: Int) -> String {
            let digits = String(n)
            var out = ""
            for (i, c) in digits.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { out.append(",") }
                out.append(c)
            }
            return String(out.reversed())
        }
        var lines = [
            "prepared \(s.inputFiles) file(s):",
            "  documents         \(count(s.documents)) (train \(count(s.trainDocuments)), val \(count(s.valDocuments)))",
            "  characters        \(count(s.characters)) (train \(count(s.trainCharacters)), val \(count(s.valCharacters))); \(count(s.bytes)) bytes",
            "  tokens            train \(count(s.trainTokens)), val \(count(s.valTokens))"
                + String(format: " (%.2f characters/token)", Double(s.characters) / Double(max(1, s.trainTokens + s.valTokens))),
            "  vocabulary        \(s.vocabSize) pieces",
        ]
        if s.tokenizerTrained {
            lines.append(String(format: "  tokenizer         trained in %.2f s", s.tokenizerSeconds))
        }
        lines.append(String(format: "  encoding          %.3f s, %.1f MB/s", s.encodeSeconds, s.encodeMBPerSecond))
        lines.append("  wrote             \(s.tokenizerPath), \(s.trainPath), \(s.valPath)")
        return lines.joined(separator: "\n")
    }
}
