// SafeTensorsWriter: writes F32 tensors as a .safetensors file (Hugging Face format) with a
// deterministic header (tensors in the order given, metadata keys sorted) padded with spaces
// to an 8-byte aligned data start, as the reference Rust writer does. Writes are atomic:
// temporary file in the same directory, fsync, rename.
import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { Glibc.write(fd, p, n) }
private func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Glibc.open(path, flags, mode) }
#elseif canImport(Darwin)
import Darwin
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { Darwin.write(fd, p, n) }
private func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Darwin.open(path, flags, mode) }
#endif

extension SafeTensors {
    /// One tensor's data for `write(entries:)`: F32 values, or raw bytes written as U8.
    public enum Payload {
        case f32(Tensor)
        case u8(shape: [Int], bytes: UnsafeRawBufferPointer)

        var shape: [Int] {
            switch self {
            case .f32(let t): return t.shape
            case .u8(let shape, _): return shape
            }
        }
        var dtype: DType {
            switch self {
            case .f32: return .f32
            case .u8: return .u8
            }
        }
        var byteCount: Int {
            switch self {
            case .f32(let t): return t.count * 4
            case .u8(_, let b): return b.count
            }
        }
    }

    /// Writes `tensors` (F32, little-endian, in the given order) and `metadata` to `url`.
    /// The file appears whole or not at all: a temporary file in the same directory is
    /// written, synced and renamed over `url`. Throws `SafeTensorsError` naming the file.
    public static func write(_ tensors: [(name: String, tensor: Tensor)],
                             metadata: [String: String] = [:], to url: URL) throws {
        try write(entries: tensors.map { ($0.name, Payload.f32($0.tensor)) }, metadata: metadata, to: url)
    }

    /// Writes F32 and U8 entries in the given order, atomically, as `write(_:metadata:to:)`.
    public static func write(entries: [(name: String, payload: Payload)],
                             metadata: [String: String] = [:], to url: URL) throws {
        let file = url.path
        var seen = Set<String>()
        for (name, payload) in entries {
            if name == metadataKey {
                throw SafeTensorsError.invalidTensorName(file: file, name: name, reason: "\"\(metadataKey)\" is reserved for metadata")
            }
            if !seen.insert(name).inserted {
                throw SafeTensorsError.invalidTensorName(file: file, name: name, reason: "the name is given twice")
            }
            if case .u8(let shape, let bytes) = payload, shape.reduce(1, *) != bytes.count {
                throw SafeTensorsError.invalidTensorName(file: file, name: name, reason: "\(bytes.count) bytes for shape \(shape)")
            }
        }
        let header = headerBytes(entries.map { ($0.name, $0.payload.dtype, $0.payload.shape, $0.payload.byteCount) }, metadata: metadata)
        try writeAtomically(to: url) { fd in
            try header.withUnsafeBytes { try writeAll(fd, $0.baseAddress!, $0.count, file: file) }
            for (_, payload) in entries where payload.byteCount > 0 {
                switch payload {
                case .u8(_, let bytes):
                    try writeAll(fd, bytes.baseAddress!, bytes.count, file: file)
                case .f32(let tensor):
                    #if _endian(little)
                    try writeAll(fd, UnsafeRawPointer(tensor.pointer), tensor.count * 4, file: file)
                    #else
                    let bits = (0..<tensor.count).map { tensor.pointer[$0].bitPattern.littleEndian }
                    try bits.withUnsafeBytes { try writeAll(fd, $0.baseAddress!, $0.count, file: file) }
                    #endif
                }
            }
        }
    }

    /// Writes entries whose bytes arrive one at a time (each from another rank, say): the
    /// header from `layout` (name, dtype, shape), then `body(i, write)` for every entry in
    /// order, which must hand `write` exactly that entry's bytes (in one or more pieces).
    /// Atomic, as `write(entries:)`; throws naming the file when an entry's size is wrong.
    public static func write(layout: [(name: String, dtype: DType, shape: [Int])], metadata: [String: String] = [:], to url: URL,
                             body: (Int, (UnsafeRawPointer, Int) throws -> Void) throws -> Void) throws {
        let file = url.path
        let sizes = layout.map { $0.shape.reduce(1, *) * $0.dtype.byteSize }
        let header = headerBytes(layout.indices.map { (layout[$0].name, layout[$0].dtype, layout[$0].shape, sizes[$0]) }, metadata: metadata)
        try writeAtomically(to: url) { fd in
            try header.withUnsafeBytes { try writeAll(fd, $0.baseAddress!, $0.count, file: file) }
            for i in layout.indices {
                var written = 0
                try body(i) { p, n in
                    try writeAll(fd, p, n, file: file)
                    written += n
                }
                if written != sizes[i] {
                    throw SafeTensorsError.writeFailed(file: file, reason: "\(layout[i].name): \(written) bytes given for \(sizes[i])")
                }
            }
        }
    }

    /// The length field and JSON header for tensors `(name, dtype, shape, byteCount)`, padded
    /// with spaces so that 8 + header length is a multiple of 8.
    static func headerBytes(_ tensors: [(String, DType, [Int], Int)], metadata: [String: String]) -> [UInt8] {
        var json = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(JSONValue.quoted($0)):\(JSONValue.quoted(metadata[$0]!))" }
            parts.append("\(JSONValue.quoted(metadataKey)):{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (name, dtype, shape, bytes) in tensors {
            let end = offset + bytes
            let dims = shape.map(String.init).joined(separator: ",")
            parts.append("\(JSONValue.quoted(name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(dims)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        json += parts.joined(separator: ",") + "}"
        var text = Array(json.utf8)
        while text.count % 8 != 0 { text.append(UInt8(ascii: " ")) }
        var length = UInt64(text.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Array($0) }
        return lengthBytes + text
    }

    /// Writes all `count` bytes at `bytes` to `fd`, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, file: String) throws {
        var done = 0
        while done < count {
            let chunk = min(count - done, 1 << 30)
            let n = posixWrite(fd, bytes + done, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError.writeFailed(file: file, reason: "write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Runs `body` on a new temporary file beside `url`, then fsyncs it and renames it over
    /// `url` (and fsyncs the directory). On any failure the temporary file is removed.
    static func writeAtomically(to url: URL, _ body: (Int32) throws -> Void) throws {
        let file = url.path
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = posixOpen(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SafeTensorsError.writeFailed(file: file, reason: "cannot create a temporary file in \(directory): \(String(cString: strerror(errno)))")
        }
        var isOpen = true
        do {
            try body(fd)
            guard fsync(fd) == 0 else {
                throw SafeTensorsError.writeFailed(file: file, reason: "fsync: \(String(cString: strerror(errno)))")
            }
            isOpen = false
            guard close(fd) == 0 else {
                throw SafeTensorsError.writeFailed(file: file, reason: "close: \(String(cString: strerror(errno)))")
            }
            guard rename(temporary, file) == 0 else {
                throw SafeTensorsError.writeFailed(file: file, reason: "rename into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            if isOpen { close(fd) }
            unlink(temporary)
            throw error
        }
        // Make the rename itself durable; some file systems refuse fsync on a directory,
        // which leaves the (already complete) file in place, so that failure is ignored.
        let dirFD = posixOpen(directory, O_RDONLY | O_CLOEXEC, 0)
        if dirFD >= 0 { _ = fsync(dirFD); close(dirFD) }
    }
}
