// AtomicFile: writes a file so that readers see either the old file or the complete new one:
// the bytes go to a temporary name in the same folder, are fsync'ed, then rename(2)d into place.
// A failure removes the temporary file, so nothing half-written is left behind.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum AtomicFile {
    /// A fully written and fsync'ed temporary file waiting to be renamed onto `path`.
    /// Several can be prepared and then committed together; `discard` deletes it.
    final class Pending {
        let path: String
        private let temporary: String
        private var done = false

        fileprivate init(path: String, temporary: String) {
            self.path = path
            self.temporary = temporary
        }

        /// Renames the temporary file into place and syncs the folder.
        func commit() throws {
            guard !done else { return }
            guard rename(temporary, path) == 0 else {
                let code = errno
                discard()
                throw failure(path, "cannot rename the finished file into place", code)
            }
            done = true
            AtomicFile.syncFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path)
        }

        /// Deletes the temporary file (no effect after commit).
        func discard() {
            guard !done else { return }
            unlink(temporary)
            done = true
        }

        deinit { discard() }
    }

    /// Syncs a folder's entry list to disk, so a rename inside it survives a crash.
    public static func syncFolder(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        try prepare(data, for: path).commit()
    }

    /// Writes to `path` atomically; `produce` is handed a sink to call with consecutive chunks.
    static func write(to path: String, produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try prepare(for: path, produce: produce).commit()
    }

    /// Writes `data` to a temporary file next to `path` without renaming it yet.
    static func prepare(_ data: Data, for path: String) throws -> Pending {
        try prepare(for: path) { sink in try data.withUnsafeBytes { try sink($0) } }
    }

    /// Writes a temporary file next to `path` from the chunks `produce` emits, fsyncs it, and
    /// returns it uncommitted.
    static func prepare(for path: String, produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> Pending {
        let path = try regularTarget(path)
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(path, "cannot create a file in '\(directory)'", errno) }
        let pending = Pending(path: path, temporary: temporary)
        var isOpen = true
        defer { if isOpen { close(fd) } }
        do {
            try produce { chunk in
                guard var base = chunk.baseAddress else { return }
                var left = chunk.count
                while left > 0 {
                    let written = posixWrite(fd, base, left)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw failure(path, "write failed", errno)
                    }
                    base += written
                    left -= written
                }
            }
            guard fsync(fd) == 0 else { throw failure(path, "fsync failed", errno) }
            isOpen = false
            guard close(fd) == 0 else { throw failure(path, "close failed", errno) }
        } catch {
            pending.discard()
            throw error
        }
        return pending
    }
}

/// The file a write to `path` replaces: `path` itself, or the file a symbolic link there
/// points to (the link stays); refuses a folder, device or FIFO, which a rename would replace.
private func regularTarget(_ path: String) throws -> String {
    var st = stat()
    guard lstat(path, &st) == 0 else { return path }  // nothing there yet
    var target = path
    if st.st_mode & S_IFMT == S_IFLNK {
        guard let real = realpath(path, nil) else {
            throw TextDataError.output(path: path, problem: "is a symbolic link to a missing file; give a file path to write")
        }
        target = String(cString: real)
        free(real)
        guard stat(target, &st) == 0 else { return target }
    }
    guard st.st_mode & S_IFMT == S_IFREG else {
        throw TextDataError.output(path: path, problem: "exists and is not a regular file (a folder, device or FIFO); give the path of a file to write")
    }
    return target
}

private func failure(_ path: String, _ what: String, _ code: Int32) -> TextDataError {
    .output(path: path, problem: "\(what): \(String(cString: strerror(code))); check that the folder exists, is writable and has free space")
}

private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, buffer, count)
    #else
    return Darwin.write(fd, buffer, count)
    #endif
}
