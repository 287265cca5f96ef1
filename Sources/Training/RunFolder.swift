// RunFolder: the guards around a run's output folder — a new run never writes into a folder
// that already holds a run (metrics.jsonl or checkpoints) unless told to overwrite it, and
// two processes never write one folder at once (an exclusive lock on OUT/.lock that names
// its holder's PID; the kernel releases it when the holder exits, however it exits).
import Foundation

public final class RunFolder {
    public let url: URL
    private let lockFD: Int32

    /// Takes the folder for a run: creates it, locks it, and for a new run (`resuming`
    /// false) refuses one that holds a run unless `overwrite`, in which case the old run's
    /// metrics, summary and checkpoints are removed first.
    public init(_ url: URL, resuming: Bool, overwrite: Bool) throws {
        self.url = url
        let fm = FileManager.default
        do { try fm.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            // Say which part of the path is in the way (Foundation's message names no file).
            var reason = error.localizedDescription, part = url.standardizedFileURL
            while part.path != "/" {
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: part.path, isDirectory: &isDir) {
                    if !isDir.boolValue { reason = "\(part.path) is a file, not a folder" }
                    else if !fm.isWritableFile(atPath: part.path) { reason = "\(part.path) is not writable" }
                    break
                }
                part = part.deletingLastPathComponent()
            }
            throw ConfigError("out folder \(url.path) cannot be created (\(reason)); choose another with --out")
        }
        let lockPath = url.appendingPathComponent(".lock").path
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ConfigError("out folder \(url.path) is not writable (cannot create \(lockPath)); choose another with --out")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, 32, 0)
            close(fd)
            let holder = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw ConfigError("out folder \(url.path) is in use by another swift-train process (PID \(holder.isEmpty ? "unknown" : holder)); wait for it to finish or choose another --out")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        lockFD = fd
        if !resuming {
            // What marks a run: logged metrics, a checkpoint, a closing summary.
            func size(_ name: String) -> Int {
                ((try? fm.attributesOfItem(atPath: url.appendingPathComponent(name).path)[.size]) as? Int) ?? 0
            }
            var held: [String] = []
            if size("metrics.jsonl") > 0 { held.append("metrics.jsonl") }
            if !Checkpoint.list(in: url.appendingPathComponent("checkpoints")).isEmpty { held.append("checkpoints") }
            if fm.fileExists(atPath: url.appendingPathComponent("summary.json").path) { held.append("summary.json") }
            if !held.isEmpty && !overwrite {
                close(fd)
                throw ConfigError("out folder \(url.path) already holds a run (\(held.joined(separator: ", "))); continue it with --resume \(url.path), start over in it with --overwrite (its metrics and checkpoints are deleted), or choose another --out")
            }
            if overwrite {
                for name in ["metrics.jsonl", "checkpoints", "summary.json"] { try? fm.removeItem(at: url.appendingPathComponent(name)) }
            }
        }
    }

    deinit { close(lockFD) }
}
