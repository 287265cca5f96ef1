// TokenizerTrainer: trains a SentencePiece BPE or unigram model (Sennrich et al. 2016; Kudo
// 2018) through SentencePieceShim, from in-memory text or files, and turns SentencePiece's
// vocabulary-size failures into TextDataError cases that name the size to use instead.
import Foundation
import SentencePieceShim

/// Options for training a SentencePiece model. Defaults suit LLM pre-training on small
/// corpora: BPE, full character coverage, byte fallback (no unknown tokens), digits split,
/// identity normalisation with whitespace kept, so `decode(encode(line)) == line`.
public struct TokenizerTrainer: Sendable {
    public enum ModelType: String, CaseIterable, Codable, Sendable {
        case bpe, unigram
    }

    public enum Normalization: String, Codable, Sendable {
        /// Text is kept as is (lossless round trip).
        case identity
        /// SentencePiece's default: NFKC plus whitespace clean-up (lossy).
        case nmtNFKC = "nmt_nfkc"
    }

    /// Largest vocabulary whose ids fit the uint16 token shards.
    public static let maximumVocabSize = 65_535

    public var modelType: ModelType
    /// Number of pieces in the trained model (exactly; SentencePiece's hard limit is kept).
    public var vocabSize: Int
    /// Fraction of characters that get their own piece (1.0 = all; SentencePiece suggests
    /// 0.9995 for CJK-heavy text). Rarer characters fall back to bytes or unk.
    public var characterCoverage: Double
    /// Pieces kept whole and never split, such as "<|endoftext|>". Must not contain commas.
    public var userDefinedSymbols: [String]
    /// Encode characters outside the vocabulary as UTF-8 byte pieces <0x00>...<0xFF>
    /// (needs 256 vocabulary slots) instead of the unk id.
    public var byteFallback: Bool
    public var splitDigits: Bool
    public var normalization: Normalization
    /// Lines longer than this many bytes are skipped by the trainer (not by the encoder).
    public var maxSentenceLength: Int
    /// When set, train on a random sample of this many lines (faster on large corpora).
    public var maxTrainingSentences: Int?
    public var threads: Int
    /// SentencePiece stderr log threshold during training: 0 INFO ... 2 ERROR (quiet).
    public var logLevel: Int

    public init(modelType: ModelType = .bpe, vocabSize: Int = 4096) {
        self.modelType = modelType
        self.vocabSize = vocabSize
        characterCoverage = 1.0
        userDefinedSymbols = [Tokenizer.endOfTextPiece]
        byteFallback = true
        splitDigits = true
        normalization = .identity
        maxSentenceLength = 16_384
        maxTrainingSentences = nil
        threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
        logLevel = 2
    }

    /// The SentencePiece option names and values these settings map to.
    public var options: [(key: String, value: String)] {
        var options: [(key: String, value: String)] = [
            ("model_type", modelType.rawValue),
            ("vocab_size", String(vocabSize)),
            ("character_coverage", String(characterCoverage)),
            ("byte_fallback", String(byteFallback)),
            ("split_digits", String(splitDigits)),
            ("normalization_rule_name", normalization.rawValue),
            ("remove_extra_whitespaces", String(normalization != .identity)),
            ("max_sentence_length", String(maxSentenceLength)),
            ("num_threads", String(threads)),
        ]
        if !userDefinedSymbols.isEmpty {
            options.append(("user_defined_symbols", userDefinedSymbols.joined(separator: ",")))
        }
        if let maxTrainingSentences {
            options.append(("input_sentence_size", String(maxTrainingSentences)))
            options.append(("shuffle_input_sentence", "true"))
        }
        return options
    }

