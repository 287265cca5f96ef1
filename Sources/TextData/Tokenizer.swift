// Tokenizer: a loaded SentencePiece model (BPE or unigram, Kudo & Richardson 2018) used through
// the C API of SentencePieceShim; ids are exactly those of Google's library (and of the
// `spm_encode` command). Training lives in TokenizerTrainer.swift.
import Foundation
import SentencePieceShim

/// A SentencePiece tokenizer loaded from a `.model` file.
///
/// After loading, the object is only read, so `encode`/`decode` may be called from several
/// threads at once (SentencePiece's `Encode`/`Decode` are `const` and keep no per-call state
/// in the processor; the Python binding's batch encoder shares one processor the same way).
public final class Tokenizer: @unchecked Sendable {
    /// The piece that `swift-train prepare` puts between documents when the model has it.
    public static let endOfTextPiece = "<|endoftext|>"
    /// The byte-fallback piece for "\n", used between lines when the model has it.
    public static let newlinePiece = "<0x0A>"

    private let handle: OpaquePointer
    /// Where the model was loaded from (nil when loaded from bytes).
    public let path: String?
    /// Number of pieces; every id is in 0..<vocabSize.
    public let vocabSize: Int
    /// Special ids; -1 when the model disables that piece.
    public let unkID: Int32
    public let bosID: Int32
    public let eosID: Int32
    public let padID: Int32

    /// Loads a SentencePiece `.model` file; the error names the file and SentencePiece's reason.
    public convenience init(path: String) throws {
        Tokenizer.applyDefaultLogLevel
        // SentencePiece reads the file itself: a FIFO or device would block or never end.
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFREG {
            throw TextDataError.tokenizerLoad(path: path, reason: "not a regular file (a folder, device or FIFO); give a SentencePiece .model file")
        }
        var handle: OpaquePointer?
        try ShimCall.run { err, cap in spm_load(path, &handle, err, cap) } onError: { status, message in
            TextDataError.tokenizerLoad(path: path, reason: Tokenizer.loadReason(status: status, message: message, path: path))
        }
        guard let handle else { throw TextDataError.tokenizerLoad(path: path, reason: "no handle returned") }
        try self.init(handle: handle, path: path)
    }

    /// Loads a model from the bytes of a `.model` file (a serialized ModelProto).
    public convenience init(modelBytes: Data, name: String = "<memory>") throws {
        Tokenizer.applyDefaultLogLevel
        var handle: OpaquePointer?
        _ = try modelBytes.withUnsafeBytes { raw in
            try ShimCall.run { err, cap in
                spm_load_from_bytes(raw.baseAddress, raw.count, &handle, err, cap)
            } onError: { _, message in TextDataError.tokenizerLoad(path: name, reason: message) }
        }
        guard let handle else { throw TextDataError.tokenizerLoad(path: name, reason: "no handle returned") }
        try self.init(handle: handle, path: nil)
    }

    /// Loads a SentencePiece `.model` file (same as `init(path:)`).
    public static func load(path: String) throws -> Tokenizer { try Tokenizer(path: path) }

    private init(handle: OpaquePointer, path: String?) throws {
        self.handle = handle
        self.path = path
        var size: Int32 = 0
        var unk: Int32 = -1, bos: Int32 = -1, eos: Int32 = -1, pad: Int32 = -1
        do {
            try ShimCall.run { err, cap in spm_vocab_size(handle, &size, err, cap) }
            try ShimCall.run { err, cap in spm_special_ids(handle, &unk, &bos, &eos, &pad, err, cap) }
        } catch {
            spm_free(handle)
            throw error
        }
        vocabSize = Int(size)
        unkID = unk
        bosID = bos
        eosID = eos
        padID = pad
    }

    deinit { spm_free(handle) }

    /// Token ids of `text`, treated as one SentencePiece sentence (as `spm_encode` treats a line).
    public func encode(_ text: String) throws -> [Int32] {
        var text = text
        return try text.withUTF8 { utf8 in
            try encode(utf8: UnsafeRawBufferPointer(utf8))
        }
    }

    /// Token ids of UTF-8 bytes, treated as one sentence.
    public func encode(utf8 bytes: UnsafeRawBufferPointer) throws -> [Int32] {
        var ids: UnsafeMutablePointer<Int32>?
        var count = 0
        try ShimCall.run { err, cap in
            spm_encode_alloc(handle, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count, &ids, &count, err, cap)
        }
        defer { spm_free_buffer(ids) }
        guard let ids else { return [] }
        return Array(UnsafeBufferPointer(start: ids, count: count))
    }

