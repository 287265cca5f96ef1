// BLAS: Swift wrapper over OpenBLAS's cblas_sgemm, row-major, with transpose flags so no
// operand is ever copied to change its layout. A large product is two half products (bands
// of C's rows) run on the project's threads; OpenBLAS itself runs on one.
import COpenBLAS
import Dispatch

public enum BLAS {
    /// A product is computed in two halves of C's rows once each half has at least this many
    /// multiply-adds; smaller products run whole on one thread. (Below about 100³ multiply-adds
    /// OpenBLAS's SkylakeX kernels also switch to a small-matrix path that sums in another
    /// order, which a sub-band must not do where its half does not: measured with 64³ and
    /// 40×400×48 with transposed B.)
    static let bandMultiplyAdds = 1 << 21

    /// Sub-bands of a half start at multiples of this many rows from the half's first row
    /// (0: halves are not cut further). The kernels sum an element in an order that depends on
    /// where its row falls in the kernel's row tiles; a cut at a multiple of the tile height
    /// keeps every row where the half's own product puts it, so a cut half is bitwise the whole
    /// half. Measured on OpenBLAS 0.3.21: Haswell kernels (also Zen's) tile 24 rows (cuts at
    /// multiples of 24 are exact, at 8, 16, 32, 40 or 64 they are not, and no column cut is);
    /// SkylakeX's are exact at any row cut.
    public static let rowUnit: Int = {
        switch coreName {
        case "Haswell", "Zen": return 24
        case "SkylakeX", "Cooperlake", "SapphireRapids": return 16
        default: return 0
        }
    }()

    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    ///
    /// A large product is, by definition, two OpenBLAS products on one thread each: the first
    /// and second half of C's rows (`halfCut`), whatever the thread count, so its bits never
    /// depend on it. Outside a parallel loop the halves (cut further into sub-bands when
    /// there are more than two threads, see `rowUnit`) run on the project's threads; OpenBLAS
    /// itself stays on one thread, so its workers never compete with the project's.
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
        guard let p = profile else {
            return run(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        run(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        p.record(BLASProfile.Shape(m: m, n: n, k: k, transA: transA, transB: transB, threads: threads),
                 seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
    }

    /// Where a product of op(A)[m×k]·op(B)[k×n] is cut into halves (rows 0..<cut and cut..<m),
    /// or nil when it runs whole. From 128 rows the cut is half the rows rounded to a multiple
    /// of 8 (aligned rows and columns of A for the second half), below that exactly half.
    public static func halfCut(m: Int, n: Int, k: Int) -> Int? {
        let cut = m >= 128 ? (m + 8) / 16 * 8 : m / 2
        return cut > 0 && min(cut, m - cut) * n * k >= bandMultiplyAdds ? cut : nil
    }

    /// The row bands a product runs as on `threads` threads: its halves, each cut into up to
    /// ⌈threads/2⌉ sub-bands at multiples of `rowUnit` from its first row, each sub-band with
    /// at least `bandMultiplyAdds`. (For tests and bench; `run` walks the same bands.)
    public static func bands(m: Int, n: Int, k: Int, threads: Int) -> [Range<Int>] {
        guard let cut = halfCut(m: m, n: n, k: k) else { return [0..<m] }
        let plan = BandPlan(m: m, cut: cut, work: n * k, threads: threads)
        return (0..<plan.count).map(plan.rows)
    }

    /// Where band i of a halved product lies, by arithmetic (no arrays on the hot path).
    struct BandPlan {
        let m, cut, first, second: Int  // first / second: sub-bands of each half

        init(m: Int, cut: Int, work: Int, threads: Int) {
            self.m = m; self.cut = cut
            first = BandPlan.parts(cut, wanted: (threads + 1) / 2, work: work)
            second = BandPlan.parts(m - cut, wanted: threads / 2, work: work)
        }

        var count: Int { first + second }

        func rows(_ i: Int) -> Range<Int> {
            i < first ? BandPlan.sub(0, cut, i, first) : BandPlan.sub(cut, m - cut, i - first, second)
        }

        /// Sub-band i of `parts` of the half starting at row `start`, `count` rows long.
        static func sub(_ start: Int, _ count: Int, _ i: Int, _ parts: Int) -> Range<Int> {
            guard parts > 1 else { return start..<start + count }
            let units = (count + rowUnit - 1) / rowUnit
            return start + min(count, units * i / parts * rowUnit)..<start + min(count, units * (i + 1) / parts * rowUnit)
        }

        /// Sub-bands of a half of `count` rows: up to `wanted`, each ≥ bandMultiplyAdds.
        static func parts(_ count: Int, wanted: Int, work: Int) -> Int {
            guard rowUnit > 0 else { return 1 }
            var parts = max(1, min(wanted, (count + rowUnit - 1) / rowUnit))
            while parts > 1 {
                var smallest = count
                for i in 0..<parts { smallest = min(smallest, sub(0, count, i, parts).count) }
                if smallest * work >= bandMultiplyAdds { break }
                parts -= 1
            }
            return parts
        }
    }

    /// Runs the product's bands: on the project's threads when `threads` > 1, else in order.
    static func run(_ threads: Int, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                    _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
                    _ b: UnsafePointer<Float>, _ ldb: Int,
                    _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        guard !Parallel.inOpenBLASThreads, let cut = halfCut(m: m, n: n, k: k) else {
            return raw(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        let plan = BandPlan(m: m, cut: cut, work: n * k, threads: threads)
        func band(_ i: Int) {
            let r = plan.rows(i)
            raw(transA, transB, r.count, n, k, alpha, transA ? a + r.lowerBound : a + r.lowerBound * lda, lda,
                b, ldb, beta, c + r.lowerBound * ldc, ldc)
        }
        if threads > 1 {
            Parallel.pool.run(parts: plan.count, band)
        } else {
            for i in 0..<plan.count { band(i) }
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
