// BLASProfile: what the matrix products of a piece of work cost, for `bench --config`. While a
// profile is installed (`BLAS.profile`), every sgemm adds its shape, FLOPs and wall time; the
// time is weighted by the cores the call can use (Parallel.productThreads at the call: all
// cores for a top-level product, one inside a parallel loop), so
// `coreSeconds / (threads × wall)` is the share of the cores' time spent inside BLAS.
import Foundation
import COpenBLAS

public final class BLASProfile: @unchecked Sendable {
    /// One product shape as called: op(A) m×k times op(B) k×n, and the BLAS threads it ran with.
    public struct Shape: Hashable, Comparable, Sendable {
        public let m, n, k: Int
        public let transA, transB: Bool
        public let threads: Int
        public static func < (a: Shape, b: Shape) -> Bool { (a.m, a.n, a.k, a.threads) < (b.m, b.n, b.k, b.threads) }
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
        public init(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, threads: Int) {
            self.m = m; self.n = n; self.k = k; self.transA = transA; self.transB = transB; self.threads = threads
        }
        public var description: String {
            "\(m)×\(k) · \(k)×\(n)\(transA ? " Aᵀ" : "")\(transB ? " Bᵀ" : "")\(threads == 1 ? " (1 thread)" : "")"
        }
    }

    public struct Entry: Sendable {
        public var calls = 0
        public var flops = 0.0
        public var coreSeconds = 0.0
    }

    private var lock = pthread_mutex_t()
    public private(set) var shapes: [Shape: Entry] = [:]

    public init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }

    public func record(_ shape: Shape, seconds: Double) {
        pthread_mutex_lock(&lock)
        var e = shapes[shape] ?? Entry()
        e.calls += 1
        e.flops += shape.flops
        e.coreSeconds += seconds * Double(shape.threads)
        shapes[shape] = e
        pthread_mutex_unlock(&lock)
    }

    /// Core-seconds spent inside sgemm.
    public var coreSeconds: Double { shapes.values.reduce(0) { $0 + $1.coreSeconds } }
    public var flops: Double { shapes.values.reduce(0) { $0 + $1.flops } }

    /// Forgets everything recorded.
    public func reset() {
        pthread_mutex_lock(&lock)
        shapes.removeAll(keepingCapacity: true)
        pthread_mutex_unlock(&lock)
    }
}

extension BLAS {
    /// The profile sgemm records into, when set (bench only; nil costs one load per call).
    nonisolated(unsafe) public static var profile: BLASProfile?
}
