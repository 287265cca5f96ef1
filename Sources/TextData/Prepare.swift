// Prepare: the text → tokens pipeline behind `swift-train prepare`. It splits the text into
// train and validation parts (the last fraction of the characters, cut at a line boundary),
// trains or loads a SentencePiece tokenizer, encodes in parallel and writes llm.c shards.
import Foundation
import Dispatch

/// What `Prepare.run` does.
///
/// Documents: every input file is one or more documents; inside a file, one or more blank
/// lines (empty or whitespace-only) end a document. Documents are joined with the
/// end-of-text id ("<|endoftext|>", else eos) between them, never before the first or after
/// the last. Lines inside a document are encoded one SentencePiece sentence each (as
/// `spm_encode` does) and joined with the "<0x0A>" byte piece when the model has it
/// (`keepLineBreaks`), so decoding restores the line breaks.
public struct PrepareOptions: Sendable {
    public var inputs: [String]
    public var outputDirectory: String
    /// Vocabulary of the tokenizer to train (ignored with `tokenizerPath`).
    public var vocabSize: Int = 4096
    /// An existing `.model` to use instead of training one; it is copied to the output.
    public var tokenizerPath: String?
    public var modelType: TokenizerTrainer.ModelType = .bpe
    /// The last `valFraction` of the characters (0 < f < 1) becomes val.bin.
    public var valFraction: Double = 0.05
    public var keepLineBreaks = true
    /// Encode tasks per core (several, so uneven chunks still keep every core busy).
    public var chunksPerCore = 8
    /// Show encoding progress on stderr for inputs of at least this many bytes.
    public var progressMinimumBytes = 1 << 20
    public var showProgress = true

    public init(inputs: [String], outputDirectory: String) {
        self.inputs = inputs
        self.outputDirectory = outputDirectory
    }
}

/// Figures from one `Prepare.run`.
public struct PrepareStatistics: Codable, Equatable, Sendable {
    public var inputFiles = 0
    /// Documents in the whole input (a document cut by the validation split counts once).
    public var documents = 0
    public var trainDocuments = 0
    public var valDocuments = 0
    /// Unicode code points.
    public var characters = 0
    public var trainCharacters = 0
    public var valCharacters = 0
    /// UTF-8 bytes.
    public var bytes = 0
    public var trainTokens = 0
    public var valTokens = 0
    public var vocabSize = 0
    public var tokenizerTrained = false
    public var tokenizerSeconds = 0.0
    public var encodeSeconds = 0.0
    /// Input megabytes (10^6 bytes) encoded per second of wall time.
    public var encodeMBPerSecond = 0.0
    public var tokenizerPath = ""
    public var trainPath = ""
    public var valPath = ""
}

/// The pipeline. Encoding runs as DispatchQueue.concurrentPerform over line-aligned chunks
/// (about `chunksPerCore` per core) that all share one Tokenizer: SentencePiece's Encode is
/// const and was checked to give identical ids under concurrent use (TokenizerTests), which
/// saves loading one processor per chunk. The result does not depend on the chunking.
public enum Prepare {
    /// Runs the pipeline. `log` receives a few human-readable stage lines. Writes
    /// DIR/tokenizer.model, DIR/train.bin and DIR/val.bin, all three or none.
    public static func run(_ options: PrepareOptions, log: ((String) -> Void)? = nil) throws -> PrepareStatistics {
        try validate(options)
        var stats = PrepareStatistics()
        let files = try options.inputs.map { try MappedFile.readText(path: $0) }
        // The mappings must outlive every use of `buffers` below.
        defer { withExtendedLifetime(files) {} }
        for file in files { try checkTextInput(file) }
        let createdDirectory = try prepareOutputDirectory(options.outputDirectory)
        var committed = false
        defer { if !committed && createdDirectory { try? FileManager.default.removeItem(atPath: options.outputDirectory) } }

        let buffers = files.map(\.bytes)
        let codePoints = buffers.map { codePointCount($0, in: 0 ..< $0.count) }
        guard let split = validationSplit(files: buffers, codePoints: codePoints, fraction: options.valFraction) else {
            throw TextDataError.input(path: options.inputs[0], problem: "the text has a single line, so no validation part "
                + "can be split off at a line boundary; add more lines")
        }
        stats.inputFiles = files.count
        stats.bytes = buffers.reduce(0) { $0 + $1.count }
        stats.characters = codePoints.reduce(0, +)
        stats.documents = buffers.reduce(0) { $0 + documentCount($1, in: 0 ..< $1.count) }
        let trainSlices = slices(buffers, split: split, side: .train)
        let valSlices = slices(buffers, split: split, side: .validation)
        stats.trainCharacters = trainSlices.reduce(0) { $0 + codePointCount(buffers[$1.file], in: $1.range) }
        stats.valCharacters = stats.characters - stats.trainCharacters

        // Tokenizer: load the given one, or train on the train part only.
        let modelPath = options.outputDirectory + "/tokenizer.model"
        let modelBytes: Data
        let tokenizer: Tokenizer
        if let path = options.tokenizerPath {
            tokenizer = try Tokenizer(path: path)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TextDataError.tokenizerLoad(path: path, reason: "cannot read the file")
            }
            modelBytes = data
            guard tokenizer.vocabSize <= TokenShard.maximumToken else {
                throw TextDataError.vocabSizeTooLarge(requested: tokenizer.vocabSize, maximum: TokenShard.maximumToken,
                                                      reason: "tokenizer '\(path)' has more ids than uint16 shards hold")
            }
        } else {
            log?("training a \(options.modelType.rawValue) tokenizer with \(options.vocabSize) pieces on "
                + "\(stats.trainCharacters) characters ...")
            let trainer = TokenizerTrainer(modelType: options.modelType, vocabSize: options.vocabSize)
            let started = Date()
            modelBytes = try trainer.trainModel(utf8Buffers: trainSlices.map {
                UnsafeRawBufferPointer(rebasing: buffers[$0.file][$0.range])
            })
            stats.tokenizerSeconds = Date().timeIntervalSince(started)
            stats.tokenizerTrained = true
            tokenizer = try Tokenizer(modelBytes: modelBytes, name: modelPath)
        }
        stats.vocabSize = tokenizer.vocabSize
        let lineSeparator = options.keepLineBreaks ? tokenizer.newlineID : nil
        let endOfText = tokenizer.endOfTextID