    /// Encodes UTF-8 text line by line (each non-empty line is one sentence, a trailing "\r"
    /// is dropped) and writes `separator`, when given, between consecutive non-empty lines.
    public func encodeLines(utf8 bytes: UnsafeRawBufferPointer, separator: Int32?) throws -> [Int32] {
        var ids: UnsafeMutablePointer<Int32>?
        var count = 0
        try ShimCall.run { err, cap in
            spm_encode_lines(handle, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count,
                             separator ?? -1, &ids, &count, err, cap)
        }
        defer { spm_free_buffer(ids) }
        guard let ids else { return [] }
        return Array(UnsafeBufferPointer(start: ids, count: count))
    }

    /// Text of `ids`; throws when an id is outside 0..<vocabSize.
    public func decode(_ ids: [Int32]) throws -> String {
        var text: UnsafeMutablePointer<CChar>?
        var length = 0
        _ = try ids.withUnsafeBufferPointer { buffer in
            try ShimCall.run { err, cap in spm_decode(handle, buffer.baseAddress, buffer.count, &text, &length, err, cap) }
        }
        defer { spm_free_buffer(text) }
        guard let text else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    /// The piece string of `id` (e.g. "▁the", "<0x0A>"), or nil when `id` is out of range.
    public func piece(for id: Int32) -> String? {
        guard id >= 0, Int(id) < vocabSize else { return nil }
        var piece: UnsafeMutablePointer<CChar>?
        var length = 0
        guard (try? ShimCall.run({ err, cap in spm_id_to_piece(handle, id, &piece, &length, err, cap) })) != nil,
              let piece else { return nil }
        defer { spm_free_buffer(piece) }
        return String(decoding: UnsafeRawBufferPointer(start: piece, count: length), as: UTF8.self)
    }

    /// The id of `piece`, or nil when the vocabulary does not contain it.
    public func id(for piece: String) -> Int32? {
        var piece = piece
        var id: Int32 = -1
        var known: Int32 = 0
        let ok = piece.withUTF8 { utf8 in
            (try? ShimCall.run { err, cap in
                spm_piece_to_id(handle, utf8.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                                utf8.count, &id, &known, err, cap)
            }) != nil
        }
        return ok && known != 0 ? id : nil
    }

    /// The id written between documents: the "<|endoftext|>" piece when the model has it,
    /// otherwise the eos id; nil when the model has neither.
    public var endOfTextID: Int32? {
        if let id = id(for: Tokenizer.endOfTextPiece) { return id }
        return eosID >= 0 ? eosID : nil
    }

    /// The byte-fallback piece for "\n", present in models trained with byte fallback.
    public var newlineID: Int32? { id(for: Tokenizer.newlinePiece) }

    /// Sets SentencePiece's global stderr log threshold: 0 INFO (its default), 1 WARNING,
    /// 2 ERROR (this module's default), 3 FATAL only.
    public static func setSentencePieceLogLevel(_ level: Int) {
        _ = spm_set_min_log_level(Int32(level))
    }

    /// Runs once, before the first model is loaded or trained: SentencePiece quiet by default.
    static let applyDefaultLogLevel: Void = { setSentencePieceLogLevel(2) }()

    private static func loadReason(status: spm_status, message: String, path: String) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "no such file" }
        if isDirectory.boolValue { return "it is a folder, not a file" }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
            return "the file is empty"
        }
        if message.contains("ParseFromArray") {
            return "the file is not a SentencePiece model (its bytes do not parse as a ModelProto)"
        }
        var reason = message.isEmpty ? "SentencePiece status \(status.rawValue)" : message
        while reason.hasSuffix(".") || reason.hasSuffix(" ") { reason.removeLast() }
        return reason
    }
}

/// Calls one shim function with a fresh error buffer and turns a failure into a Swift error.
enum ShimCall {
    static let errorCapacity = 2048

    @discardableResult
    static func run(_ body: (UnsafeMutablePointer<CChar>, Int) -> spm_status,
                    onError: (spm_status, String) -> Error = { status, message in
                        TextDataError.tokenizer(message.isEmpty ? "SentencePiece status \(status.rawValue)" : message)
                    }) throws -> String {
        var buffer = [CChar](repeating: 0, count: errorCapacity)
        let (status, message): (spm_status, String) = buffer.withUnsafeMutableBufferPointer { err in
            guard let base = err.baseAddress else { return (SPM_NULL_ARGUMENT, "no error buffer") }
            let status = body(base, err.count)
            return (status, status == SPM_OK ? "" : String(cString: base))
        }
        if status != SPM_OK { throw onError(status, message) }
        return message
    }
}
