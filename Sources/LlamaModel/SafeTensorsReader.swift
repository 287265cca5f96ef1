// SafeTensorsReader: maps a .safetensors file once (mmap), validates its header (lengths,
// JSON shape, dtypes, shapes, offsets, overlaps, byte counts) and converts tensors to F32
// on request. Format: github.com/huggingface/safetensors (README "Format").
import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor's header entry.
public struct SafeTensorsEntry: Equatable, Sendable {
    public let name: String
    public let dtype: SafeTensors.DType
    public let shape: [Int]
    /// Byte range relative to the start of the data section (after the header).
    public let byteRange: Range<Int>
    /// Number of elements (product of `shape`; 1 for shape []).
    public var count: Int { shape.reduce(1, *) }
}

/// A validated, memory-mapped safetensors file. Tensors are copied out (converted to F32)
/// by `tensor(named:)`; the mapping lives as long as this object.
public final class SafeTensorsFile {
    /// The file's URL.
    public let url: URL
    /// Tensor names in the order their keys appear in the header text.
    public let names: [String]
    /// The "__metadata__" map (empty when absent).
    public let metadata: [String: String]
    /// Entries in the order of `names`.
    public let entries: [SafeTensorsEntry]
    private let entryIndex: [String: Int]
    private let mapping: MappedFile
    /// Offset of the data section in the file: 8 + header length.
    public let dataStart: Int

    init(url: URL, names: [String], metadata: [String: String], entries: [SafeTensorsEntry],
         mapping: MappedFile, dataStart: Int) {
        self.url = url
        self.names = names
        self.metadata = metadata
        self.entries = entries
        self.mapping = mapping
        self.dataStart = dataStart
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() { index[e.name] = i }
        self.entryIndex = index
    }

    /// The header entry for `name`, nil if absent.
    public func entry(named name: String) -> SafeTensorsEntry? {
        entryIndex[name].map { entries[$0] }
    }

    /// The tensor `name` converted to F32 (a fresh Tensor named `name`).
    public func tensor(named name: String) throws -> Tensor {
        guard let i = entryIndex[name] else {
            throw SafeTensorsError.tensorNotFound(file: url.path, name: name)
        }
        let e = entries[i]
        let t = Tensor(uninitializedShape: e.shape)
        t.name = name
        let source = UnsafeRawPointer(mapping.base) + dataStart + e.byteRange.lowerBound
        let n = t.count
        let out = t.pointer
        switch e.dtype {
        case .f32:
            #if _endian(little)
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: n * 4)
            #else
            for j in 0..<n {
                out[j] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self)))
            }
            #endif
        case .f16:
            for j in 0..<n {
                out[j] = SafeTensors.float(fromHalfBits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * j, as: UInt16.self)))
            }
        case .bf16:
            for j in 0..<n {
                out[j] = SafeTensors.float(fromBFloat16Bits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * j, as: UInt16.self)))
            }
        case .u8:
            for j in 0..<n { out[j] = Float(source.load(fromByteOffset: j, as: UInt8.self)) }
        }
        return t
    }

    /// The bytes of the U8 tensor `name`; throws if it is absent or of another dtype.
    public func bytes(named name: String) throws -> [UInt8] {
        guard let i = entryIndex[name] else {
            throw SafeTensorsError.tensorNotFound(file: url.path, name: name)
        }
        let e = entries[i]
        guard e.dtype == .u8 else {
            throw SafeTensorsError.unsupportedDType(file: url.path, name: name, dtype: e.dtype.rawValue + " (U8 expected)")
        }
        let source = UnsafeRawPointer(mapping.base) + dataStart + e.byteRange.lowerBound
        return Array(UnsafeRawBufferPointer(start: source, count: e.count))
    }

    /// Every tensor, converted to F32, in header order.
    public func tensors() throws -> [(name: String, tensor: Tensor)] {
        try names.map { ($0, try tensor(named: $0)) }
    }
}

