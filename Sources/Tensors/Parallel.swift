// Parallel: the one thread setting of the process, applied both to OpenBLAS and to the
// project's own loops so the two never oversubscribe the cores, and the loop helpers that
// split row ranges over those threads.
import COpenBLAS
import Dispatch
import Foundation

/// A raw pointer that may cross into `concurrentPerform` closures. Each worker writes a
/// disjoint range, which is what makes this sound.
public struct SendablePointer<T>: @unchecked Sendable {
    public let p: UnsafeMutablePointer<T>
    @inlinable public init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

public enum Parallel {
    nonisolated(unsafe) private static var _threads: Int = {
        let n = ProcessInfo.processInfo.activeProcessorCount
        openblas_set_num_threads(Int32(n))
        return n
    }()

    /// Threads used by OpenBLAS and by the project's parallel loops.
    public static var threads: Int { _threads }

    /// Sets the thread count for both OpenBLAS and the project's loops (0 = all cores).
    public static func setThreads(_ n: Int) {
        let value = n > 0 ? n : ProcessInfo.processInfo.activeProcessorCount
        _threads = value
        openblas_set_num_threads(Int32(value))
    }

    /// Runs `body` with OpenBLAS on one thread (for many small products that the caller
    /// itself spreads over the cores), restoring the setting afterwards.
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        if _threads > 1 { openblas_set_num_threads(1) }
        defer { if _threads > 1 { openblas_set_num_threads(Int32(_threads)) } }
        return try body()
    }

    /// Splits 0..<count into at most `threads` contiguous ranges of at least `grain` items
    /// and runs `body` on each, in parallel when there is more than one. The split never
    /// changes what is computed for an item, only which thread computes it.
    @inlinable
    public static func forRanges(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        forIndexedRanges(count, grain: grain) { _, r in body(r) }
    }

    /// How many ranges `forRanges` and `forIndexedRanges` cut `count` items into.
    @inlinable
    public static func partCount(_ count: Int, grain: Int = 1) -> Int {
        count > 0 ? min(threads, max(1, count / max(grain, 1))) : 0
    }

    /// `forRanges` that also passes each range's index in 0..<partCount(count, grain), for
    /// loops that leave one result per range (a reduction's partial sums).
    @inlinable
    public static func forIndexedRanges(_ count: Int, grain: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        let parts = partCount(count, grain: grain)
        guard parts > 0 else { return }
        if parts == 1 { body(0, 0..<count); return }
        withoutActuallyEscaping(body) { body in
            let box = UnsafeSendableBox(body)
            DispatchQueue.concurrentPerform(iterations: parts) { i in
                let lo = count * i / parts, hi = count * (i + 1) / parts
                box.value(i, lo..<hi)
            }
        }
    }

    /// Runs `body(i)` for i in 0..<count spread over the threads (items handed out in
    /// contiguous blocks). For coarse items such as attention heads.
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        forRanges(count, grain: 1) { r in for i in r { body(i) } }
    }
}

/// Wraps a non-Sendable value for use inside `concurrentPerform`.
public struct UnsafeSendableBox<T>: @unchecked Sendable {
    public let value: T
    @inlinable public init(_ value: T) { self.value = value }
}
