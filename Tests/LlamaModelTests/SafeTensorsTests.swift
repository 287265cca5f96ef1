// SafeTensorsTests: the safetensors writer and reader (Hugging Face layout) — bitwise round
// trips, exact F16/BF16 conversion from hand-built files, header alignment and text, every
// malformed-header rejection, and atomic replacement of the output file.
import XCTest
import Foundation
import LlamaModel
import Tensors

final class SafeTensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("safetensors-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: helpers

    /// A file made of an explicit header-length field, header text and data bytes.
    private func craft(_ name: String, header: String, data: [UInt8] = [], headerLength: UInt64? = nil) throws -> URL {
        let text = Array(header.utf8)
        var length = (headerLength ?? UInt64(text.count)).littleEndian
        let bytes = withUnsafeBytes(of: &length) { Array($0) } + text + data
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    private func littleEndianBytes(_ values: [UInt16]) -> [UInt8] {
        values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
    }

    private func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v -> [UInt8] in let b = v.bitPattern; return (0..<4).map { UInt8((b >> (8 * $0)) & 0xFF) } }
    }

    /// Asserts reading `url` throws a SafeTensorsError accepted by `matches` whose message
    /// names the file and contains `mentions`.
    private func assertRejects(_ url: URL, mentions: [String] = [], line: UInt = #line,
                               _ matches: (SafeTensorsError) -> Bool) {
        do {
            _ = try SafeTensors.read(from: url)
            XCTFail("read accepted a malformed file", line: line)
        } catch let error as SafeTensorsError {
            XCTAssertTrue(matches(error), "unexpected error: \(error)", line: line)
            XCTAssertTrue(error.description.contains(url.path), "message does not name the file: \(error)", line: line)
            for word in mentions {
                XCTAssertTrue(error.description.contains(word), "message lacks \(word): \(error)", line: line)
            }
        } catch {
            XCTFail("unexpected error type: \(error)", line: line)
        }
    }

    private func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }

    private func leftoverTemporaries(in dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.contains(".tmp-") }
    }

    // MARK: round trips

    func testRoundTripKeepsOrderShapesAndBitsWithoutMetadata() throws {
        var rng = RandomGenerator(seed: 11)
        let special = Tensor(shape: [2, 4], values: [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude,
                                                      .greatestFiniteMagnitude, Float(bitPattern: 0x7FC1_2345), 1e-40])
        let tensors: [(name: String, tensor: Tensor)] = [
            ("model.layers.0.self_attn.q_proj.weight", Tensor.randn([8, 8], rng: &rng)),
            ("scalar_like", Tensor(shape: [1], values: [3.25])),
            ("a.cube", Tensor.randn([2, 3, 5], rng: &rng)),
            ("special", special),
            ("empty", Tensor.zeros([0, 4])),
            ("big", Tensor.randn([300, 257], rng: &rng)),
            ("0d", Tensor(shape: [], values: [-7])),
        ]
        let url = directory.appendingPathComponent("plain.safetensors")
        try SafeTensors.write(tensors, to: url)
        let file = try SafeTensors.read(from: url)
        XCTAssertEqual(file.names, tensors.map(\.name), "names come back in the order written")
        XCTAssertEqual(file.metadata, [:])
        let raw = try Data(contentsOf: url)
        XCTAssertNil(String(decoding: raw.prefix(200), as: UTF8.self).range(of: "__metadata__"),
                     "no metadata key when metadata is empty")
        for (name, tensor) in tensors {
            let back = try file.tensor(named: name)
            XCTAssertEqual(back.shape, tensor.shape, name)
            XCTAssertEqual(back.name, name)
            XCTAssertEqual(bits(back), bits(tensor), "\(name) is bitwise equal (NaN payload and -0 included)")
            XCTAssertEqual(file.entry(named: name)?.dtype, .f32)
        }
        // File size is exactly header + 4 bytes per element: no gaps, no trailing bytes.
        let elements = tensors.reduce(0) { $0 + $1.tensor.count }
        XCTAssertEqual(raw.count, file.dataStart + 4 * elements)
        XCTAssertEqual(try file.tensors().map(\.name), file.names)
    }

    func testRoundTripWithMetadata() throws {
        let metadata = ["format": "pt", "quote\"and\\slash": "line\nbreak\ttab\u{01}", "ünïcode": "✓ 名前"]
        let t = Tensor(shape: [3], values: [1, 2, 3])
        let url = directory.appendingPathComponent("meta.safetensors")
        try SafeTensors.write([("weird \"name\"\n", t)], metadata: metadata, to: url)
        let file = try SafeTensors.read(from: url)
        XCTAssertEqual(file.metadata, metadata)
        XCTAssertEqual(file.names, ["weird \"name\"\n"])
        XCTAssertEqual(try file.tensor(named: "weird \"name\"\n").array, [1, 2, 3])
    }

    func testHeaderTextIsDeterministicAndPaddedToEightBytes() throws {
        let url = directory.appendingPathComponent("exact.safetensors")
        try SafeTensors.write([("b", Tensor(shape: [2], values: [1, 2])), ("a", Tensor(shape: [1, 1], values: [3]))],
                              metadata: ["format": "pt"], to: url)
        let raw = [UInt8](try Data(contentsOf: url))
        let expected = #"{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}}"#
        let n = Int(raw[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = String(decoding: raw[8..<(8 + n)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix(expected))
        XCTAssertEqual(header.dropFirst(expected.utf8.count).filter { $0 != " " }.count, 0, "padding is spaces only")
        XCTAssertLessThan(n - expected.utf8.count, 8, "at most 7 padding bytes")
        XCTAssertEqual((8 + n) % 8, 0)
        XCTAssertEqual(Array(raw[(8 + n)...]), littleEndianBytes([1, 2, 3] as [Float]))

        // Every name length hits every padding amount 0…7; the data start stays aligned.
        for length in 1...16 {
            let u = directory.appendingPathComponent("align\(length).safetensors")
            try SafeTensors.write([(String(repeating: "x", count: length), Tensor(shape: [1], values: [Float(length)]))], to: u)
            let file = try SafeTensors.read(from: u)
            XCTAssertEqual(file.dataStart % 8, 0, "name length \(length)")
            XCTAssertEqual(try file.tensor(named: file.names[0]).scalar, Float(length))
        }
    }

    // MARK: other dtypes and layouts

    func testReadsF16Exactly() throws {
        // Half bit patterns and their exact values (every half is representable in Float).
        let cases: [(UInt16, Float)] = [
            (0x3C00, 1.0), (0xC100, -2.5), (0x7BFF, 65504), (0x0000, 0), (0x3555, 0.333251953125),
            (0x0001, 0x1p-24), (0x03FF, 1023 * 0x1p-24), (0x0400, 0x1p-14), (0x8001, -0x1p-24),
            (0x7C00, .infinity), (0xFC00, -.infinity), (0x3E00, 1.5), (0xBC00, -1),
        ]
        var values = cases.map(\.0)
        values += [0x8000, 0x7E00]  // -0 and a NaN
        let header = #"{"h":{"dtype":"F16","shape":[3,5],"data_offsets":[0,30]}}"#
        let url = try craft("f16.safetensors", header: header, data: littleEndianBytes(values))
        let t = try SafeTensors.read(from: url).tensor(named: "h")
        XCTAssertEqual(t.shape, [3, 5])
        for (i, (_, expected)) in cases.enumerated() { XCTAssertEqual(t[i], expected, "half #\(i)") }
        XCTAssertEqual(t[13].bitPattern, 0x8000_0000, "negative zero keeps its sign")
        XCTAssertTrue(t[14].isNaN)
    }

    func testReadsBF16Exactly() throws {
        let cases: [(UInt16, Float)] = [
            (0x3F80, 1.0), (0x3E20, 0.15625), (0xC020, -2.5), (0x4049, 3.140625), (0x7F7F, 3.3895313892515355e38),
            (0x0001, 0x1p-133), (0x7F80, .infinity), (0xFF80, -.infinity), (0x0000, 0),
        ]
        let header = #"{"b":{"dtype":"BF16","shape":[9],"data_offsets":[0,18]}}"#
        let url = try craft("bf16.safetensors", header: header, data: littleEndianBytes(cases.map(\.0)))
        let t = try SafeTensors.read(from: url).tensor(named: "b")
        XCTAssertEqual(t.array, cases.map(\.1))
    }

    func testReadsMixedDTypesAtUnalignedOffsetsWithGaps() throws {
        // A header length that is not a multiple of 8 puts F32 data at odd addresses; a
        // 3-byte gap between tensors is allowed (only overlaps are rejected).
        let text = #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"f":{"dtype":"F32","shape":[2],"data_offsets":[5,13]},"z":{"dtype":"BF16","shape":[0],"data_offsets":[13,13]}}"#
        // Trailing spaces make the header length ≡ 1 (mod 4): "h" starts at an odd byte, "f" at 2 (mod 4).
        let header = text + String(repeating: " ", count: (5 - text.utf8.count % 4) % 4)
        XCTAssertEqual(header.utf8.count % 4, 1)
        let data = littleEndianBytes([0xC100] as [UInt16]) + [9, 9, 9] + littleEndianBytes([1.5, -1e-30] as [Float])
        let file = try SafeTensors.read(from: try craft("mixed.safetensors", header: header, data: data))
        XCTAssertEqual(file.names, ["h", "f", "z"], "names keep the header's text order")
        XCTAssertEqual(try file.tensor(named: "h").array, [-2.5])
        XCTAssertEqual(try file.tensor(named: "f").array, [1.5, -1e-30])
        XCTAssertEqual(try file.tensor(named: "z").count, 0)
        XCTAssertThrowsError(try file.tensor(named: "missing")) {
            XCTAssertEqual($0 as? SafeTensorsError, .tensorNotFound(file: file.url.path, name: "missing"))
        }
    }

    // MARK: malformed files

    func testRejectsFileShorterThanEightBytes() throws {
        let url = directory.appendingPathComponent("short.safetensors")
        try Data([1, 0, 0]).write(to: url)
        assertRejects(url, mentions: ["3 bytes"]) { if case .fileTooShort(_, 3) = $0 { return true }; return false }
        try Data().write(to: url)
        assertRejects(url) { if case .fileTooShort(_, 0) = $0 { return true }; return false }
    }

    func testRejectsHeaderLengthBeyondFile() throws {
        let url = try craft("long.safetensors", header: "{}", headerLength: 1000)
        assertRejects(url, mentions: ["1000", "10 bytes"]) {
            if case .headerLengthExceedsFile(_, 1000, 10) = $0 { return true }; return false
        }
        let huge = try craft("huge.safetensors", header: "{}", headerLength: UInt64.max)
        assertRejects(huge) { if case .headerLengthExceedsFile = $0 { return true }; return false }
    }

    func testRejectsHeaderThatIsNotJSONOrNotAnObject() throws {
        for (i, text) in [#"{"a": {"dtype": "F32",}"#, "", "{} trailing", "{\"a\":1}\0"].enumerated() {
            assertRejects(try craft("bad\(i).safetensors", header: text)) {
                if case .headerNotJSON = $0 { return true }; return false
            }
        }
        let notUTF8 = directory.appendingPathComponent("latin1.safetensors")
        try Data([4, 0, 0, 0, 0, 0, 0, 0, 0x22, 0xE9, 0x22, 0x20]).write(to: notUTF8)
        assertRejects(notUTF8, mentions: ["UTF-8"]) { if case .headerNotJSON = $0 { return true }; return false }
        for (i, text) in ["[1, 2]", "5", #""text""#, "null"].enumerated() {
            assertRejects(try craft("notobject\(i).safetensors", header: text)) {
                if case .headerNotObject = $0 { return true }; return false
            }
        }
    }

    func testRejectsRepeatedKeys() throws {
        let entry = #"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        let url = try craft("dup.safetensors", header: "{\"w\":\(entry), \"w\" :\(entry)}", data: [0, 0, 0, 0])
        assertRejects(url, mentions: ["\"w\""]) { $0 == .duplicateKey(file: url.path, key: "w") }
        // The same key spelled with an escape is still the same key; nested repeats are not top-level.
        let escaped = try craft("dup2.safetensors", header: "{\"w\":\(entry), \"\\u0077\":\(entry)}", data: [0, 0, 0, 0])
        assertRejects(escaped) { $0 == .duplicateKey(file: escaped.path, key: "w") }
    }

    func testRejectsEntriesMissingFields() throws {
        let entries = [
            ("dtype", #"{"shape":[1],"data_offsets":[0,4]}"#),
            ("shape", #"{"dtype":"F32","data_offsets":[0,4]}"#),
            ("data_offsets", #"{"dtype":"F32","shape":[1]}"#),
        ]
        for (field, entry) in entries {
            let url = try craft("missing-\(field).safetensors", header: "{\"t\":\(entry)}", data: [0, 0, 0, 0])
            assertRejects(url, mentions: [field]) { $0 == .missingField(file: url.path, name: "t", field: field) }
        }
        let notObject = try craft("entry-array.safetensors", header: #"{"t":[1,2]}"#)
        assertRejects(notObject) { $0 == .entryNotObject(file: notObject.path, name: "t") }
    }

    func testRejectsFieldsOfWrongType() throws {
        let entries = [
            ("dtype", #"{"dtype":32,"shape":[1],"data_offsets":[0,4]}"#),
            ("shape", #"{"dtype":"F32","shape":"1","data_offsets":[0,4]}"#),
            ("shape", #"{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}"#),
            ("shape", #"{"dtype":"F32","shape":[true],"data_offsets":[0,4]}"#),
            ("data_offsets", #"{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}"#),
            ("data_offsets", #"{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}"#),
            ("data_offsets", #"{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}"#),
        ]
        for (i, (field, entry)) in entries.enumerated() {
            let url = try craft("type\(i).safetensors", header: "{\"t\":\(entry)}", data: [0, 0, 0, 0])
            assertRejects(url, mentions: [field]) {
                if case .fieldWrongType(_, "t", field, _) = $0 { return true }; return false
            }
        }
    }

    func testRejectsUnsupportedDTypeNamingSupportedOnes() throws {
        let url = try craft("i64.safetensors", header: #"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#,
                            data: [UInt8](repeating: 0, count: 8))
        assertRejects(url, mentions: ["I64", "F32", "F16", "BF16"]) {
            $0 == .unsupportedDType(file: url.path, name: "ids", dtype: "I64")
        }
    }

    func testRejectsNegativeDimensionAndOversizedShape() throws {
        let url = try craft("neg.safetensors", header: #"{"t":{"dtype":"F32","shape":[2,-2],"data_offsets":[0,0]}}"#)
        assertRejects(url) { $0 == .negativeDimension(file: url.path, name: "t", shape: [2, -2]) }
        let big = try craft("bigshape.safetensors", header: #"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#)
        assertRejects(big) { if case .shapeTooLarge = $0 { return true }; return false }
    }

    func testRejectsBadOffsets() throws {
        let beyond = try craft("beyond.safetensors", header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                               data: [UInt8](repeating: 0, count: 8))
        assertRejects(beyond, mentions: ["8 bytes"]) {
            $0 == .offsetsOutOfRange(file: beyond.path, name: "t", begin: 4, end: 12, dataLength: 8)
        }
        let reversed = try craft("reversed.safetensors", header: #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#,
                                 data: [UInt8](repeating: 0, count: 8))
        assertRejects(reversed) { $0 == .offsetsReversed(file: reversed.path, name: "t", begin: 8, end: 4) }
        let overlap = try craft("overlap.safetensors",
                                header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                                data: [UInt8](repeating: 0, count: 12))
        assertRejects(overlap, mentions: ["\"a\"", "\"b\""]) {
            $0 == .overlappingRanges(file: overlap.path, name: "b", begin: 4, end: 12, other: "a", otherBegin: 0, otherEnd: 8)
        }
        // A range inside a longer earlier one overlaps even when its neighbour does not.
        let nested = try craft("nested.safetensors",
                               header: #"{"long":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                               data: [UInt8](repeating: 0, count: 16))
        assertRejects(nested) { if case .overlappingRanges(_, "x", _, _, "long", _, _) = $0 { return true }; return false }
    }

    func testRejectsByteCountMismatch() throws {
        let url = try craft("count.safetensors", header: #"{"t":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}}"#,
                            data: [UInt8](repeating: 0, count: 8))
        assertRejects(url, mentions: ["12", "8"]) {
            $0 == .byteCountMismatch(file: url.path, name: "t", shape: [2, 3], dtype: "F16", expected: 12, actual: 8)
        }
    }

    func testRejectsBadMetadata() throws {
        for (i, meta) in [#""text""#, #"{"epochs":3}"#].enumerated() {
            let url = try craft("meta\(i).safetensors", header: "{\"__metadata__\":\(meta)}")
            assertRejects(url, mentions: ["__metadata__"]) { if case .invalidMetadata = $0 { return true }; return false }
        }
    }

    // MARK: atomic writing

    func testWriteIntoMissingOrInvalidDirectoryThrowsAndLeavesNoFile() throws {
        let t = Tensor(shape: [2], values: [1, 2])
        let missing = directory.appendingPathComponent("no/such/dir/w.safetensors")
        XCTAssertThrowsError(try SafeTensors.write([("t", t)], to: missing)) { error in
            guard case .writeFailed(let file, _)? = error as? SafeTensorsError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, missing.path)
        }
        let regular = directory.appendingPathComponent("plainfile")
        try Data([1]).write(to: regular)
        XCTAssertThrowsError(try SafeTensors.write([("t", t)], to: regular.appendingPathComponent("w.safetensors")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["plainfile"])
    }

    func testFailureAfterWritingDataRemovesTemporaryFile() throws {
        // The target is an existing non-empty directory: the data is written and synced,
        // then rename fails; the temporary file must be gone and the directory untouched.
        let target = directory.appendingPathComponent("occupied")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data([7]).write(to: target.appendingPathComponent("inside"))
        XCTAssertThrowsError(try SafeTensors.write([("t", Tensor.zeros([1000]))], to: target)) {
            XCTAssertTrue("\($0)".contains(target.path))
        }
        XCTAssertEqual(leftoverTemporaries(in: directory), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target.path), ["inside"])
    }

    func testOverwriteReplacesWholeFileAndInvalidInputKeepsOldOne() throws {
        let url = directory.appendingPathComponent("model.safetensors")
        var rng = RandomGenerator(seed: 5)
        try SafeTensors.write([("big", Tensor.randn([512, 512], rng: &rng))], metadata: ["v": "1"], to: url)
        let small = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        try SafeTensors.write([("small", small)], to: url)
        let file = try SafeTensors.read(from: url)
        XCTAssertEqual(file.names, ["small"])
        XCTAssertEqual(file.metadata, [:])
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int
        XCTAssertEqual(size, file.dataStart + 16, "no bytes of the larger old file remain")
        XCTAssertEqual(try file.tensor(named: "small").array, [1, 2, 3, 4])

        // Rejected input (repeated or reserved names) throws before touching the old file.
        XCTAssertThrowsError(try SafeTensors.write([("a", small), ("a", small)], to: url)) {
            XCTAssertEqual($0 as? SafeTensorsError, .invalidTensorName(file: url.path, name: "a", reason: "the name is given twice"))
        }
        XCTAssertThrowsError(try SafeTensors.write([("__metadata__", small)], to: url))
        XCTAssertEqual(try SafeTensors.read(from: url).names, ["small"])
        XCTAssertEqual(leftoverTemporaries(in: directory), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
    }

    func testReadingMissingFileOrDirectoryNamesIt() throws {
        let missing = directory.appendingPathComponent("absent.safetensors")
        assertRejects(missing) { if case .cannotOpen = $0 { return true }; return false }
        assertRejects(directory) { if case .cannotOpen = $0 { return true }; return false }
    }
}
