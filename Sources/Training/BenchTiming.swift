// Timing core of `swift-train bench` and its sgemm figure: every measurement is one
// untimed warm-up, then repetitions until a time budget is spent (within a minimum and a
// maximum count), reported as the median wall time (monotonic clock).
import Foundation
import Tensors

/// How long each measurement of the benchmark runs.
public struct BenchSettings: Sendable, Equatable {
    /// Untimed calls before the timed ones (page faults, pool fills, thread wake-up).
    public var warmups: Int
    /// Timed repetitions always taken.
    public var minRepetitions: Int
    /// Timed repetitions never exceeded.
    public var maxRepetitions: Int
    /// Once `minRepetitions` are done, stop when the timed calls have used this many seconds.
    public var budgetSeconds: Double

    public init(warmups: Int, minRepetitions: Int, maxRepetitions: Int, budgetSeconds: Double) {
        self.warmups = warmups
        self.minRepetitions = max(1, minRepetitions)
        self.maxRepetitions = max(self.minRepetitions, maxRepetitions)
        self.budgetSeconds = budgetSeconds
    }

    /// The default: 1 warm-up, 5–31 repetitions, 1.5 s per measurement.
    public static let full = BenchSettings(warmups: 1, minRepetitions: 5, maxRepetitions: 31, budgetSeconds: 1.5)
    /// For tests and smoke runs: 1 warm-up, 2–3 repetitions (noisier figures).
    public static let quick = BenchSettings(warmups: 1, minRepetitions: 2, maxRepetitions: 3, budgetSeconds: 0.1)
}

public enum BenchClock {
    /// Monotonic time in seconds.
    @inlinable public static func now() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
    }

    /// Seconds taken by `body`.
    @inlinable public static func time(_ body: () -> Void) -> Double {
        let t0 = now()
        body()
        return now() - t0
    }

    /// Median of `sample` (mean of the two middle values for an even count); NaN if empty.
    public static func median(_ sample: [Double]) -> Double {
        guard !sample.isEmpty else { return .nan }
        let s = sample.sorted(), m = s.count / 2
        return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
    }

    /// Runs `repetition` (which returns the seconds of the part it times, so it may do
    /// untimed set-up) `settings.warmups` times untimed, then repeatedly, and returns the
    /// median of the timed seconds.
    public static func median(_ settings: BenchSettings, _ repetition: () -> Double) -> Double {
        samples(settings, repetition).median
    }

    /// The timed seconds of every repetition, after the warm-ups.
    public static func samples(_ settings: BenchSettings, _ repetition: () -> Double) -> [Double] {
        for _ in 0..<settings.warmups { _ = repetition() }
        var sample: [Double] = []
        var spent = 0.0
        while sample.count < settings.maxRepetitions {
            let t = repetition()
            sample.append(t)
            spent += t
            if sample.count >= settings.minRepetitions && spent >= settings.budgetSeconds { break }
        }
        return sample
    }
}

extension Array where Element == Double {
    /// Median of the values (NaN if empty).
    public var median: Double { BenchClock.median(self) }
}

/// Square single-precision matrix products as OpenBLAS runs them on its own threads (what a C
/// program calling cblas_sgemm gets): the reference rate a training step is compared with.
public enum SgemmBenchmark {
    /// The sizes the bench reports.
    public static let standardSizes = [512, 1024, 2048]

    /// One size's figure.
    public struct Figure: Sendable {
        public let size: Int
        /// Median seconds of one C[n×n] = A[n×n]·B[n×n].
        public let seconds: Double
        /// 2·n³ floating-point operations per product (one multiply and one add per term).
        public var flops: Double { 2 * Double(size) * Double(size) * Double(size) }
        public var gflops: Double { flops / seconds / 1e9 }
    }

    /// Times C = A·B (row-major, no transposes, beta 0) for each size: random A and B,
    /// one warm-up product, then the median of the repetitions `settings` allows.
    public static func run(sizes: [Int] = standardSizes, settings: BenchSettings) -> [Figure] {
        sizes.map { n in Figure(size: n, seconds: samples(size: n, settings: settings).median) }
    }

    /// The timed repetitions behind `run`'s median for one size (seconds each).
    public static func samples(size n: Int, settings: BenchSettings) -> [Double] {
        var rng = RandomGenerator(seed: 0x5E33).derived(stream: UInt64(n))
        let a = Tensor.randn([n, n], rng: &rng), b = Tensor.randn([n, n], rng: &rng)
        let c = Tensor.zeros([n, n])
        return Parallel.withOpenBLASThreads {
            BenchClock.samples(settings) {
                BenchClock.time {
                    BLAS.sgemm(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
                }
            }
        }
    }
}
