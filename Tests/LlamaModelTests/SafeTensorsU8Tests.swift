// SafeTensorsU8Tests: U8 entries in safetensors files (8-bit optimizer state codes,
// optimizers-elementwise-zo.md §8.2) — writing F32 and U8 together, exact byte read-back,
// the "U8" header dtype, U8 read as F32 values 0…255, and the dtype check of bytes(named:).
import XCTest
import Foundation
import LlamaModel
import Tensors

final class SafeTensorsU8Tests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-u8-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private let codes: [UInt8] = (0..<512).map { UInt8(($0 * 37 + 11) % 256) }
    private let all: [UInt8] = (0...255).map { UInt8($0) }
    private let floats: [Float] = [1.5, -2.25, 0, 3.0e-8, .greatestFiniteMagnitude, -0.0]

    /// Writes F32 "w", U8 "m.codes" [2, 256], F32 "m.absmax" and U8 "all" [256], in that order.
    private func writeMixed() throws -> URL {
        let url = directory.appendingPathComponent("state.safetensors")
        let w = Tensor(shape: [2, 3], values: floats), absmax = Tensor(shape: [2], values: [0.5, 4])
        try codes.withUnsafeBytes { c in
            try all.withUnsafeBytes { a in
                try SafeTensors.write(entries: [("w", .f32(w)), ("m.codes", .u8(shape: [2, 256], bytes: c)),
                                                ("m.absmax", .f32(absmax)), ("all", .u8(shape: [256], bytes: a))],
                                      metadata: ["optimizer": "adamw", "state_bits": "8"], to: url)
            }
        }
        return url
    }

    func testU8EntriesReadBackExactBytes() throws {
        let file = try SafeTensors.read(from: try writeMixed())
        XCTAssertEqual(file.names, ["w", "m.codes", "m.absmax", "all"])
        XCTAssertEqual(try file.bytes(named: "m.codes"), codes)
        XCTAssertEqual(try file.bytes(named: "all"), all)
        XCTAssertEqual(file.entry(named: "m.codes")?.dtype, .u8)
        XCTAssertEqual(file.entry(named: "m.codes")?.shape, [2, 256])
        XCTAssertEqual(file.entry(named: "m.codes")?.byteRange.count, 512)
        XCTAssertEqual(file.entry(named: "all")?.byteRange.count, 256)
        XCTAssertEqual(file.metadata, ["optimizer": "adamw", "state_bits": "8"])
    }

    func testF32EntriesBesideU8StayBitExact() throws {
        let file = try SafeTensors.read(from: try writeMixed())
        XCTAssertEqual(file.entry(named: "w")?.dtype, .f32)
        XCTAssertEqual(try file.tensor(named: "w").array.map(\.bitPattern), floats.map(\.bitPattern))
        XCTAssertEqual(try file.tensor(named: "w").shape, [2, 3])
        XCTAssertEqual(try file.tensor(named: "m.absmax").array, [0.5, 4])
        // Offsets: w 24 bytes, codes 512, absmax 8, all 256, back to back.
        XCTAssertEqual(file.entry(named: "w")?.byteRange, 0..<24)
        XCTAssertEqual(file.entry(named: "m.codes")?.byteRange, 24..<536)
        XCTAssertEqual(file.entry(named: "m.absmax")?.byteRange, 536..<544)
        XCTAssertEqual(file.entry(named: "all")?.byteRange, 544..<800)
    }

    func testU8TensorReadsAsFloatValues0To255() throws {
        let file = try SafeTensors.read(from: try writeMixed())
        let t = try file.tensor(named: "all")
        XCTAssertEqual(t.shape, [256])
        XCTAssertEqual(t.array, (0...255).map { Float($0) })
        XCTAssertEqual(try file.tensor(named: "m.codes").array, codes.map { Float($0) })
    }

    func testBytesOfF32EntryThrows() throws {
        let file = try SafeTensors.read(from: try writeMixed())
        XCTAssertThrowsError(try file.bytes(named: "w")) { error in
            guard case SafeTensorsError.unsupportedDType(_, let name, let dtype)? = error as? SafeTensorsError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(name, "w")
            XCTAssertTrue(dtype.contains("F32") && dtype.contains("U8"), dtype)
        }
        XCTAssertThrowsError(try file.bytes(named: "nope")) { error in
            XCTAssertEqual(error as? SafeTensorsError, .tensorNotFound(file: file.url.path, name: "nope"))
        }
    }

    func testHeaderSaysU8AndIsAligned() throws {
        let url = try writeMixed()
        let data = try Data(contentsOf: url)
        let length = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        XCTAssertEqual((8 + length) % 8, 0)
        XCTAssertEqual(data.count, 8 + length + 800)
        let header = String(decoding: data[8..<(8 + length)], as: UTF8.self)
        XCTAssertTrue(header.contains("\"m.codes\":{\"dtype\":\"U8\",\"shape\":[2,256],\"data_offsets\":[24,536]}"), header)
        XCTAssertTrue(header.contains("\"all\":{\"dtype\":\"U8\",\"shape\":[256],\"data_offsets\":[544,800]}"), header)
        XCTAssertTrue(header.contains("\"w\":{\"dtype\":\"F32\""), header)
        // The raw data section holds the codes verbatim after w's 24 bytes.
        XCTAssertEqual(Array(data[(8 + length + 24)..<(8 + length + 536)]), codes)
    }

    func testU8ByteCountMustMatchShape() throws {
        let url = directory.appendingPathComponent("bad.safetensors")
        XCTAssertThrowsError(try all.withUnsafeBytes { a in
            try SafeTensors.write(entries: [("x", .u8(shape: [2, 100], bytes: a))], to: url)
        }) { error in
            guard case SafeTensorsError.invalidTensorName(_, let name, let reason)? = error as? SafeTensorsError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(name, "x")
            XCTAssertTrue(reason.contains("256 bytes"), reason)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }
}
