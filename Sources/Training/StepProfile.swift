// StepProfile: where a benchmarked training step's time goes relative to BLAS. During the
// timed steps every sgemm is recorded (BLASProfile: shape, FLOPs, core-seconds); afterwards
// each distinct product shape is timed alone at the BLAS thread count it ran with, giving the
// real ceiling of this model's products (their FLOP-weighted rate) and the share of the
// cores' time the step spends outside BLAS (elementwise passes, attention, which multiplies
// with its own register tiles, the optimizer, gaps).
import Foundation
import Tensors

public struct StepProfile: Sendable {
    public struct ShapeFigure: Sendable {
        public let shape: BLASProfile.Shape
        /// Calls per step.
        public let calls: Double
        /// FLOPs per step of this shape.
        public let flops: Double
        /// GFLOP/s of this product alone (fresh buffers, same BLAS threads).
        public let gflops: Double
        /// GFLOP/s of this product inside the timed steps (its wall time there, per call).
        public let inStepGflops: Double
    }

    /// Shapes by FLOPs per step, largest first.
    public let shapes: [ShapeFigure]
    /// Share of the cores' time (threads × step time) spent outside sgemm.
    public let outsideBLASShare: Double
    /// sgemm FLOPs per step (what the products really compute).
    public let blasFlops: Double

    /// The step's products at their isolated rates: total FLOPs / Σ (FLOPs / rate), where a
    /// product run on one BLAS thread inside a parallel loop counts at its rate × `threads`
    /// (one such product per core at a time).
    public var ceilingGflops: Double {
        let seconds = shapes.reduce(0.0) { sum, f in
            let parallel = f.shape.threads == 1 ? Double(max(threads, 1)) : 1
            return sum + f.flops / (f.gflops * parallel * 1e9)
        }
        return seconds > 0 ? blasFlops / seconds / 1e9 : 0
    }
    /// Threads of the run (Parallel.threads).
    public let threads: Int

    /// Summarises `profile`, recorded over `steps` steps that took `seconds` in all at
    /// `threads` threads, timing each shape alone within `budget` seconds.
    public static func make(_ profile: BLASProfile, steps: Int, seconds: Double, threads: Int,
                            budget: Double = 0.05) -> StepProfile {
        let n = Double(max(steps, 1))
        let figures = profile.shapes.map { shape, entry in
            ShapeFigure(shape: shape, calls: Double(entry.calls) / n, flops: entry.flops / n,
                        gflops: isolatedGflops(shape, budget: budget),
                        inStepGflops: entry.flops / max(entry.coreSeconds / Double(shape.threads), 1e-12) / 1e9)
        }.sorted { $0.flops > $1.flops }
        let outside = 1 - profile.coreSeconds / max(seconds * Double(threads), 1e-12)
        return StepProfile(shapes: figures, outsideBLASShare: max(0, outside), blasFlops: profile.flops / n, threads: threads)
    }

    /// GFLOP/s of one product of `shape` on fresh random buffers: one warm-up, then the
    /// median of repetitions within `budget` seconds (at least 3).
    static func isolatedGflops(_ s: BLASProfile.Shape, budget: Double) -> Double {
        var rng = RandomGenerator(seed: 0x5A9E)
        let a = Tensor.randn([s.m * s.k], rng: &rng), b = Tensor.randn([s.k * s.n], rng: &rng)
        let c = Tensor.zeros([s.m * s.n])
        let lda = s.transA ? s.m : s.k, ldb = s.transB ? s.k : s.n
        func once() -> Double {
            BenchClock.time {
                BLAS.sgemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k,
                           a: a.pointer, lda: lda, b: b.pointer, ldb: ldb, c: c.pointer, ldc: s.n)
            }
        }
        func timed() -> Double {
            _ = once()
            var times: [Double] = []
            let start = BenchClock.now()
            while times.count < 3 || (BenchClock.now() - start < budget && times.count < 1000) { times.append(once()) }
            return times.sorted()[times.count / 2]
        }
        let saved = BLAS.profile
        BLAS.profile = nil
        defer { BLAS.profile = saved }
        let seconds = s.threads == 1 && Parallel.threads > 1 ? Parallel.withSingleThreadedBLAS(timed) : timed()
        return s.flops / max(seconds, 1e-12) / 1e9
    }
}
