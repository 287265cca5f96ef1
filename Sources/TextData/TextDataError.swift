// TextDataError: every error the data layer (tokenizer, token shards, batches, prepare)
// throws. Each message names the file or option involved and says how to fix it, so the
// command line can print it as is.
import Foundation

/// An error a user can cause in the data layer: a bad file, a bad option, too little text.
public enum TextDataError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A SentencePiece `.model` file that does not load.
    case tokenizerLoad(path: String, reason: String)
    /// Encoding, decoding or a lookup failed inside SentencePiece.
    case tokenizer(String)
    /// SentencePiece training failed for a reason not covered by the vocab-size cases.
    case training(String)
    /// The requested vocabulary cannot hold every required character (plus byte and meta
    /// pieces); `minimum` is the smallest size SentencePiece accepts for this text.
    case vocabSizeTooSmall(requested: Int, minimum: Int)
    /// The requested vocabulary is larger than possible: more than `maximum` pieces.
    case vocabSizeTooLarge(requested: Int, maximum: Int, reason: String)
    /// A token shard (`.bin`) that is malformed, or a token that does not fit one.
    case shard(path: String, problem: String)
    /// An input file that is missing, unreadable, empty or too small.
    case input(path: String, problem: String)
    /// An output path that cannot be written.
    case output(path: String, problem: String)
    /// A batch request the shard cannot serve (too few tokens for the window, bad index).
    case batch(String)
    /// An option outside its valid range.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .tokenizerLoad(path, reason):
            return "cannot load tokenizer model '\(path)': \(reason). Pass a SentencePiece .model file "
                + "(for example DIR/tokenizer.model written by `swift-train prepare`)."
        case let .tokenizer(message):
            return "tokenizer: \(message)"
        case let .training(message):
            return "tokenizer training failed: \(message)"
        case let .vocabSizeTooSmall(requested, minimum):
            return "vocabulary size \(requested) is too small for this text: SentencePiece needs at least "
                + "\(minimum) pieces (every character of the text, the 256 byte-fallback pieces when enabled, "
                + "and the special pieces). Use --vocab-size \(minimum) or more."
        case let .vocabSizeTooLarge(requested, maximum, reason):
            return "vocabulary size \(requested) is too large: \(reason). Use --vocab-size \(maximum) or less."
        case let .shard(path, problem):
            return "token shard '\(path)': \(problem)"
        case let .input(path, problem):
            return "input '\(path)': \(problem)"
        case let .output(path, problem):
            return "output '\(path)': \(problem)"
        case let .batch(message):
            return "batches: \(message)"
        case let .invalidArgument(message):
            return message
        }
    }

    public var errorDescription: String? { description }
}
