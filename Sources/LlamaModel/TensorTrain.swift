// TensorTrain: a weight W [N_in, N_out] stored as a train of small cores (Oseledets 2011, the
// TT format), used as y = x W + b (the [in, out] orientation, transposed against `linear`).
// The forward is the "parallel contraction" of AdaZeta (Yang et al., arXiv 2406.18060):
// each half of the train is contracted on its own into L [N_in, r] and R [r, N_out], then
// y = (x L) R + b, two skinny products; W itself is never built. Also `factor3`, the choice
// of three modes for a size (optimizers-elementwise-zo.md §7.1–7.2).
import Tensors

/// A tensor-train problem (shape, modes, factorisation), naming what is wrong and the fix.
public struct TensorTrainError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The structure of one TT matrix: W[(i_1..i_p), (o_1..o_q)] with row-major multi-indices,
/// D = p + q cores, core k of shape [r_{k−1}, n_k, r_k], r_0 = r_D = 1, interior ranks `rank`.
public struct TTShape: Equatable, Sendable {
    /// n_1 … n_p, whose product is N_in.
    public let inModes: [Int]
    /// n_{p+1} … n_D, whose product is N_out.
    public let outModes: [Int]
    /// The interior TT rank r.
    public let rank: Int

    public init(inModes: [Int], outModes: [Int], rank: Int) throws {
        guard !inModes.isEmpty, !outModes.isEmpty else {
            throw TensorTrainError("tensor-train shape needs at least one input and one output mode, "
                + "got in \(inModes), out \(outModes): give both mode lists")
        }
        if let bad = (inModes + outModes).first(where: { $0 < 2 }) {
            throw TensorTrainError("tensor-train mode \(bad) in \(inModes) | \(outModes) is below 2: "
                + "every mode must be at least 2 (drop modes of size 1)")
        }
        guard rank >= 1 else {
            throw TensorTrainError("tensor-train rank \(rank) is below 1: use a rank of at least 1")
        }
        // Between cores k and k+1 a rank above min(Π modes up to k, Π modes after k) adds
        // nothing; a rank above that bound at every bond only costs memory and time.
        let all = inModes + outModes
        var useful = 1
        for k in 1..<all.count {
            let left = all[..<k].reduce(1.0) { $0 * Double($1) }, right = all[k...].reduce(1.0) { $0 * Double($1) }
            useful = Swift.max(useful, Int(Swift.min(left, right, Double(Int32.max))))
        }
        guard rank <= useful else {
            throw TensorTrainError("tensor-train rank \(rank) is above \(useful), the largest rank modes \(inModes) | \(outModes) can use: pick a rank of at most \(useful) (adapter_rank)")
        }
        self.inModes = inModes
        self.outModes = outModes
        self.rank = rank
    }

    /// All modes, input modes first.
    public var modes: [Int] { inModes + outModes }
    /// N_in = Π input modes.
    public var inFeatures: Int { inModes.reduce(1, *) }
    /// N_out = Π output modes.
    public var outFeatures: Int { outModes.reduce(1, *) }

    /// Core k is [r_{k−1}, n_k, r_k] with r_0 = r_D = 1 and every other rank `rank`.
    public var coreShapes: [[Int]] {
        let m = modes
        return m.indices.map { k in [k == 0 ? 1 : rank, m[k], k == m.count - 1 ? 1 : rank] }
    }

    /// Σ_k r_{k−1} n_k r_k = r(n_1 + n_D) + r²(n_2 + … + n_{D−1}).
    public var parameterCount: Int { coreShapes.reduce(0) { $0 + $1.reduce(1, *) } }

    /// Three modes for n: its prime factors, largest first, each go into the bucket with the
    /// smallest product (ties to the lower index); the buckets are then sorted descending.
    /// 4096 → [16, 16, 16], 768 → [12, 8, 8], 64 → [4, 4, 4]. Throws when a bucket stays 1
    /// (n prime, or with fewer than three prime factors).
    public static func factor3(_ n: Int) throws -> [Int] {
        var buckets = [1, 1, 1]
        if n >= 2 {
            var primes: [Int] = []
            var rest = n, p = 2
            while p * p <= rest {
                while rest % p == 0 { primes.append(p); rest /= p }
                p += 1
            }
            if rest > 1 { primes.append(rest) }
            for f in primes.reversed() {  // found in ascending order: largest first
                let smallest = buckets.indices.min { buckets[$0] < buckets[$1] }!  // first minimum
                buckets[smallest] *= f
            }
            buckets.sort(by: >)
        }
        guard n >= 2, !buckets.contains(1) else {
            throw TensorTrainError("cannot split \(n) into three tensor-train modes (factor3 gives \(buckets)): "
                + "choose a size with at least three prime factors, or give the modes explicitly")
        }
        return buckets
    }
}

/// The parallel contraction: L [N_in, r] from the input-mode cores and R [r, N_out] from the
/// output-mode cores, with L·R = W [N_in, N_out]. Built from tape ops only (matmul,
/// reshaped), so gradients reach the cores.
///
/// - L: T ← reshape(G_1, [n_1, r]); for k = 2…p: T ← reshape(T · reshape(G_k, [r, n_k·r]), [rows·n_k, r]).
/// - R: S ← reshape(G_{p+1}, [r·n_{p+1}, r_{p+1}]); for k = p+2…D:
///   S ← reshape(S · reshape(G_k, [r, n_k·r_k]), [rows·n_k, r_k]); R = reshape(S, [r, N_out]).
public func ttFactors(cores: [Tensor], shape: TTShape) -> (left: Tensor, right: Tensor) {
    let shapes = shape.coreShapes
    precondition(cores.count == shapes.count, "ttFactors: \(cores.count) cores for \(shapes.count) modes")
    for (k, core) in cores.enumerated() {
        precondition(core.shape == shapes[k], "ttFactors: core \(k) is \(core.shape), expected \(shapes[k])")
    }
    let p = shape.inModes.count, d = shapes.count
    // Chains cores[range] onto `start` [rows, r_left]: each step appends one mode to the rows.
    func chain(_ start: Tensor, _ range: Range<Int>) -> Tensor {
        var t = start
        for k in range {
            let s = shapes[k]  // [r_{k−1}, n_k, r_k]
            let next = matmul(t, reshaped(cores[k], [s[0], s[1] * s[2]]))  // [rows, n_k·r_k]
            t = reshaped(next, [t.shape[0] * s[1], s[2]])                  // [rows·n_k, r_k]
        }
        return t
    }
    let first = shapes[0], middle = shapes[p]
    let left = chain(reshaped(cores[0], [first[1], first[2]]), 1..<p)                       // [N_in, r]
    let s = chain(reshaped(cores[p], [middle[0] * middle[1], middle[2]]), (p + 1)..<d)     // [r·N_out, 1]
    let right = reshaped(s, [shape.rank, shape.outFeatures])                                // [r, N_out]
    return (left, right)
}

/// y[..., N_out] = (x[..., N_in] · L) · R + bias[N_out], the TT linear map with W = L·R.
public func ttLinear(_ x: Tensor, cores: [Tensor], bias: Tensor, shape: TTShape) -> Tensor {
    precondition(x.lastDim == shape.inFeatures, "ttLinear: input \(x.shape) does not end in \(shape.inFeatures)")
    let (left, right) = ttFactors(cores: cores, shape: shape)
    return addBias(matmul(matmul(x, left), right), bias)
}
