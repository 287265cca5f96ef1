// TokenShard: token files in llm.c's format (karpathy/llm.c dev/data): a header of 256
// little-endian int32 — magic 20240520, version 1, token count, then zeros — followed by the
// tokens as little-endian uint16. Reading maps the file (no copy); writing is atomic.
import Foundation

/// A validated, memory-mapped token shard. Tokens are read in place from the mapping.
public final class TokenShard: @unchecked Sendable {
    public static let magic: Int32 = 20_240_520
    public static let version: Int32 = 1
    /// 256 int32 header slots.
    public static let headerBytes = 1024
    /// Largest token id a shard can hold.
    public static let maximumToken = Int(UInt16.max)

    public let path: String
    /// Number of tokens in the shard.
    public let count: Int
    /// The tokens, little-endian uint16, straight from the mapping (valid while `self` lives).
    public let rawTokens: UnsafeBufferPointer<UInt16>
    private let file: MappedFile

    /// Maps `path` and checks magic, version and that length == 1024 + 2·count; errors name
    /// the file and what is wrong.
    public init(path: String) throws {
        let file = try MappedFile(path: path) { TextDataError.shard(path: path, problem: $0) }
        let bytes = file.bytes
        func fail(_ problem: String) -> TextDataError { .shard(path: path, problem: problem) }
        guard bytes.count > 0 else {
            throw fail("the file is empty (0 bytes); regenerate it with `swift-train prepare`")
        }
        guard bytes.count >= TokenShard.headerBytes else {
            throw fail("too short for a header: \(bytes.count) bytes, a shard starts with a \(TokenShard.headerBytes)-byte header")
        }
        func slot(_ i: Int) -> Int32 { Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        let magic = slot(0), version = slot(1), count = slot(2)
        guard magic == TokenShard.magic else {
            throw fail("wrong magic \(magic), expected \(TokenShard.magic) (not an llm.c token shard)")
        }
        guard version == TokenShard.version else {
            throw fail("unsupported version \(version), expected \(TokenShard.version) (uint16 tokens)")
        }
        guard count >= 0 else { throw fail("negative token count \(count) in the header") }
        let expected = TokenShard.headerBytes + 2 * Int(count)
        guard bytes.count == expected else {
            throw fail("length mismatch: the file has \(bytes.count) bytes, but its header's token count \(count) "
                + "needs \(TokenShard.headerBytes) + 2·\(count) = \(expected) bytes (truncated or corrupt; regenerate it)")
        }
        self.path = path
        self.file = file
        self.count = Int(count)
        if count > 0, let start = bytes.baseAddress {
            let base = (start + TokenShard.headerBytes).assumingMemoryBound(to: UInt16.self)
            rawTokens = UnsafeBufferPointer(start: base, count: Int(count))
        } else {
            rawTokens = UnsafeBufferPointer(start: nil, count: 0)
        }
    }

    /// Token `i` (0 ≤ i < count).
    @inline(__always)
    public subscript(i: Int) -> Int32 { Int32(UInt16(littleEndian: rawTokens[i])) }

    /// All tokens copied out as Int32 (for small shards and tests).
    public var tokens: [Int32] { rawTokens.map { Int32(UInt16(littleEndian: $0)) } }

    /// Copies tokens[start ..< start+length] as Int32 into `destination`.
    @inline(__always)
    public func copyTokens(from start: Int, count length: Int, into destination: UnsafeMutablePointer<Int32>) {
        precondition(start >= 0 && start + length <= count, "token range out of bounds")
        for i in 0 ..< length { destination[i] = Int32(UInt16(littleEndian: rawTokens[start + i])) }
    }

    /// Writes `tokens` to `path` atomically. Throws (writing nothing) when a token is negative
    /// or above 65535, or when there are more than Int32.max tokens.
    public static func write<C: Collection>(_ tokens: C, to path: String) throws where C.Element: BinaryInteger {
        var narrow = [UInt16]()
        narrow.reserveCapacity(tokens.count)
        for (position, token) in tokens.enumerated() {
            guard token >= 0, token <= maximumToken else {
                throw TextDataError.shard(path: path, problem: "token \(token) at position \(position) does not fit "
                    + "uint16 (0...\(maximumToken)); use a vocabulary of at most \(maximumToken) pieces")
            }
            narrow.append(UInt16(truncatingIfNeeded: token))
        }
        try prepareWrite(narrow, to: path).commit()
    }

    /// Writes uint16 tokens to `path` atomically.
    public static func write(uint16 tokens: [UInt16], to path: String) throws {
        try prepareWrite(tokens, to: path).commit()
    }

    /// Writes the shard to a temporary file next to `path`; `commit()` puts it in place.
    static func prepareWrite(_ tokens: [UInt16], to path: String) throws -> AtomicFile.Pending {
        guard tokens.count <= Int(Int32.max) else {
            throw TextDataError.shard(path: path, problem: "\(tokens.count) tokens exceed the header's int32 count; split into several shards")
        }
        var header = [Int32](repeating: 0, count: headerBytes / 4)
        header[0] = magic.littleEndian
        header[1] = version.littleEndian
        header[2] = Int32(tokens.count).littleEndian
        return try AtomicFile.prepare(for: path) { sink in
            try header.withUnsafeBytes { try sink($0) }
            if UInt16(1).littleEndian == 1 {
                try tokens.withUnsafeBytes { try sink($0) }
            } else {
                let swapped = tokens.map { $0.littleEndian }
                try swapped.withUnsafeBytes { try sink($0) }
            }
        }
    }
}