        // Encode every line-aligned unit of both parts in parallel on the shared tokenizer.
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let chunkBytes = min(max(stats.bytes / (threads * max(1, options.chunksPerCore)), 16 << 10), 8 << 20)
        var units: [EncodeUnit] = []
        for slice in trainSlices {
            units += makeUnits(side: .train, file: slice.file, bytes: buffers[slice.file], range: slice.range, chunkBytes: chunkBytes)
        }
        for slice in valSlices {
            units += makeUnits(side: .validation, file: slice.file, bytes: buffers[slice.file], range: slice.range, chunkBytes: chunkBytes)
        }
        log?("encoding \(stats.bytes) bytes in \(units.count) chunks on \(threads) cores ...")
        let progress = options.showProgress && stats.bytes >= options.progressMinimumBytes
            ? ProgressLine(label: "encoding", total: stats.bytes) : nil
        let started = Date()
        let results = try encodeInParallel(units, buffers: buffers, tokenizer: tokenizer, lineSeparator: lineSeparator,
                                           progress: progress)
        progress?.finish()
        let eot = endOfText.map { UInt16(truncatingIfNeeded: $0) }
        let newline = lineSeparator.map { UInt16(truncatingIfNeeded: $0) }
        let train = joinUnits(zip(units, results).filter { $0.0.side == .train }.map(\.1), endOfText: eot, lineSeparator: newline)
        let val = joinUnits(zip(units, results).filter { $0.0.side == .validation }.map(\.1), endOfText: eot, lineSeparator: newline)
        stats.encodeSeconds = Date().timeIntervalSince(started)
        stats.encodeMBPerSecond = Double(stats.bytes) / 1e6 / max(stats.encodeSeconds, 1e-9)
        if endOfText == nil && (train.documents > 1 || val.documents > 1) {
            throw TextDataError.tokenizerLoad(path: options.tokenizerPath ?? modelPath, reason: "the model has neither an "
                + "\"\(Tokenizer.endOfTextPiece)\" piece nor an eos id to separate documents; train one with `prepare` instead")
        }
        stats.trainDocuments = train.documents
        stats.valDocuments = val.documents
        stats.trainTokens = train.tokens.count
        stats.valTokens = val.tokens.count
        guard stats.trainTokens > 0 else {
            throw TextDataError.input(path: options.inputs[0], problem: "the train part has no tokens; use a smaller --val-fraction")
        }
        guard stats.valTokens > 0 else {
            throw TextDataError.input(path: options.inputs[options.inputs.count - 1], problem: "the validation part (the last "
                + "\(options.valFraction) of the text) has no tokens; use a larger --val-fraction or more text")
        }

