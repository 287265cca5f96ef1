// LAPACK: thin SVD, symmetric eigendecomposition and thin QR for the low-rank optimizers,
// over the Fortran LAPACK routines that OpenBLAS exports (sgesdd, ssyevd, sgeqrf + sorgqr).
// Fortran is column-major: a row-major [m, n] buffer is read as the column-major Aᵀ [n, m],
// so each wrapper either factors Aᵀ and swaps the factors, or transposes explicitly.
import COpenBLAS

/// A LAPACK routine failed: `info < 0` means argument −info was illegal (LAPACK's own checks,
/// or a NaN/infinite entry in the matrix, which the wrappers reject up front as info −4 since
/// LAPACK would otherwise return NaN factors or stall); `info > 0` means no convergence.
public struct LAPACKError: Error, Equatable, CustomStringConvertible {
    /// The Fortran routine, e.g. "sgesdd".
    public let routine: String
    /// LAPACK's INFO value.
    public let info: Int

    public init(routine: String, info: Int) {
        self.routine = routine
        self.info = info
    }

    public var description: String {
        if info < 0 {
            return "\(routine): argument \(-info) had an illegal value (LAPACK info \(info)); "
                + "check the matrix shape and that it holds no NaN or infinite entries"
        }
        return "\(routine): the algorithm did not converge (LAPACK info \(info)); "
            + "the matrix probably holds NaN or infinite entries"
    }
}

public enum LAPACK {
    /// Thin SVD A = U · diag(s) · Vt of a row-major A [m, n], with k = min(m, n):
    /// U [m, k] and Vt [k, n] with orthonormal columns / rows, s (k values) descending.
    /// Divide and conquer (sgesdd, jobz "S").
    public static func svd(_ a: Tensor) throws -> (u: Tensor, s: [Float], vt: Tensor) {
        precondition(a.shape.count == 2, "LAPACK.svd: need a matrix, got \(a.shape)")
        let m = a.shape[0], n = a.shape[1], k = min(m, n)
        let u = Tensor(uninitializedShape: [m, k]), vt = Tensor(uninitializedShape: [k, n])
        guard k > 0 else { return (u, [], vt) }
        try requireFinite(a, "sgesdd")
        // Column-major view: X = Aᵀ [n, m] = U_x S Vt_x, so A = Vt_xᵀ S U_xᵀ. LAPACK writes
        // U_x [n, k] column-major (memory = row-major U_xᵀ [k, n] = Vt) and Vt_x [k, m]
        // column-major (memory = row-major Vt_xᵀ [m, k] = U). So U_x goes into vt, Vt_x into u.
        let x = a.clone()
        var s = [Float](repeating: 0, count: k)
        var rows = Int32(n), cols = Int32(m), ldx = Int32(n)
        var ldu = Int32(n), ldvt = Int32(k)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var info: Int32 = 0
        var lwork: Int32 = -1, query: Float = 0
        sgesdd_("S", &rows, &cols, x.pointer, &ldx, &s, vt.pointer, &ldu, u.pointer, &ldvt,
                &query, &lwork, &iwork, &info, 1)
        try check("sgesdd", info)
        lwork = workspaceSize(query)
        let work = Tensor(uninitializedShape: [Int(lwork)])
        Parallel.withOpenBLASThreads {
            sgesdd_("S", &rows, &cols, x.pointer, &ldx, &s, vt.pointer, &ldu, u.pointer, &ldvt,
                    work.pointer, &lwork, &iwork, &info, 1)
        }
        try check("sgesdd", info)
        return (u, s, vt)
    }

    /// Eigendecomposition of a symmetric row-major A [n, n] (only its lower triangle is read):
    /// eigenvalues in descending order, and the matching unit eigenvectors as the columns of
    /// a row-major [n, n] (column j belongs to values[j]). Divide and conquer (ssyevd).
    public static func symmetricEigen(_ a: Tensor) throws -> (values: [Float], vectors: Tensor) {
        precondition(a.shape.count == 2 && a.shape[0] == a.shape[1],
                     "LAPACK.symmetricEigen: need a square matrix, got \(a.shape)")
        let n = a.shape[0]
        let vectors = Tensor(uninitializedShape: [n, n])
        guard n > 0 else { return ([], vectors) }
        try requireFinite(a, "ssyevd")
        // A row-major lower triangle is the column-major upper triangle ("U").
        let x = a.clone()
        var ascending = [Float](repeating: 0, count: n)
        var order = Int32(n), ldx = Int32(n), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var query: Float = 0, iquery: Int32 = 0
        ssyevd_("V", "U", &order, x.pointer, &ldx, &ascending, &query, &lwork, &iquery, &liwork, &info, 1, 1)
        try check("ssyevd", info)
        lwork = workspaceSize(query)
        liwork = max(iquery, 1)
        let work = Tensor(uninitializedShape: [Int(lwork)])
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        Parallel.withOpenBLASThreads {
            ssyevd_("V", "U", &order, x.pointer, &ldx, &ascending, work.pointer, &lwork, &iwork,
                    &liwork, &info, 1, 1)
        }
        try check("ssyevd", info)
        // x holds eigenvector j (ascending) in column-major column j: x[i + j·n].
        // Output column c is eigenvector n−1−c: vectors[i·n + c] = x[i + (n−1−c)·n].
        for i in 0..<n {
            for c in 0..<n { vectors.pointer[i * n + c] = x.pointer[i + (n - 1 - c) * n] }
        }
        return (Array(ascending.reversed()), vectors)
    }