    /// Trains on the lines of UTF-8 buffers (read in order) and returns the `.model` bytes.
    public func trainModel(utf8Buffers: [UnsafeRawBufferPointer]) throws -> Data {
        try validate()
        Tokenizer.setSentencePieceLogLevel(logLevel)
        defer { Tokenizer.setSentencePieceLogLevel(2) }
        let options = self.options
        let keys = options.map { strdup($0.key) }
        let values = options.map { strdup($0.value) }
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let texts: [UnsafePointer<CChar>?] = utf8Buffers.map {
            $0.baseAddress.map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) }
        }
        let lengths = utf8Buffers.map { $0.count }
        var bytes: UnsafeMutableRawPointer?
        var length = 0
        let constKeys: [UnsafePointer<CChar>?] = keys.map { $0.map { UnsafePointer($0) } }
        let constValues: [UnsafePointer<CChar>?] = values.map { $0.map { UnsafePointer($0) } }
        try ShimCall.run({ err, cap in
            spm_train(constKeys, constValues, constKeys.count, texts, lengths, texts.count,
                      &bytes, &length, err, cap)
        }, onError: { _, message in mapTrainingError(message) })
        defer { spm_free_buffer(bytes) }
        guard let bytes else { throw TextDataError.training("SentencePiece returned no model") }
        return Data(bytes: bytes, count: length)
    }

    /// Trains on the lines of `text` and returns the `.model` bytes.
    public func trainModel(text: String) throws -> Data {
        var text = text
        return try text.withUTF8 { try trainModel(utf8Buffers: [UnsafeRawBufferPointer($0)]) }
    }

    /// Trains on the lines of `text`, writes the model atomically to `path` and loads it.
    public func train(text: String, savingTo path: String) throws -> Tokenizer {
        try save(trainModel(text: text), to: path)
    }

    /// Trains on the lines of the given text files, writes the model to `path` and loads it.
    public func train(files: [String], savingTo path: String) throws -> Tokenizer {
        let contents = try files.map { try MappedFile.readText(path: $0) }
        let model = try withExtendedLifetime(contents) {
            try trainModel(utf8Buffers: contents.map { $0.bytes })
        }
        return try save(model, to: path)
    }

    /// Trains with a command-line style flag string, exactly as `spm_train` takes it
    /// (e.g. "--input=a.txt --model_prefix=m --vocab_size=4096"); writes m.model and m.vocab.
    public static func train(flags: String, logLevel: Int = 2) throws {
        Tokenizer.setSentencePieceLogLevel(logLevel)
        defer { Tokenizer.setSentencePieceLogLevel(2) }
        try ShimCall.run({ err, cap in spm_train_flags(flags, err, cap) },
                         onError: { _, message in mapTrainingError(message) })
    }

    private func save(_ model: Data, to path: String) throws -> Tokenizer {
        try AtomicFile.write(model, to: path)
        return try Tokenizer(path: path)
    }

    private func validate() throws {
        guard vocabSize >= 1, vocabSize <= TokenizerTrainer.maximumVocabSize else {
            throw TextDataError.vocabSizeTooLarge(
                requested: vocabSize, maximum: TokenizerTrainer.maximumVocabSize,
                reason: "token shards store ids as uint16, so at most \(TokenizerTrainer.maximumVocabSize) pieces fit")
        }
        guard characterCoverage > 0, characterCoverage <= 1 else {
            throw TextDataError.invalidArgument("character coverage \(characterCoverage) must be in (0, 1]")
        }
        if let bad = userDefinedSymbols.first(where: { $0.isEmpty || $0.contains(",") }) {
            throw TextDataError.invalidArgument("user-defined symbol '\(bad)' must be non-empty and contain no comma")
        }
    }
}

/// Turns SentencePiece's training failures into errors naming the vocabulary size to use.
func mapTrainingError(_ message: String) -> TextDataError {
    // "Vocabulary size is smaller than required_chars. 64 vs 296. Increase vocab_size ..."
    if let numbers = integers(after: "Vocabulary size is smaller than required_chars.", in: message), numbers.count >= 2 {
        return .vocabSizeTooSmall(requested: numbers[0], minimum: numbers[1])
    }
    // "Vocabulary size too high (400). Please set it to a value <= 395."
    if let numbers = integers(after: "Vocabulary size too high", in: message), numbers.count >= 2 {
        return .vocabSizeTooLarge(requested: numbers[0], maximum: numbers[1],
                                  reason: "the training text yields at most \(numbers[1]) distinct pieces")
    }
    return .training(message)
}

/// The decimal integers that follow `marker` in `text` (nil when the marker is absent).
private func integers(after marker: String, in text: String) -> [Int]? {
    guard let range = text.range(of: marker) else { return nil }
    var numbers: [Int] = []
    var current: Int?
    for scalar in text[range.upperBound...].unicodeScalars {
        if let digit = Int(String(scalar)), scalar.properties.numericType == .decimal {
            current = (current ?? 0) * 10 + digit
        } else if let value = current {
            numbers.append(value)
            current = nil
            if numbers.count == 2 { break }
        }
    }
    if let current { numbers.append(current) }
    return numbers
}
