// NewtonSchulz: Muon's quintic Newton–Schulz iteration (K. Jordan et al., KellerJordan/Muon;
// torch.optim.Muon's zeropower; optimizers-elementwise-zo.md §8.3), in float32 with sgemm.
// For U [m, n] it works on X = U (m ≤ n) or Uᵀ (m > n), so the Gram matrix is the short side:
//   X ← X / max(‖X‖_F, ε);  5×: A = X·Xᵀ;  B = b·A + c·A·A;  X ← a·X + B·X
// with (a, b, c) = (3.4445, −4.7750, 2.0315). Every singular value goes to ≈ 0.7–1.1.
import Tensors

public enum NewtonSchulz {
    public static let coefficients: (a: Float, b: Float, c: Float) = (3.4445, -4.7750, 2.0315)

    /// Writes NS_steps(u) into `out` (both [m, n] row-major).
    public static func orthogonalize(_ u: UnsafePointer<Float>, rows m: Int, cols n: Int, steps: Int = 5,
                                     eps: Float = 1e-7, into out: UnsafeMutablePointer<Float>) {
        let tall = m > n
        let s = min(m, n), l = max(m, n)
        let x = Tensor(uninitializedShape: [s, l]), y = Tensor(uninitializedShape: [s, l])
        let a = Tensor(uninitializedShape: [s, s]), bm = Tensor(uninitializedShape: [s, s])
        if tall { MatrixOps.transpose(u, rows: m, cols: n, into: x.pointer) } else { x.pointer.update(from: u, count: m * n) }
        let norm = Float(x.sumOfSquares().squareRoot())
        x.scaleInPlace(1 / max(norm, eps))
        let (ca, cb, cc) = coefficients
        var cur = x, next = y
        for _ in 0..<steps {
            // A = X·Xᵀ [s, s]
            BLAS.sgemm(transB: true, m: s, n: s, k: l, a: cur.pointer, lda: l, b: cur.pointer, ldb: l, c: a.pointer, ldc: s)
            // B = b·A + c·A·A
            bm.copy(from: a)
            bm.scaleInPlace(cb)
            BLAS.sgemm(m: s, n: s, k: s, alpha: cc, a: a.pointer, lda: s, b: a.pointer, ldb: s, beta: 1, c: bm.pointer, ldc: s)
            // X' = a·X + B·X
            next.copy(from: cur)
            next.scaleInPlace(ca)
            BLAS.sgemm(m: s, n: l, k: s, a: bm.pointer, lda: s, b: cur.pointer, ldb: l, beta: 1, c: next.pointer, ldc: l)
            swap(&cur, &next)
        }
        if tall { MatrixOps.transpose(cur.pointer, rows: s, cols: l, into: out) } else { out.update(from: cur.pointer, count: m * n) }
    }
}