    /// Thin QR of a row-major A [m, n] with m ≥ n: returns Q [m, n] with orthonormal columns
    /// such that A = Q R for an upper-triangular R = Qᵀ A (sgeqrf + sorgqr, Householder).
    public static func qr(_ a: Tensor) throws -> Tensor {
        precondition(a.shape.count == 2, "LAPACK.qr: need a matrix, got \(a.shape)")
        let m = a.shape[0], n = a.shape[1]
        guard m >= n else { throw LAPACKError(routine: "sorgqr", info: -2) }  // needs M ≥ N
        let q = Tensor(uninitializedShape: [m, n])
        guard n > 0 else { return q }
        try requireFinite(a, "sgeqrf")
        // Transpose into a column-major [m, n] working copy (lda = m).
        let x = Tensor(uninitializedShape: [n, m])
        for i in 0..<m {
            for j in 0..<n { x.pointer[i + j * m] = a.pointer[i * n + j] }
        }
        var rows = Int32(m), cols = Int32(n), reflectors = Int32(n), ldx = Int32(m)
        var tau = [Float](repeating: 0, count: n)
        var info: Int32 = 0, lwork: Int32 = -1, query: Float = 0
        sgeqrf_(&rows, &cols, x.pointer, &ldx, &tau, &query, &lwork, &info)
        try check("sgeqrf", info)
        var size = workspaceSize(query)
        var orgQuery: Float = 0
        sorgqr_(&rows, &cols, &reflectors, x.pointer, &ldx, &tau, &orgQuery, &lwork, &info)
        try check("sorgqr", info)
        size = max(size, workspaceSize(orgQuery))
        let work = Tensor(uninitializedShape: [Int(size)])
        lwork = size
        Parallel.withOpenBLASThreads {
            sgeqrf_(&rows, &cols, x.pointer, &ldx, &tau, work.pointer, &lwork, &info)
        }
        try check("sgeqrf", info)
        Parallel.withOpenBLASThreads {
            sorgqr_(&rows, &cols, &reflectors, x.pointer, &ldx, &tau, work.pointer, &lwork, &info)
        }
        try check("sorgqr", info)
        for i in 0..<m {
            for j in 0..<n { q.pointer[i * n + j] = x.pointer[i + j * m] }
        }
        return q
    }

    /// Full QR of a row-major A [m, n]: returns Q [m, m], orthogonal, whose first min(m, n)
    /// columns span A's columns (A = Q·R with R [m, n] upper-trapezoidal). The remaining
    /// columns complete the basis (Alice's complement). sgeqrf + sorgqr with N = M.
    public static func fullQR(_ a: Tensor) throws -> Tensor {
        precondition(a.shape.count == 2, "LAPACK.fullQR: need a matrix, got \(a.shape)")
        let m = a.shape[0], n = a.shape[1]
        let q = Tensor(uninitializedShape: [m, m])
        guard m > 0 else { return q }
        try requireFinite(a, "sgeqrf")
        let k = min(m, n)
        // Column-major m×m working array; the first n columns hold A (lda = m).
        let x = Tensor.zeros([m, m])
        for i in 0..<m {
            for j in 0..<min(n, m) { x.pointer[i + j * m] = a.pointer[i * n + j] }
        }
        var rows = Int32(m), cols = Int32(max(k, 1)), full = Int32(m), reflectors = Int32(k), ldx = Int32(m)
        var tau = [Float](repeating: 0, count: max(k, 1))
        var info: Int32 = 0, lwork: Int32 = -1, query: Float = 0, orgQuery: Float = 0
        if k > 0 {
            sgeqrf_(&rows, &cols, x.pointer, &ldx, &tau, &query, &lwork, &info)
            try check("sgeqrf", info)
        }
        sorgqr_(&rows, &full, &reflectors, x.pointer, &ldx, &tau, &orgQuery, &lwork, &info)
        try check("sorgqr", info)
        let size = max(workspaceSize(query), workspaceSize(orgQuery))
        let work = Tensor(uninitializedShape: [Int(size)])
        lwork = size
        if k > 0 {
            Parallel.withOpenBLASThreads {
                sgeqrf_(&rows, &cols, x.pointer, &ldx, &tau, work.pointer, &lwork, &info)
            }
            try check("sgeqrf", info)
        }
        Parallel.withOpenBLASThreads {
            sorgqr_(&rows, &full, &reflectors, x.pointer, &ldx, &tau, work.pointer, &lwork, &info)
        }
        try check("sorgqr", info)
        for i in 0..<m {
            for j in 0..<m { q.pointer[i * m + j] = x.pointer[i + j * m] }
        }
        return q
    }

    /// The workspace length from a query. LAPACK returns it as a Float, which holds integers
    /// exactly only up to 2²⁴, so add a small margin; at least 1.
    private static func workspaceSize(_ query: Float) -> Int32 {
        let padded = (query * (1 + 1e-6)).rounded(.up)
        return Int32(min(max(1, padded), 2e9))
    }

    /// Throws (as LAPACK's "argument 4", the matrix, illegal) if `a` has a NaN or infinity.
    private static func requireFinite(_ a: Tensor, _ routine: String) throws {
        for i in 0..<a.count where !a.pointer[i].isFinite {
            throw LAPACKError(routine: routine, info: -4)
        }
    }

    private static func check(_ routine: String, _ info: Int32) throws {
        if info != 0 { throw LAPACKError(routine: routine, info: Int(info)) }
    }
}
