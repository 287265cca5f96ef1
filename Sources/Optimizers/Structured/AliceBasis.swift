// AliceBasis: the subspace steps of Alice (arXiv 2502.07752, Algorithms 2 and 10;
// optimizers-lowrank.md §5.4–5.5), on the oriented gradient X [a, b] (a ≤ b): the first basis
// (top-r left singular vectors of X, signs canonicalised), the matrix-free subspace iteration
// with Rayleigh–Ritz, and the switch that keeps the top-l Ritz vectors and fills the other
// r − l columns with complement vectors drawn by a generator keyed by (seed, parameter, refresh).
import Tensors

enum AliceBasis {
    /// C = op(A)·op(B) as a new tensor.
    static func mul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let n = transB ? b.shape[0] : b.shape[1]
        let c = Tensor(uninitializedShape: [m, n])
        BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a.pointer, lda: a.shape[1],
                   b: b.pointer, ldb: b.shape[1], c: c.pointer, ldc: n)
        return c
    }

    /// Columns `cols` of x [a, c] as a new [a, cols.count].
    static func columns(_ x: Tensor, _ cols: [Int]) -> Tensor {
        let a = x.shape[0], c = x.shape[1]
        let out = Tensor(uninitializedShape: [a, cols.count])
        for i in 0..<a { for (k, j) in cols.enumerated() { out[i * cols.count + k] = x[i * c + j] } }
        return out
    }

    /// Top-r left singular vectors of x [a, b], each with its largest-magnitude entry positive.
    static func leadingSingularVectors(_ x: Tensor, rank r: Int) throws -> Tensor {
        let (u, _, _) = try LAPACK.svd(x)
        let top = columns(u, Array(0..<r))
        canonicalise(top)
        return top
    }

    /// Flips each column of u so its largest-magnitude entry is positive.
    static func canonicalise(_ u: Tensor) {
        let a = u.shape[0], r = u.shape[1]
        for j in 0..<r {
            var big = 0
            for i in 0..<a where abs(u[i * r + j]) > abs(u[big * r + j]) { big = i }
            if u[big * r + j] < 0 { for i in 0..<a { u[i * r + j] = -u[i * r + j] } }
        }
    }

    /// Ritz vectors U' [a, r] (eigenvalues descending) of Q = β3·U_p·Q̃·U_pᵀ + (1−β3)·X·Xᵀ
    /// restricted to the span of `start` [a, r] after one subspace-iteration step (`iterate`)
    /// or directly (`iterate` false: span(start) itself, the port's first refresh).
    static func ritzVectors(x: Tensor, previous: Tensor?, qTilde: Tensor?, beta3: Double, start: Tensor, iterate: Bool) throws -> Tensor {
        let w = Float(1 - beta3), b3 = Float(beta3)
        func applyQ(_ v: Tensor) -> Tensor {  // Q·v without forming Q
            let out = mul(x, mul(x, v, transA: true))
            out.scaleInPlace(w)
            if let up = previous, let qt = qTilde, b3 != 0 {
                let extra = mul(up, mul(qt, mul(up, v, transA: true)))
                for i in 0..<out.count { out[i] += b3 * extra[i] }
            }
            return out
        }
        let basis = iterate ? try LAPACK.qr(applyQ(start)) : start
        let b = mul(basis, applyQ(basis), transA: true)
        for i in 0..<b.shape[0] { for j in 0..<i { let s = (b[i * b.shape[0] + j] + b[j * b.shape[0] + i]) / 2; b[i * b.shape[0] + j] = s; b[j * b.shape[0] + i] = s } }
        let (_, z) = try LAPACK.symmetricEigen(b)
        return mul(basis, z)
    }

    /// Switch steps 3–5: the top-l columns of `ritz` [a, r] and r − l columns drawn without
    /// replacement from an orthonormal basis of its complement (full QR). With fewer than r − l
    /// complement vectors: all of them, then Ritz vectors l+1, … (or, `unionShortfall`, a draw
    /// from the union of both, as the pytorch-optimizer port does).
    static func switchBasis(ritz: Tensor, leading l: Int, rng: inout RandomGenerator, unionShortfall: Bool) throws -> Tensor {
        let a = ritz.shape[0], r = ritz.shape[1]
        if l >= r || a == r { return ritz }
        let full = try LAPACK.fullQR(ritz)  // [a, a]; columns r..<a span the complement
        let complement = Array(r..<a)
        let need = r - l
        var chosen: [(fromRitz: Bool, index: Int)] = []
        if complement.count >= need || unionShortfall {
            var pool = complement.map { (fromRitz: false, index: $0) }
            if complement.count < need { pool += (l..<r).map { (fromRitz: true, index: $0) } }
            for k in 0..<need {  // partial Fisher–Yates
                let j = k + rng.int(below: pool.count - k)
                pool.swapAt(k, j)
                chosen.append(pool[k])
            }
        } else {
            chosen = complement.map { (fromRitz: false, index: $0) } + (l..<(l + need - complement.count)).map { (fromRitz: true, index: $0) }
        }
        let out = Tensor(uninitializedShape: [a, r])
        for i in 0..<a {
            for j in 0..<l { out[i * r + j] = ritz[i * r + j] }
            for (k, c) in chosen.enumerated() {
                out[i * r + l + k] = c.fromRitz ? ritz[i * r + c.index] : full[i * a + c.index]
            }
        }
        return out
    }
}
