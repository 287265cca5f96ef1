// BLAS: Swift wrapper over OpenBLAS's cblas_sgemm, row-major, with transpose flags so no
// operand is ever copied to change its layout.
import COpenBLAS
import Dispatch

public enum BLAS {
    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    @inlinable
    public static func sgemm(transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int,
                             alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {  // BLAS leaves C untouched for k = 0 only when beta = 1
            if beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
            return
        }
        guard let p = profile else {
            return raw(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        raw(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        p.record(BLASProfile.Shape(m: m, n: n, k: k, transA: transA, transB: transB, threads: threads),
                 seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
    }

    @inlinable @inline(__always)
    static func raw(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                    _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// OpenBLAS's own build description (core, threading), for bench output.
    public static var configuration: String {
        guard let s = openblas_get_config() else { return "unknown" }
        return String(cString: s)
    }

    /// The kernels OpenBLAS runs ("Haswell", "SkylakeX", …).
    public static var coreName: String {
        guard let s = openblas_get_corename() else { return "unknown" }
        return String(cString: s)
    }

    /// OpenBLAS's current thread count.
    public static var threads: Int { Int(openblas_get_num_threads()) }
}
