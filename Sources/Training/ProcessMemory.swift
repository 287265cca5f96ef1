// ProcessMemory: the process's resident memory now (VmRSS) and its high-water mark (VmHWM),
// read from /proc/self/status (Linux). Figures are what the kernel counts, not estimates.
import Foundation

public enum ProcessMemory {
    /// Resident set size in bytes, or 0 where /proc is unavailable.
    public static var residentBytes: Int { field("VmRSS:") }
    /// Peak resident set size in bytes since the process started.
    public static var peakResidentBytes: Int { field("VmHWM:") }

    static func field(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let digits = line.dropFirst(name.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first
            return (digits.flatMap { Int($0) } ?? 0) * 1024   // the kernel reports kB
        }
        return 0
    }
}
