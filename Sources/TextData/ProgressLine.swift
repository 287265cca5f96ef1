// ProgressLine: progress of a long job on stderr. On a terminal one line is redrawn in place
// ("\r"); otherwise (a log file, a pipe) a plain line is printed at each quarter, so logs
// stay short. Thread-safe: workers report finished amounts from any thread.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reports `done / total` of a job on stderr.
public final class ProgressLine: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let interactive: Bool
    private let start = Date()
    private let lock = NSLock()
    private var done = 0
    private var nextQuarter = 1
    private var lastDraw = Date.distantPast

    /// `interactive` defaults to whether stderr is a terminal.
    public init(label: String, total: Int, interactive: Bool = isatty(STDERR_FILENO) != 0) {
        self.label = label
        self.total = max(total, 1)
        self.interactive = interactive
    }

    /// Adds `amount` finished units (bytes) and redraws when due.
    public func advance(by amount: Int) {
        lock.lock()
        defer { lock.unlock() }
        done += amount
        let fraction = Double(done) / Double(total)
        if interactive {
            let now = Date()
            guard now.timeIntervalSince(lastDraw) >= 0.1 || done >= total else { return }
            lastDraw = now
            write("\r\(line(fraction: fraction))\u{1B}[K")
        } else {
            while nextQuarter <= 4 && fraction >= Double(nextQuarter) / 4 {
                write(line(fraction: Double(nextQuarter) / 4) + "\n")
                nextQuarter += 1
            }
        }
    }

    /// Ends the in-place line (terminal only).
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        if interactive { write("\r\(line(fraction: Double(done) / Double(total)))\u{1B}[K\n") }
    }

    private func line(fraction: Double) -> String {
        let seconds = max(Date().timeIntervalSince(start), 1e-9)
        let megabytes = Double(done) / 1e6
        return label + String(format: " %5.1f%%  %.1f MB  %.1f MB/s", 100 * min(fraction, 1), megabytes, megabytes / seconds)
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
