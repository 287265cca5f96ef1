// Tests of the LAPACK wrappers: SVD, symmetric eigendecomposition and QR checked by their
// defining identities (reconstruction, orthonormality, ordering) rather than stored values.
//
// Tolerances: these Householder-based routines are backward stable, so residuals are about
// p(n)·ε·‖A‖ with p(n) a small multiple of n (ε = 2⁻²³ ≈ 1.2e-7). With n ≤ 12 and ‖A‖ ≈ 5 for
// Normal(0, 1) entries, 20·n·ε·‖A‖ ≈ 1.4e-4 passes that with margin, while a layout mistake
// (a transposed factor, a wrong order) gives O(1) errors.
import XCTest
import GradientCheck
import Tensors

private let epsilon: Float = 1.0 / 8_388_608

/// C [m, n] = A [m, k] · B [k, n] in Double (reference products for the checks).
private func product(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for l in 0..<k { s += Double(a[i * k + l]) * Double(b[l * n + j]) }
            c[i * n + j] = s
        }
    }
    return c
}

private func transpose(_ a: [Float], rows: Int, cols: Int) -> [Float] {
    var t = [Float](repeating: 0, count: a.count)
    for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = a[i * cols + j] } }
    return t
}

/// max |XᵀX − I| for X [rows, cols] (orthonormal columns).
private func orthonormalityError(_ x: [Float], rows: Int, cols: Int) -> Double {
    let g = product(transpose(x, rows: rows, cols: cols), x, m: cols, k: rows, n: cols)
    var worst = 0.0
    for i in 0..<cols { for j in 0..<cols { worst = max(worst, abs(g[i * cols + j] - (i == j ? 1 : 0))) } }
    return worst
}

private func maxAbsDifference(_ a: [Double], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { max($0, abs($1.0 - Double($1.1))) }
}

final class LAPACKTests: XCTestCase {
    func testSVDReconstructsTallWideAndSquare() throws {
        for (m, n) in [(12, 5), (5, 12), (7, 7)] {
            let a = randomInput([m, n], seed: UInt64(m * 100 + n))
            let (u, s, vt) = try LAPACK.svd(a)
            let k = min(m, n)
            XCTAssertEqual(u.shape, [m, k]); XCTAssertEqual(vt.shape, [k, n]); XCTAssertEqual(s.count, k)
            let bound = Double(20 * Float(max(m, n)) * epsilon)
            let sigmaMax = Double(s.first ?? 0)
            // U · diag(s) · Vt
            var us = u.array
            for i in 0..<m { for j in 0..<k { us[i * k + j] *= s[j] } }
            let reconstruction = product(us, vt.array, m: m, k: k, n: n)
            XCTAssertLessThan(maxAbsDifference(reconstruction, a.array), bound * sigmaMax, "\(m)×\(n)")
            XCTAssertLessThan(orthonormalityError(u.array, rows: m, cols: k), bound, "U \(m)×\(n)")
            XCTAssertLessThan(orthonormalityError(transpose(vt.array, rows: k, cols: n), rows: n, cols: k),
                              bound, "V \(m)×\(n)")
            for i in 1..<k { XCTAssertGreaterThanOrEqual(s[i - 1], s[i], "s not descending \(s)") }
            XCTAssertGreaterThan(s[k - 1], 0, "a random matrix has full rank")
        }
    }

    func testSymmetricEigenSatisfiesDefinition() throws {
        let n = 9
        let g = randomInput([n, n], seed: 3)
        let a = Tensor.zeros([n, n])
        for i in 0..<n { for j in 0..<n { a[i * n + j] = (g[i * n + j] + g[j * n + i]) / 2 } }
        let (values, vectors) = try LAPACK.symmetricEigen(a)
        XCTAssertEqual(values.count, n); XCTAssertEqual(vectors.shape, [n, n])
        for i in 1..<n { XCTAssertGreaterThanOrEqual(values[i - 1], values[i], "not descending \(values)") }
        let bound = Double(20 * Float(n) * epsilon)
        let norm = Double(values.map(abs).max() ?? 0)
        // A V = V diag(λ), column by column.
        let av = product(a.array, vectors.array, m: n, k: n, n: n)
        var worst = 0.0
        for i in 0..<n {
            for j in 0..<n {
                worst = max(worst, abs(av[i * n + j] - Double(values[j]) * Double(vectors[i * n + j])))
            }
        }
        XCTAssertLessThan(worst, bound * norm)
        XCTAssertLessThan(orthonormalityError(vectors.array, rows: n, cols: n), bound)
        // The trace is the sum of the eigenvalues.
        let trace = (0..<n).reduce(0.0) { $0 + Double(a[$1 * n + $1]) }
        XCTAssertEqual(values.reduce(0.0) { $0 + Double($1) }, trace, accuracy: bound * norm * Double(n))
    }

    func testQRGivesOrthonormalQAndTriangularR() throws {
        for (m, n) in [(12, 5), (6, 6)] {
            let a = randomInput([m, n], seed: UInt64(7 + m))
            let q = try LAPACK.qr(a)
            XCTAssertEqual(q.shape, [m, n])
            let bound = Double(20 * Float(m) * epsilon)
            XCTAssertLessThan(orthonormalityError(q.array, rows: m, cols: n), bound, "\(m)×\(n)")
            // R = Qᵀ A must be upper triangular, and Q R must give A back.
            let r = product(transpose(q.array, rows: m, cols: n), a.array, m: n, k: m, n: n)
            let scale = r.map(abs).max() ?? 1
            for i in 0..<n { for j in 0..<i { XCTAssertLessThan(abs(r[i * n + j]), bound * scale, "R[\(i),\(j)]") } }
            let qr = product(q.array, r.map { Float($0) }, m: m, k: n, n: n)
            XCTAssertLessThan(maxAbsDifference(qr, a.array), bound * scale, "\(m)×\(n)")
        }
    }

    // MARK: - Errors

    /// A thin QR needs m ≥ n; a wide matrix is refused as sorgqr would refuse it (info −2).
    func testQRRejectsWideMatrix() {
        XCTAssertThrowsError(try LAPACK.qr(Tensor.zeros([3, 5]))) { error in
            XCTAssertEqual((error as? LAPACKError)?.routine, "sorgqr")
        }
    }

    /// NaN or infinite entries are rejected with a thrown LAPACKError (info −4: argument 4, the
    /// matrix), never a trap or silently NaN factors. (Left to itself, the LAPACK of OpenBLAS
    /// 0.3.21 reports NaN only in sgesdd (info −4) and ssyevd (no convergence); infinities in
    /// sgesdd and NaN in sgeqrf come back as NaN factors without an error, hence the check.)
    func testNonFiniteInputThrows() {
        for bad in [Float.nan, .infinity] {
            let a = randomInput([4, 4], seed: 5)
            a[5] = bad  // diagonal entry (1, 1): the eigen input's lower triangle sees it too
            for (name, call) in [("sgesdd", { _ = try LAPACK.svd(a) }),
                                 ("ssyevd", { _ = try LAPACK.symmetricEigen(a) }),
                                 ("sgeqrf", { _ = try LAPACK.qr(a) })] as [(String, () throws -> Void)] {
                XCTAssertThrowsError(try call(), "\(name) with \(bad)") { error in
                    XCTAssertEqual(error as? LAPACKError, LAPACKError(routine: name, info: -4))
                }
            }
        }
    }
}
