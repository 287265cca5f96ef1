// LowRankProjector: the projection shared by GaLore, Fira and APOLLO (optimizers-lowrank.md
// §0.2, §1.3, §3.3). For a gradient G [m, n] in the [out, in] layout it picks a side —
// right (P [r, n], R = G·Pᵀ [m, r], back(X) = X·P) or left (P [m, r], R = Pᵀ·G [r, n],
// back(X) = P·X) — and builds P either from the thin SVD of G (top-r singular vectors, each
// sign-canonicalised so its largest-magnitude entry is positive) or as Gaussian N(0, 1/r)
// entries keyed by (run seed, parameter, refresh index), regenerated rather than stored.
import Tensors

public struct LowRankProjector: Sendable {
    public enum Kind: String, Sendable { case svd, random }
    /// Which side is compressed: std = the smaller dimension (GaLore's default).
    public enum ProjType: String, Sendable, CaseIterable { case std, reverseStd = "reverse_std", right, left }
    public enum Side: Sendable { case right, left }

    public var kind: Kind
    public var projType: ProjType
    /// The requested rank (the SVD projector caps it at min(m, n), as the reference slices the thin SVD).
    public var rank: Int
    /// A given P (row-major, projector shape) used at every refresh instead of the SVD or the
    /// random draw: the spec's "injected P" for tests and controlled experiments.
    public var fixed: [Float]?

    public init(kind: Kind, projType: ProjType = .std, rank: Int) {
        self.kind = kind
        self.projType = projType
        self.rank = rank
    }

    public func side(rows m: Int, cols n: Int) -> Side {
        switch projType {
        case .std: return m >= n ? .right : .left
        case .reverseStd: return m >= n ? .left : .right
        case .right: return .right
        case .left: return .left
        }
    }

    /// The rank used for an [m, n] matrix.
    public func effectiveRank(rows m: Int, cols n: Int) -> Int {
        kind == .svd ? min(rank, side(rows: m, cols: n) == .right ? n : m) : rank
    }

    /// Shape of P: right [r, n], left [m, r].
    public func projectorShape(rows m: Int, cols n: Int) -> [Int] {
        let r = effectiveRank(rows: m, cols: n)
        return side(rows: m, cols: n) == .right ? [r, n] : [m, r]
    }

    /// Shape of the low-rank gradient R: right [m, r], left [r, n].
    public func lowRankShape(rows m: Int, cols n: Int) -> [Int] {
        let r = effectiveRank(rows: m, cols: n)
        return side(rows: m, cols: n) == .right ? [m, r] : [r, n]
    }

    /// P from the thin SVD of g [m, n] (LAPACK sgesdd), written into p. Throws LAPACKError on
    /// a non-finite input or a failed factorisation; p is then untouched.
    public func svdProjector(of g: Tensor, into p: Tensor) throws {
        if let f = fixed { return fill(p, with: f) }
        let m = g.shape[0], n = g.shape[1], r = effectiveRank(rows: m, cols: n)
        let (u, _, vt) = try LAPACK.svd(g)
        let k = min(m, n)
        if side(rows: m, cols: n) == .right {
            for i in 0..<r {  // rows of Vᵀ
                let row = vt.pointer + i * n, out = p.pointer + i * n
                var big = 0
                for j in 0..<n where abs(row[j]) > abs(row[big]) { big = j }
                let sign: Float = row[big] < 0 ? -1 : 1
                for j in 0..<n { out[j] = sign * row[j] }
            }
        } else {
            for j in 0..<r {  // columns of U
                var big = 0
                for i in 0..<m where abs(u.pointer[i * k + j]) > abs(u.pointer[big * k + j]) { big = i }
                let sign: Float = u.pointer[big * k + j] < 0 ? -1 : 1
                for i in 0..<m { p.pointer[i * r + j] = sign * u.pointer[i * k + j] }
            }
        }
    }

    /// Gaussian P with N(0, 1/r) entries for (seed, parameter index, refresh index): the same
    /// triple always gives the same P, so it is regenerated, never stored.
    public func randomProjector(seed: UInt64, parameter: Int, refresh: Int, into p: Tensor) {
        if let f = fixed { return fill(p, with: f) }
        let r = Float(max(rank, 1))
        // Parameter and refresh index in disjoint halves of the key (no collision below 2³²).
        let key = 0xA9_0110 &+ (UInt64(truncatingIfNeeded: parameter) << 32 | UInt64(truncatingIfNeeded: refresh) & 0xFFFF_FFFF)
        GaussianFill.fill(p.buffer, seed: seed, key: key, std: 1 / r.squareRoot())
    }

    private func fill(_ p: Tensor, with f: [Float]) {
        precondition(f.count == p.count, "fixed projector of \(f.count) values for shape \(p.shape)")
        f.withUnsafeBufferPointer { p.pointer.update(from: $0.baseAddress!, count: p.count) }
    }

    /// R = project(G): right G·Pᵀ, left Pᵀ·G.
    public func project(_ g: Tensor, _ p: Tensor, into rOut: Tensor) {
        let m = g.shape[0], n = g.shape[1], r = effectiveRank(rows: m, cols: n)
        if side(rows: m, cols: n) == .right {
            BLAS.sgemm(transB: true, m: m, n: r, k: n, a: g.pointer, lda: n, b: p.pointer, ldb: n, c: rOut.pointer, ldc: r)
        } else {
            BLAS.sgemm(transA: true, m: r, n: n, k: m, a: p.pointer, lda: r, b: g.pointer, ldb: n, c: rOut.pointer, ldc: n)
        }
    }

    /// out = alpha·back(X) + beta·out for a matrix [m, n]: right X·P, left P·X.
    public func back(_ x: Tensor, _ p: Tensor, rows m: Int, cols n: Int, alpha: Float = 1, beta: Float = 0, into out: Tensor) {
        let r = effectiveRank(rows: m, cols: n)
        if side(rows: m, cols: n) == .right {
            BLAS.sgemm(m: m, n: n, k: r, alpha: alpha, a: x.pointer, lda: r, b: p.pointer, ldb: n, beta: beta, c: out.pointer, ldc: n)
        } else {
            BLAS.sgemm(m: m, n: n, k: r, alpha: alpha, a: p.pointer, lda: r, b: x.pointer, ldb: n, beta: beta, c: out.pointer, ldc: n)
        }
    }
}
