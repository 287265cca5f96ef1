// MemoryAccount: where a training step's memory goes, from the buffer pool's own tallies at
// the step's peak of live bytes — parameters, parameter gradients, activations (tape-saved
// and temporary tensors of forward and backward), optimizer work (update directions and
// the rules' temporaries), and "pool free": what else the pool held at its most during the
// step (buffers free for reuse and kept for the next step, and any it added after the live
// peak, such as an update's scratch of a size nothing had freed) — plus the optimizer state
// (its own buffers) and the process's resident memory. Written to metrics.jsonl and shown
// as a table at the end of `train`, with what the sum leaves unexplained of the peak RSS
// (the program, its libraries, OpenBLAS's work buffers, the tokenizer, mapped data pages).
import Foundation
import Tensors

public struct MemoryAccount: Sendable, Equatable {
    public var parameterBytes = 0
    public var gradientBytes = 0
    public var activationBytes = 0
    public var optimizerWorkBytes = 0
    public var poolFreeBytes = 0
    public var optimizerStateBytes = 0
    /// Resident memory of the process after the step, and its peak so far.
    public var residentBytes = 0
    public var peakResidentBytes = 0

    public init() {}

    /// The account of a step whose pool peak was `snapshot`, with the optimizer's state bytes.
    public init(snapshot s: PoolSnapshot, optimizerStateBytes: Int, residentBytes: Int, peakResidentBytes: Int) {
        parameterBytes = s[.parameter]
        gradientBytes = s[.gradient]
        activationBytes = s[.activation]
        optimizerWorkBytes = s[.optimizerWork]
        poolFreeBytes = s.peakHeld - s.liveTotal
        self.optimizerStateBytes = optimizerStateBytes
        self.residentBytes = residentBytes
        self.peakResidentBytes = peakResidentBytes
    }

    /// Everything the account names: the pool's bytes at the peak plus the optimizer state.
    public var accountedBytes: Int {
        parameterBytes + gradientBytes + activationBytes + optimizerWorkBytes + poolFreeBytes + optimizerStateBytes
    }

    /// Fields for a metrics.jsonl line.
    public var metricFields: [(String, MetricValue)] {
        [("mem_parameters_bytes", .int(parameterBytes)), ("mem_gradients_bytes", .int(gradientBytes)),
         ("mem_activations_bytes", .int(activationBytes)), ("mem_optimizer_work_bytes", .int(optimizerWorkBytes)),
         ("mem_pool_free_bytes", .int(poolFreeBytes)), ("mem_accounted_bytes", .int(accountedBytes)),
         ("rss_bytes", .int(residentBytes)), ("peak_rss_bytes", .int(peakResidentBytes))]
    }

    static func mib(_ bytes: Int) -> String { String(format: "%9.1f", Double(bytes) / 1_048_576) }

    /// A small table (MiB) for the closing summary.
    public var table: String {
        let rows: [(String, Int)] = [("parameters", parameterBytes), ("gradients", gradientBytes),
                                     ("optimizer state", optimizerStateBytes), ("activations", activationBytes),
                                     ("optimizer work", optimizerWorkBytes), ("pool free", poolFreeBytes)]
        var lines = ["  memory at the largest step peak (MiB):"]
        for (name, bytes) in rows { lines.append("    \(name.padding(toLength: 18, withPad: " ", startingAt: 0))\(Self.mib(bytes))") }
        lines.append("    \("sum".padding(toLength: 18, withPad: " ", startingAt: 0))\(Self.mib(accountedBytes))")
        lines.append("    \("peak RSS".padding(toLength: 18, withPad: " ", startingAt: 0))\(Self.mib(peakResidentBytes))")
        lines.append("    \("not in the sum".padding(toLength: 18, withPad: " ", startingAt: 0))\(Self.mib(peakResidentBytes - accountedBytes))  (program, libraries, OpenBLAS buffers, tokenizer, mapped data)")
        return lines.joined(separator: "\n")
    }
}
