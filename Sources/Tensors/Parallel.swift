// Parallel: the one thread setting of the process and the loop helpers that split row ranges
// over those threads (WorkerPool). Matrix products are split over the same threads by
// BLAS.sgemm, with OpenBLAS itself on one thread, so the two never oversubscribe the cores.
import COpenBLAS
import Foundation
import Synchronization

/// A raw pointer handed to the pieces of a parallel loop. Each piece writes a disjoint
/// range, which is what makes this sound.
public struct SendablePointer<T>: @unchecked Sendable {
    public let p: UnsafeMutablePointer<T>
    @inlinable public init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

public enum Parallel {
    nonisolated(unsafe) private static var _threads: Int = {
        let n = ProcessInfo.processInfo.activeProcessorCount
        // OpenBLAS stays on one thread: BLAS.sgemm splits a large product over this
        // project's threads itself, so OpenBLAS's workers and ours never share the cores.
        openblas_set_num_threads(1)
        pool.ensureWorkers(n - 1)
        return n
    }()

    /// The threads that run the loops' pieces besides the caller.
    @usableFromInline static let pool = WorkerPool()

    /// Depth of `withSingleThreadedBLAS` / `withOpenBLASThreads` scopes: inside them a
    /// matrix product is not split over the threads.
    private static let wholeProducts = Atomic<Int>(0)
    /// Depth of `withOpenBLASThreads` scopes: inside them a product is one OpenBLAS call.
    private static let openBLASScopes = Atomic<Int>(0)

    /// Whether products run as single OpenBLAS calls on OpenBLAS's own threads here.
    public static var inOpenBLASThreads: Bool { openBLASScopes.load(ordering: .relaxed) > 0 }

    /// Threads used by the project's parallel loops and split matrix products.
    public static var threads: Int { _threads }

    /// Sets the thread count of the loops and products (0 = all cores).
    public static func setThreads(_ n: Int) {
        let value = n > 0 ? n : ProcessInfo.processInfo.activeProcessorCount
        _threads = value
        pool.ensureWorkers(value - 1)
    }

    /// Threads a matrix product started here may use: all of them at top level; one inside
    /// a parallel loop's body (the other threads are busy with the loop) or inside
    /// `withSingleThreadedBLAS`.
    public static var productThreads: Int {
        _threads > 1 && wholeProducts.load(ordering: .relaxed) == 0 && !pool.isBusy ? _threads : 1
    }

    /// Runs `body` with every matrix product on the calling thread alone, as it would run inside
    /// a parallel loop (bench times such products this way).
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        wholeProducts.add(1, ordering: .relaxed)
        defer { wholeProducts.subtract(1, ordering: .relaxed) }
        return try body()
    }

    /// Runs `body` with OpenBLAS threading its own routines over `productThreads` threads
    /// (LAPACK's factorisations, the reference sgemm rate: each product one OpenBLAS call, as
    /// a C program makes it), then back to one thread.
    public static func withOpenBLASThreads<R>(_ body: () throws -> R) rethrows -> R {
        let n = productThreads
        return try withSingleThreadedBLAS {
            openBLASScopes.add(1, ordering: .relaxed)
            if n > 1 { openblas_set_num_threads(Int32(n)) }
            defer {
                if n > 1 { openblas_set_num_threads(1) }
                openBLASScopes.subtract(1, ordering: .relaxed)
            }
            return try body()
        }
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
        pool.run(parts: parts) { i in
            body(i, count * i / parts..<count * (i + 1) / parts)
        }
    }

    /// Runs `body(i)` for i in 0..<count spread over the threads (items handed out in
    /// contiguous blocks). For coarse items such as attention heads.
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        forRanges(count, grain: 1) { r in for i in r { body(i) } }
    }
}
