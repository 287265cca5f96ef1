// BLAS: Swift wrapper over OpenBLAS's cblas_sgemm, row-major, with transpose flags so no
// operand is ever copied to change its layout, and large products split over the project's
// threads (OpenBLAS itself runs on one).
import COpenBLAS
import Dispatch

public enum BLAS {
    /// A split product's bands each get at least this many multiply-adds. Smaller products
    /// run whole on one thread: below about 100³ multiply-adds OpenBLAS's SkylakeX kernels
    /// take a separate small-matrix path that sums in another order, so a band there would
    /// not be bitwise the whole product (measured: 64³, 40×400×48 transposed B).
    static let bandMultiplyAdds = 1 << 21

    /// Split products cut C's rows at multiples of this (0: OpenBLAS threads the product).
    /// The kernels sum each element in an order that depends on where its row falls in the
    /// kernel's row tiles; cutting at a multiple of the tile height keeps every row where a
    /// whole product puts it, so a split product is bitwise the whole one. Measured on
    /// OpenBLAS 0.3.21: Haswell kernels (also Zen's) tile 24 rows (cuts at multiples of 24
    /// are exact, at 8, 16, 32, 40 or 64 they are not, and no column cut is); SkylakeX's
    /// are exact at any row cut. Other kernels are not split here.
    public static let rowUnit: Int = {
        switch coreName {
        case "Haswell", "Zen": return 24
        case "SkylakeX", "Cooperlake", "SapphireRapids": return 16
        default: return 0
        }
    }()

    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    /// A large product called outside a parallel loop is split over `Parallel.threads` in
    /// bands of C's rows (see `rowUnit`), each an OpenBLAS product on one thread, so
    /// OpenBLAS's threads never compete with the project's. Every element of C is the same
    /// sum in the same order as in the whole product, so results do not depend on the split.
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
        let threads = Parallel.productThreads
        let bands = threads > 1 ? bandCount(m: m, work: n * k, threads: threads) : 1
        guard let p = profile else {
            return split(bands, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        split(bands, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        p.record(BLASProfile.Shape(m: m, n: n, k: k, transA: transA, transB: transB, threads: threads),
                 seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
    }

    /// How many bands of C's rows a product gets: at most one per thread, each at least
    /// `bandMultiplyAdds` (`work` = multiply-adds per row). Where OpenBLAS threads the product
    /// itself (`rowUnit` 0) the count is only "split or not".
    public static func bandCount(m: Int, work: Int, threads: Int) -> Int {
        let unit = max(rowUnit, 1), units = (m + unit - 1) / unit
        var bands = min(threads, units)
        while bands > 1 && (0..<bands).map({ bandRows($0, bands: bands, m: m).count }).min()! * work < bandMultiplyAdds {
            bands -= 1
        }
        return bands
    }

    /// Rows of band `i` of `bands`: cut at multiples of `rowUnit`, the last band ends at m.
    static func bandRows(_ i: Int, bands: Int, m: Int) -> Range<Int> {
        let unit = max(rowUnit, 1), units = (m + unit - 1) / unit
        return min(m, units * i / bands * unit)..<min(m, units * (i + 1) / bands * unit)
    }

    /// The product as `bands` contiguous bands of C's rows computed in parallel, or whole on
    /// OpenBLAS's own threads where the kernels' row tiles are not known (`rowUnit` 0).
    static func split(_ bands: Int, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                      _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
                      _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        guard bands > 1 else { return raw(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
        guard rowUnit > 0 else {
            return Parallel.withOpenBLASThreads { raw(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
        }
        Parallel.pool.run(parts: bands) { i in
            let rows = bandRows(i, bands: bands, m: m)
            guard !rows.isEmpty else { return }
            let lo = rows.lowerBound
            raw(transA, transB, rows.count, n, k, alpha, transA ? a + lo : a + lo * lda, lda,
                b, ldb, beta, c + lo * ldc, ldc)
        }
    }

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

    /// OpenBLAS's own thread count (one, except inside `Parallel.withOpenBLASThreads`).
    public static var threads: Int { Int(openblas_get_num_threads()) }
}