extension SafeTensors {
    /// Maps and validates the file at `url`; throws `SafeTensorsError` naming the file and
    /// the problem. Tensor bytes are read only when asked for.
    public static func read(from url: URL) throws -> SafeTensorsFile {
        let file = url.path
        let mapping = try MappedFile(path: file)
        let size = mapping.size
        guard size >= 8 else { throw SafeTensorsError.fileTooShort(file: file, byteCount: size) }
        let base = UnsafeRawPointer(mapping.base)
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(size - 8) else {
            throw SafeTensorsError.headerLengthExceedsFile(file: file, headerLength: headerLength, fileSize: size)
        }
        let n = Int(headerLength)
        let headerBytes = UnsafeRawBufferPointer(start: base + 8, count: n)
        let header = try parseHeader(headerBytes, file: file)
        let dataLength = size - 8 - n
        let (entries, metadata) = try validate(header.object, orderedKeys: header.keys,
                                               dataLength: dataLength, file: file)
        return SafeTensorsFile(url: url, names: entries.map(\.name), metadata: metadata,
                               entries: entries, mapping: mapping, dataStart: 8 + n)
    }

    /// Parses the header with JSONSerialization and recovers its top-level keys in text
    /// order (JSONSerialization keeps the last of repeated keys silently; the scan sees them).
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, file: String) throws
        -> (object: [String: Any], keys: [String]) {
        let data = Data(bytes)
        guard String(data: data, encoding: .utf8) != nil else {
            throw SafeTensorsError.headerNotJSON(file: file, detail: "header bytes are not UTF-8")
        }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw SafeTensorsError.headerNotJSON(file: file, detail: detail)
        }
        guard let object = parsed as? [String: Any] else {
            let found = parsed is [Any] ? "an array" : parsed is String ? "a string" : parsed is NSNull ? "null" : "a number or boolean"
            throw SafeTensorsError.headerNotObject(file: file, found: found)
        }
        let keys = topLevelKeys(bytes)
        var seen = Set<String>()
        for key in keys where !seen.insert(key).inserted {
            throw SafeTensorsError.duplicateKey(file: file, key: key)
        }
        // The scan only runs on text JSONSerialization accepted; if it ever disagrees,
        // fall back to the parser's keys sorted by name.
        let ordered = seen == Set(object.keys) ? keys : object.keys.sorted()
        return (object, ordered)
    }

    /// Keys of the outermost object of valid JSON text, in order, repeats included.
    static func topLevelKeys(_ text: UnsafeRawBufferPointer) -> [String] {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var keys: [String] = []
        var depth = 0, i = 0
        let n = text.count
        while i < n {
            let c = text[i]
            if c == quote {
                let start = i
                i += 1
                var escaped = false
                while i < n && text[i] != quote {
                    if text[i] == backslash { escaped = true; i += 1 }
                    i += 1
                }
                guard i < n else { break }
                let end = i            // closing quote
                i += 1
                if depth == 1 {
                    var j = i
                    while j < n, text[j] == 0x20 || text[j] == 0x09 || text[j] == 0x0A || text[j] == 0x0D { j += 1 }
                    if j < n && text[j] == UInt8(ascii: ":") {
                        if !escaped {
                            keys.append(String(decoding: UnsafeRawBufferPointer(rebasing: text[(start + 1)..<end]), as: UTF8.self))
                        } else if let s = try? JSONSerialization.jsonObject(
                            with: Data(UnsafeRawBufferPointer(rebasing: text[start...end])),
                            options: [.fragmentsAllowed]) as? String {
                            keys.append(s)
                        }
                    }
                }
                continue
            }
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
            else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") { depth -= 1 }
            i += 1
        }
        return keys
    }

    /// A JSON integer (not a boolean, not a number with a fraction or exponent form).
    static func jsonInteger(_ value: Any) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        let type = String(cString: number.objCType)
        guard ["s", "i", "l", "q", "S", "I", "L", "Q"].contains(type) else { return nil }
        return value as? Int
    }

    /// Checks every entry against the format and the data section; returns entries in
    /// header order and the metadata.
    static func validate(_ object: [String: Any], orderedKeys: [String], dataLength: Int,
                         file: String) throws -> ([SafeTensorsEntry], [String: String]) {
        var metadata: [String: String] = [:]
        if let raw = object[metadataKey] {
            guard let map = raw as? [String: Any] else {
                throw SafeTensorsError.invalidMetadata(file: file, problem: "must be an object of string values")
            }
            for (key, value) in map {
                guard let s = value as? String else {
                    throw SafeTensorsError.invalidMetadata(file: file, problem: "value of \"\(key)\" must be a string")
                }
                metadata[key] = s
            }
        }
        var entries: [SafeTensorsEntry] = []
        for name in orderedKeys where name != metadataKey {
            guard let fields = object[name] as? [String: Any] else {
                throw SafeTensorsError.entryNotObject(file: file, name: name)
            }
            for field in ["dtype", "shape", "data_offsets"] where fields[field] == nil {
                throw SafeTensorsError.missingField(file: file, name: name, field: field)
            }
            guard let dtypeName = fields["dtype"] as? String else {
                throw SafeTensorsError.fieldWrongType(file: file, name: name, field: "dtype", expected: "a string such as \"F32\"")
            }
            guard let dims = fields["shape"] as? [Any] else {
                throw SafeTensorsError.fieldWrongType(file: file, name: name, field: "shape", expected: "an array of integers")
            }
            let shape = try dims.map { value -> Int in
                guard let d = jsonInteger(value) else {
                    throw SafeTensorsError.fieldWrongType(file: file, name: name, field: "shape", expected: "an array of integers")
                }
                return d
            }
            guard let offsets = fields["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = jsonInteger(offsets[0]), let end = jsonInteger(offsets[1]),
                  begin >= 0, end >= 0 else {
                throw SafeTensorsError.fieldWrongType(file: file, name: name, field: "data_offsets",
                                                      expected: "two non-negative integers [begin, end]")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw SafeTensorsError.unsupportedDType(file: file, name: name, dtype: dtypeName)
            }
            if shape.contains(where: { $0 < 0 }) {
                throw SafeTensorsError.negativeDimension(file: file, name: name, shape: shape)
            }
            var bytes = dtype.byteSize
            for d in shape {
                let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
                if overflow { throw SafeTensorsError.shapeTooLarge(file: file, name: name, shape: shape) }
                bytes = product
            }
            if begin > end {
                throw SafeTensorsError.offsetsReversed(file: file, name: name, begin: begin, end: end)
            }
            if end > dataLength {
                throw SafeTensorsError.offsetsOutOfRange(file: file, name: name, begin: begin, end: end, dataLength: dataLength)
            }
            if bytes != end - begin {
                throw SafeTensorsError.byteCountMismatch(file: file, name: name, shape: shape, dtype: dtypeName,
                                                         expected: bytes, actual: end - begin)
            }
            entries.append(SafeTensorsEntry(name: name, dtype: dtype, shape: shape, byteRange: begin..<end))
        }
        // Overlaps: sweep the non-empty ranges by start, remembering the furthest end so far.
        let nonEmpty = entries.filter { !$0.byteRange.isEmpty }
            .sorted { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }
        var furthest: SafeTensorsEntry?
        for e in nonEmpty {
            if let f = furthest, e.byteRange.lowerBound < f.byteRange.upperBound {
                throw SafeTensorsError.overlappingRanges(
                    file: file, name: e.name, begin: e.byteRange.lowerBound, end: e.byteRange.upperBound,
                    other: f.name, otherBegin: f.byteRange.lowerBound, otherEnd: f.byteRange.upperBound)
            }
            if furthest == nil || e.byteRange.upperBound > furthest!.byteRange.upperBound { furthest = e }
        }
        return (entries, metadata)
    }
}

/// A read-only private mapping of a whole file, unmapped on deinit.
final class MappedFile {
    let base: UnsafeMutableRawPointer
    let size: Int
    private let mapped: Bool

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // a FIFO must not block the open
        guard fd >= 0 else {
            throw SafeTensorsError.cannotOpen(file: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw SafeTensorsError.cannotOpen(file: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SafeTensorsError.cannotOpen(file: path, reason: "not a regular file")
        }
        size = Int(info.st_size)
        if size == 0 {
            // mmap rejects length 0; a 1-byte placeholder keeps `base` valid.
            base = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 8)
            mapped = false
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
              p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw SafeTensorsError.cannotOpen(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = p
        mapped = true
    }

    deinit {
        if mapped { munmap(base, size) } else { base.deallocate() }
    }
}
