// Per-op figures of `swift-train bench` at LLaMA-small sizes (B 8, T 256, d 256, H 8,
// head_dim 32, I 688, V 4096; N = B·T rows): forward and forward+backward wall time of each
// core op through the tape, with GFLOP/s for the matmul ops and GB/s for the memory-bound ones.
import Foundation
import Tensors

/// The activation sizes the op benchmark runs at.
public struct OpBenchShape: Sendable, Equatable {
    public var batch: Int, seqLen: Int, hidden: Int, heads: Int, intermediate: Int, vocab: Int

    public init(batch: Int, seqLen: Int, hidden: Int, heads: Int, intermediate: Int, vocab: Int) {
        self.batch = batch; self.seqLen = seqLen; self.hidden = hidden
        self.heads = heads; self.intermediate = intermediate; self.vocab = vocab
    }

    /// configs/llama-small.json at batch 8 × 256 tokens.
    public static let llamaSmall = OpBenchShape(batch: 8, seqLen: 256, hidden: 256, heads: 8,
                                                intermediate: 688, vocab: 4096)
    /// N = B·T, the rows of every activation.
    public var rows: Int { batch * seqLen }
    public var headDim: Int { hidden / heads }
}

/// One op's measurement. Times are medians over repetitions, in seconds.
public struct OpFigure: Sendable {
    /// Short name, e.g. "linear" (the JSON key).
    public let name: String
    /// What was run, e.g. "x[2048,256]·W[688,256]ᵀ".
    public let shape: String
    /// Forward with the tape recording (as in training: it saves what backward needs).
    public let forwardSeconds: Double
    /// Forward with the tape recording plus `tape.backward(from: out, seed:)`, minus
    /// `seedSeconds` (so only the op's own work remains).
    public let forwardBackwardSeconds: Double
    /// What `backward(from:seed:)` spends before the op's closure runs: allocating the
    /// output's zeroed gradient and adding the seed into it, timed alone on an empty tape.
    public let seedSeconds: Double
    /// Matmul FLOPs of forward and of forward+backward (matmul ops only).
    public let forwardFlops: Double?, forwardBackwardFlops: Double?
    /// Nominal bytes read + written by forward and by forward+backward (memory-bound ops only).
    public let forwardBytes: Double?, forwardBackwardBytes: Double?

    /// Backward alone: forward+backward minus forward.
    public var backwardOnlySeconds: Double { forwardBackwardSeconds - forwardSeconds }
    public var gflops: Double? { forwardBackwardFlops.map { $0 / forwardBackwardSeconds / 1e9 } }
    public var forwardGflops: Double? { forwardFlops.map { $0 / forwardSeconds / 1e9 } }
    public var gbps: Double? { forwardBackwardBytes.map { $0 / forwardBackwardSeconds / 1e9 } }
    public var forwardGbps: Double? { forwardBytes.map { $0 / forwardSeconds / 1e9 } }
}

/// Times the core ops one by one on random inputs.
///
/// FLOPs count the matrix products only:
/// - linear x[N,in]·W[out,in]ᵀ: 2·N·in·out forward; backward adds dX and dW (same size
///   each), so forward+backward is 3× that.
/// - attention: forward is two products per (sequence, head), S = Q·Kᵀ and O = P·V, each
///   counted over the causal half the kernel computes (keys t' ≤ t): 2·B·H·hd·T(T+1)/2;
///   backward has four (dV = Pᵀ·dO, dP = dO·Vᵀ, dQ = dS·K, dK = dSᵀ·Q), and its recompute of
///   S is not counted. The same count as `bench --config` (StepBenchmark.flops).
///
/// Bytes are the nominal traffic: every tensor a pass must read or write counted once per
/// pass (forward, then backward), 4 bytes per float; vectors of length d (norm weights),
/// rotary tables and per-block scratch are left out, and the implementation's re-reads,
/// cache hits and buffer reuse are ignored. Counts per op are given beside each case below.
///
/// Inputs that are activations get a fresh gradient each repetition (their `grad` is reset
/// to nil, as for intermediates in a training step); weights keep and accumulate theirs, as
/// parameters do between `zeroGrad` calls.
public enum OpBenchmark {
    /// The op names in report order.
    public static let names = ["linear", "attention", "rmsnorm", "swiglu", "silu", "rotary",
                               "embedding", "cross_entropy", "add", "mul"]

