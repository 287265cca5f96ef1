// AtomicFile: writes a file or a folder under a temporary name, syncs it, and renames it into
// place, so a crash or a kill while saving never leaves a half-written file behind a good one.
import Foundation

public enum AtomicFile {
    /// Writes `data` to `url` atomically (temporary file in the same folder, fsync, rename).
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw ConfigError("\(dir.path): cannot write \(url.lastPathComponent) here; check that the folder exists and is writable")
        }
        do {
            let h = try FileHandle(forWritingTo: tmp)
            h.write(data)
            fsync(h.fileDescriptor)
            try h.close()
            if rename(tmp.path, url.path) != 0 {
                throw ConfigError("\(url.path): cannot rename the finished file into place (\(String(cString: strerror(errno))))")
            }
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }

    /// Syncs a folder's entry list to disk (after a rename inside it).
    public static func syncFolder(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
