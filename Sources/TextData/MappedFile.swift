// MappedFile: a read-only mmap(2) of a whole file, so token shards and input text are read
// in place without copying. The mapping lives as long as the object.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file mapped read-only into memory. A zero-length file maps to an empty buffer.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// The file's bytes (valid while this object is alive).
    public let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer?

    /// Maps `path`; failures become the error `makeError(problem)` returns.
    public init(path: String, makeError: (String) -> Error) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // a FIFO must not block the open
        guard fd >= 0 else {
            let code = errno
            throw makeError(code == ENOENT ? "no such file" : "cannot open: \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw makeError("cannot stat: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw makeError("is not a regular file") }
        let size = Int(info.st_size)
        if size == 0 {
            mapping = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw makeError("cannot map into memory: \(String(cString: strerror(errno)))")
        }
        mapping = base
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let mapping { munmap(mapping, bytes.count) }
    }

    /// Maps a text input file; errors are `TextDataError.input` naming the file.
    static func readText(path: String) throws -> MappedFile {
        try MappedFile(path: path) { TextDataError.input(path: path, problem: $0) }
    }
}
