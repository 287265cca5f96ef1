// Tests of TokenShard (llm.c format): byte-exact header and payload, mmap reader round trip,
// and one crafted file per validation error (empty, short header, magic, version, length),
// plus the writer refusing tokens that do not fit uint16 without leaving files behind.
import Foundation
import XCTest
import TextData

final class TokenShardTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("shard")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A valid shard's bytes with header slot `slot` replaced by `value`.
    private func patched(_ tokens: [Int32], slot: Int, value: Int32) throws -> Data {
        let source = path("source.bin")
        try TokenShard.write(tokens, to: source)
        var data = try Data(contentsOf: URL(fileURLWithPath: source))
        withUnsafeBytes(of: value.littleEndian) { data.replaceSubrange(4 * slot ..< 4 * slot + 4, with: $0) }
        return data
    }

    private func shardError(_ data: Data, _ name: String) throws -> String {
        let file = path(name)
        try data.write(to: URL(fileURLWithPath: file))
        let error = textDataError { _ = try TokenShard(path: file) }
        let text = error?.description ?? ""
        XCTAssertTrue(text.contains(file), "the message names the file: \(text)")
        return text
    }

    func testRoundTripAndExactLayout() throws {
        var tokens: [Int32] = [0, 1, 65_535, 256, 4095]
        var state: UInt32 = 12_345
        for _ in 0 ..< 100_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            tokens.append(Int32(state >> 16))
        }
        let file = path("tokens.bin")
        try TokenShard.write(tokens, to: file)
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        XCTAssertEqual(data.count, 1024 + 2 * tokens.count)
        let header = data.withUnsafeBytes { raw in (0 ..< 256).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) } }
        XCTAssertEqual(Array(header[0 ..< 3]), [20_240_520, 1, Int32(tokens.count)])
        XCTAssertTrue(header[3...].allSatisfy { $0 == 0 }, "slots 3...255 are zero")
        // Payload: little-endian uint16, in order.
        XCTAssertEqual(data[1024], 0x00)
        XCTAssertEqual(data[1024 + 4], 0xFF)
        XCTAssertEqual(data[1024 + 5], 0xFF)
        XCTAssertEqual(data[1024 + 6], 0x00)
        XCTAssertEqual(data[1024 + 7], 0x01)

        let shard = try TokenShard(path: file)
        XCTAssertEqual(shard.count, tokens.count)
        XCTAssertEqual(shard.tokens, tokens)
        XCTAssertEqual(shard[2], 65_535)
        var buffer = [Int32](repeating: -1, count: 10)
        buffer.withUnsafeMutableBufferPointer { shard.copyTokens(from: 100, count: 10, into: $0.baseAddress!) }
        XCTAssertEqual(buffer, Array(tokens[100 ..< 110]))
        XCTAssertEqual(directoryListing(directory), ["tokens.bin"], "no temporary files remain")
    }

    func testUInt16WriterAndEmptyShard() throws {
        try TokenShard.write(uint16: [7, 8, 9], to: path("u16.bin"))
        XCTAssertEqual(try TokenShard(path: path("u16.bin")).tokens, [7, 8, 9])
        try TokenShard.write([Int32](), to: path("none.bin"))
        XCTAssertEqual(try TokenShard(path: path("none.bin")).count, 0, "a header with count 0 is a valid, empty shard")
    }

    func testOverwriteIsAtomicReplacement() throws {
        let file = path("replace.bin")
        try TokenShard.write([Int32](repeating: 1, count: 10), to: file)
        let before = try TokenShard(path: file)
        try TokenShard.write([Int32](repeating: 2, count: 20), to: file)
        // The old mapping still reads the old file (rename replaced the directory entry).
        XCTAssertEqual(before.tokens, [Int32](repeating: 1, count: 10))
        XCTAssertEqual(try TokenShard(path: file).tokens, [Int32](repeating: 2, count: 20))
    }

    func testWrongMagic() throws {
        let message = try shardError(try patched([1, 2, 3], slot: 0, value: 12_345), "magic.bin")
        XCTAssertTrue(message.contains("wrong magic 12345, expected 20240520"), message)
    }

    func testWrongVersion() throws {
        let message = try shardError(try patched([1, 2, 3], slot: 1, value: 2), "version.bin")
        XCTAssertTrue(message.contains("unsupported version 2, expected 1"), message)
    }

    func testLengthMismatchNamesBothSizes() throws {
        var data = try patched([1, 2, 3, 4], slot: 2, value: 4)
        data.removeLast(3)  // 1024 + 8 − 3 = 1029 bytes
        let truncated = try shardError(data, "short.bin")
        XCTAssertTrue(truncated.contains("the file has 1029 bytes"), truncated)
        XCTAssertTrue(truncated.contains("= 1032 bytes"), truncated)
        let overlong = try shardError(try patched([1, 2, 3, 4], slot: 2, value: 9), "count.bin")
        XCTAssertTrue(overlong.contains("1032 bytes") && overlong.contains("= 1042 bytes"), overlong)
        let negative = try shardError(try patched([1], slot: 2, value: -5), "negative.bin")
        XCTAssertTrue(negative.contains("negative token count -5"), negative)
    }

    func testTruncatedHeaderAndEmptyFile() throws {
        let header = try shardError(Data(count: 100), "header.bin")
        XCTAssertTrue(header.contains("too short for a header: 100 bytes"), header)
        let empty = try shardError(Data(), "empty.bin")
        XCTAssertTrue(empty.contains("empty"), empty)
        let missing = textDataError { _ = try TokenShard(path: path("missing.bin")) }
        XCTAssertTrue(missing?.description.contains("no such file") ?? false)
    }

    func testWriterRejectsTokensOutsideUInt16AndWritesNothing() throws {
        let file = path("big.bin")
        let tooLarge = textDataError { try TokenShard.write([Int32(5), 65_536, 7], to: file) }
        XCTAssertTrue(tooLarge?.description.contains("token 65536 at position 1 does not fit uint16") ?? false,
                      "\(String(describing: tooLarge))")
        let negative = textDataError { try TokenShard.write([Int32(-1)], to: file) }
        XCTAssertTrue(negative?.description.contains("token -1 at position 0") ?? false)
        XCTAssertEqual(directoryListing(directory), [], "nothing written, no temporary file left")
    }

    func testWriteIntoMissingFolderFailsCleanly() throws {
        let error = textDataError { try TokenShard.write([Int32(1)], to: path("no/such/folder/x.bin")) }
        guard case .output? = error else { return XCTFail("wrong error \(String(describing: error))") }
    }
}