    /// Measures every op of `names`, in that order, at shape `s`.
    public static func run(shape s: OpBenchShape = .llamaSmall, settings: BenchSettings) -> [OpFigure] {
        cases(s).map { measure($0, settings: settings) }
    }

    /// One op to time: its forward on fixed inputs, the seed for its output, and its counts.
    struct Case {
        let name: String
        let shape: String
        /// Inputs whose gradient is reset before each repetition.
        let activations: [Tensor]
        let seed: Tensor
        let forward: () -> Tensor
        var forwardFlops: Double? = nil, forwardBackwardFlops: Double? = nil
        var forwardBytes: Double? = nil, forwardBackwardBytes: Double? = nil
    }

    static func cases(_ s: OpBenchShape) -> [Case] {
        var rng = RandomGenerator(seed: 0xBE7C)
        let n = s.rows, d = s.hidden, i = s.intermediate, v = s.vocab
        let N = Double(n), D = Double(d), I = Double(i), V = Double(v), F = 4.0  // F: bytes per float
        func act(_ shape: [Int], std: Float = 1) -> Tensor {
            Tensor.randn(shape, std: std, rng: &rng, requiresGrad: true)
        }
        func seed(_ shape: [Int]) -> Tensor { Tensor.randn(shape, rng: &rng) }
        var list: [Case] = []

        let lx = act([n, d]), lw = act([i, d], std: 0.02)
        list.append(Case(name: "linear", shape: "x[\(n),\(d)]·W[\(i),\(d)]ᵀ", activations: [lx], seed: seed([n, i]),
                         forward: { linear(lx, lw) },
                         forwardFlops: 2 * N * D * I, forwardBackwardFlops: 6 * N * D * I))

        let q = act([n, d]), k = act([n, d]), vv = act([n, d])
        let attnProduct = Double(s.batch * s.heads) * Double(s.seqLen * (s.seqLen + 1)) * Double(s.headDim)  // causal half
        list.append(Case(name: "attention", shape: "q,k,v[\(n),\(d)] B\(s.batch) T\(s.seqLen) H\(s.heads) hd\(s.headDim)",
                         activations: [q, k, vv], seed: seed([n, d]),
                         forward: { causalAttention(q: q, k: k, v: vv, batch: s.batch, seqLen: s.seqLen, heads: s.heads) },
                         forwardFlops: 2 * attnProduct, forwardBackwardFlops: 6 * attnProduct))

        // rmsnorm: forward reads x, writes y and 1/rms per row; backward reads dy, x, 1/rms, writes dx.
        let nx = act([n, d]), nw = Tensor.filled([d], with: 1, requiresGrad: true)
        list.append(Case(name: "rmsnorm", shape: "x[\(n),\(d)]", activations: [nx], seed: seed([n, d]),
                         forward: { rmsNorm(nx, nw, eps: 1e-6) },
                         forwardBytes: F * (2 * N * D + N), forwardBackwardBytes: F * (5 * N * D + 2 * N)))

        // swiglu: forward reads gate, up, writes y; backward reads dy, gate, up, writes dgate, dup.
        let g = act([n, i]), u = act([n, i])
        list.append(Case(name: "swiglu", shape: "gate,up[\(n),\(i)]", activations: [g, u], seed: seed([n, i]),
                         forward: { swiGLU(g, u) },
                         forwardBytes: F * 3 * N * I, forwardBackwardBytes: F * 8 * N * I))

        // silu: forward reads x, writes y; backward reads dy, x, writes dx.
        let sx = act([n, i])
        list.append(Case(name: "silu", shape: "x[\(n),\(i)]", activations: [sx], seed: seed([n, i]),
                         forward: { silu(sx) },
                         forwardBytes: F * 2 * N * I, forwardBackwardBytes: F * 5 * N * I))

        // rotary: forward reads x, writes y; backward reads dy, writes dx.
        let rx = act([n, d])
        let table = RotaryTable(headDim: s.headDim, maxPositions: s.seqLen)
        list.append(Case(name: "rotary", shape: "x[\(n),\(d)] hd\(s.headDim)", activations: [rx], seed: seed([n, d]),
                         forward: { rotary(rx, table: table, batch: s.batch, seqLen: s.seqLen, heads: s.heads) },
                         forwardBytes: F * 2 * N * D, forwardBackwardBytes: F * 4 * N * D))

        // embedding: forward reads N ids (4 bytes) and N table rows, writes N rows; backward
        // reads the ids and dy, and reads + writes N gradient rows (scatter-add).
        let ids = (0..<n).map { _ in Int32(rng.int(below: v)) }
        let et = Tensor.randn([v, d], std: 0.02, rng: &rng, requiresGrad: true)
        list.append(Case(name: "embedding", shape: "ids[\(n)] table[\(v),\(d)]", activations: [], seed: seed([n, d]),
                         forward: { embedding(ids, et) },
                         forwardBytes: F * (2 * N * D + N), forwardBackwardBytes: F * (5 * N * D + 2 * N)))

        // cross_entropy: forward (recording) reads the logits and writes the gradient buffer
        // (softmax − onehot)/N; backward with seed 1 only hands that buffer over.
        let logits = act([n, v])
        let targets = (0..<n).map { _ in Int32(rng.int(below: v)) }
        list.append(Case(name: "cross_entropy", shape: "logits[\(n),\(v)]", activations: [logits],
                         seed: Tensor(shape: [], values: [1]),
                         forward: { crossEntropy(logits, targets: targets) },
                         forwardBytes: F * (2 * N * V + N), forwardBackwardBytes: F * (2 * N * V + N)))

        // add: forward reads a, b, writes y; backward reads dy, writes da, db.
        let a1 = act([n, d]), b1 = act([n, d])
        list.append(Case(name: "add", shape: "a,b[\(n),\(d)]", activations: [a1, b1], seed: seed([n, d]),
                         forward: { add(a1, b1) },
                         forwardBytes: F * 3 * N * D, forwardBackwardBytes: F * 6 * N * D))

        // mul: forward reads a, b, writes y; backward reads dy, a, b, writes da, db.
        let a2 = act([n, d]), b2 = act([n, d])
        list.append(Case(name: "mul", shape: "a,b[\(n),\(d)]", activations: [a2, b2], seed: seed([n, d]),
                         forward: { mul(a2, b2) },
                         forwardBytes: F * 3 * N * D, forwardBackwardBytes: F * 8 * N * D))
        return list
    }