        // Write all three files to temporary names, then rename them into place together.
        stats.tokenizerPath = modelPath
        stats.trainPath = options.outputDirectory + "/train.bin"
        stats.valPath = options.outputDirectory + "/val.bin"
        let pending = [
            try AtomicFile.prepare(modelBytes, for: modelPath),
            try TokenShard.prepareWrite(train.tokens, to: stats.trainPath),
            try TokenShard.prepareWrite(val.tokens, to: stats.valPath),
        ]
        for file in pending { try file.commit() }
        committed = true
        // Read the shards back through the validating reader.
        let trainShard = try TokenShard(path: stats.trainPath)
        let valShard = try TokenShard(path: stats.valPath)
        guard trainShard.count == stats.trainTokens, valShard.count == stats.valTokens else {
            throw TextDataError.shard(path: stats.trainPath, problem: "read back a different token count than was written")
        }
        return stats
    }

    private static func validate(_ options: PrepareOptions) throws {
        guard !options.inputs.isEmpty else {
            throw TextDataError.invalidArgument("no input files; pass --input FILE [FILE ...]")
        }
        guard options.valFraction > 0, options.valFraction < 1 else {
            throw TextDataError.invalidArgument("--val-fraction \(options.valFraction) must be between 0 and 1 (exclusive), e.g. 0.05")
        }
        if options.tokenizerPath == nil {
            guard options.vocabSize <= TokenizerTrainer.maximumVocabSize else {
                throw TextDataError.vocabSizeTooLarge(requested: options.vocabSize, maximum: TokenizerTrainer.maximumVocabSize,
                                                      reason: "token shards store ids as uint16")
            }
            guard options.vocabSize >= 3 else {
                throw TextDataError.invalidArgument("--vocab-size \(options.vocabSize) must be at least 3: the unknown, begin and end pieces take three ids (default 4096)")
            }
        }
    }

    /// Rejects empty, whitespace-only and binary (NUL-containing) inputs.
    private static func checkTextInput(_ file: MappedFile) throws {
        let bytes = file.bytes
        guard bytes.count > 0 else {
            throw TextDataError.input(path: file.path, problem: "the file is empty; pass a UTF-8 text file with content")
        }
        let head = UnsafeRawBufferPointer(rebasing: bytes[0 ..< min(bytes.count, 1 << 20)])
        if let base = head.baseAddress, memchr(base, 0, head.count) != nil {
            throw TextDataError.input(path: file.path, problem: "looks like a binary file (it contains NUL bytes); "
                + "pass UTF-8 text (token shards such as train.bin are outputs, not inputs)")
        }
        if documentCount(bytes, in: 0 ..< bytes.count) == 0 {
            throw TextDataError.input(path: file.path, problem: "the file holds only blank lines; pass a text file with content")
        }
    }

    /// Creates the output folder if needed and checks it is writable; true if created here.
    private static func prepareOutputDirectory(_ path: String) throws -> Bool {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && !isDirectory.boolValue {
            throw TextDataError.output(path: path, problem: "exists and is not a folder; choose another --out")
        }
        if !exists {
            // mkdir -p, keeping errno for the message (Foundation reports only "error 512").
            var prefix = path.hasPrefix("/") ? "" : "."
            for component in path.split(separator: "/") {
                prefix += "/" + component
                if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                    throw TextDataError.output(path: path, problem: "cannot create the folder '\(prefix)': "
                        + "\(String(cString: strerror(errno))); choose an --out folder you can write")
                }
            }
            var created: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &created), created.boolValue else {
                throw TextDataError.output(path: path, problem: "cannot create the folder (a part of the path is a file); "
                    + "choose another --out")
            }
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw TextDataError.output(path: path, problem: "the folder is not writable; choose an --out folder you can write")
        }
        return !exists
    }

    /// Byte ranges of each file on one side of the split.
    private static func slices(_ buffers: [UnsafeRawBufferPointer], split: TextPosition,
                               side: EncodeUnit.Side) -> [(file: Int, range: Range<Int>)] {
        var result: [(file: Int, range: Range<Int>)] = []
        for (index, bytes) in buffers.enumerated() {
            let range: Range<Int>
            switch side {
            case .train: range = index < split.file ? 0 ..< bytes.count : (index == split.file ? 0 ..< split.offset : 0 ..< 0)
            case .validation: range = index > split.file ? 0 ..< bytes.count : (index == split.file ? split.offset ..< bytes.count : 0 ..< 0)
            }
            if !range.isEmpty { result.append((index, range)) }
        }
        return result
    }

    /// Encodes the units with DispatchQueue.concurrentPerform, sharing one tokenizer.
    private static func encodeInParallel(_ units: [EncodeUnit], buffers: [UnsafeRawBufferPointer], tokenizer: Tokenizer,
                                         lineSeparator: Int32?, progress: ProgressLine?) throws -> [EncodedUnit] {
        let results = UnsafeMutableBufferPointer<EncodedUnit>.allocate(capacity: units.count)
        results.initialize(repeating: EncodedUnit())
        defer {
            results.deinitialize()
            results.deallocate()
        }
        let errors = ErrorSlot()
        let shared = UnsafeSendable(results: results, buffers: buffers, units: units)
        DispatchQueue.concurrentPerform(iterations: units.count) { index in
            guard !errors.hasError else { return }
            let unit = shared.units[index]
            do {
                shared.results[index] = try encodeUnit(unit, bytes: shared.buffers[unit.file], tokenizer: tokenizer,
                                                       lineSeparator: lineSeparator)
                progress?.advance(by: unit.range.count)
            } catch {
                errors.record(error)
            }
        }
        if let error = errors.first { throw error }
        return Array(results)
    }
}

/// Buffers handed to concurrentPerform; each iteration writes only its own result slot.
private struct UnsafeSendable: @unchecked Sendable {
    let results: UnsafeMutableBufferPointer<EncodedUnit>
    let buffers: [UnsafeRawBufferPointer]
    let units: [EncodeUnit]
}

/// The first error raised by any parallel task.
private final class ErrorSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var error: Error?
    var hasError: Bool { lock.lock(); defer { lock.unlock() }; return error != nil }
    var first: Error? { lock.lock(); defer { lock.unlock() }; return error }
    func record(_ error: Error) {
        lock.lock()
        if self.error == nil { self.error = error }
        lock.unlock()
    }
}