    static func measure(_ c: Case, settings: BenchSettings) -> OpFigure {
        let forward = BenchClock.median(settings) {
            for t in c.activations { t.grad = nil }
            let t0 = BenchClock.now()
            let (out, tape) = Tape.record { c.forward() }
            let t1 = BenchClock.now()
            withExtendedLifetime((out, tape)) {}  // released after the clock stops
            return t1 - t0
        }
        let forwardBackward = BenchClock.median(settings) {
            for t in c.activations { t.grad = nil }
            let t0 = BenchClock.now()
            let (out, tape) = Tape.record { c.forward() }
            tape.backward(from: out, seed: c.seed)
            let t1 = BenchClock.now()
            withExtendedLifetime((out, tape)) {}
            return t1 - t0
        }
        let seeding = BenchClock.median(settings) {
            let probe = Tensor(uninitializedShape: c.seed.shape), empty = Tape()
            let t0 = BenchClock.now()
            empty.backward(from: probe, seed: c.seed)
            let t1 = BenchClock.now()
            withExtendedLifetime(probe) {}
            return t1 - t0
        }
        return OpFigure(name: c.name, shape: c.shape, forwardSeconds: forward,
                        forwardBackwardSeconds: forwardBackward - seeding, seedSeconds: seeding,
                        forwardFlops: c.forwardFlops, forwardBackwardFlops: c.forwardBackwardFlops,
                        forwardBytes: c.forwardBytes, forwardBackwardBytes: c.forwardBackwardBytes)
    }
}
