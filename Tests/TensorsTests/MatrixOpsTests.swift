// MatrixOpsTests: MatrixOps' transpose and row/column norms against naive loops, and
// LAPACK.fullQR (Alice's complement basis, optimizers-lowrank.md §0.8, §5) on tall and wide
// matrices: Q square orthogonal, its first min(m, n) columns spanning A's columns.
import XCTest
import Tensors

final class MatrixOpsTests: XCTestCase {
    private var savedThreads = 1
    override func setUp() { savedThreads = Parallel.threads }
    override func tearDown() { Parallel.setThreads(savedThreads) }

    private func matrix(_ rows: Int, _ cols: Int, key: UInt64) -> Tensor {
        let t = Tensor(uninitializedShape: [rows, cols])
        GaussianFill.fill(t.buffer, seed: 99, key: key)
        return t
    }

    func testTransposeOfNonSquareMatchesNaive() {
        for (threads, (r, c)) in [(1, (37, 70)), (2, (37, 70)), (2, (70, 37)), (2, (70, 4099))] {  // 70×4099: two threads really split the tiles
            Parallel.setThreads(threads)
            let a = matrix(r, c, key: UInt64(r * 1000 + c)), src = a.array
            let t = MatrixOps.transposed(a)
            XCTAssertEqual(t.shape, [c, r])
            var naive = [Float](repeating: 0, count: r * c)
            for i in 0..<r { for j in 0..<c { naive[j * r + i] = src[i * c + j] } }
            XCTAssertEqual(t.array, naive, "\(r)×\(c) on \(threads) threads")
            XCTAssertEqual(MatrixOps.transposed(t).array, src, "double transpose")
        }
    }

    func testRowAndColumnNormsMatchNaive() {
        // 37×8200: the row loop splits over two threads (grain 1); 37×70 does not.
        for (threads, (r, c)) in [(1, (37, 70)), (2, (37, 70)), (2, (37, 8200))] {
            let a = matrix(r, c, key: UInt64(c)), x = a.array
            Parallel.setThreads(threads)
            let rows = MatrixOps.rowNorms(a.pointer, rows: r, cols: c)
            let cols = MatrixOps.columnNorms(a.pointer, rows: r, cols: c)
            XCTAssertEqual(rows.count, r)
            XCTAssertEqual(cols.count, c)
            for i in 0..<r {
                let naive = (0..<c).reduce(0.0) { $0 + Double(x[i * c + $1]) * Double(x[i * c + $1]) }.squareRoot()
                XCTAssertEqual(rows[i], naive, accuracy: 1e-12 * naive, "row \(i)")
            }
            for j in 0..<c {
                let naive = (0..<r).reduce(0.0) { $0 + Double(x[$1 * c + j]) * Double(x[$1 * c + j]) }.squareRoot()
                XCTAssertEqual(cols[j], naive, accuracy: 1e-12 * naive, "column \(j)")
            }
            let frob = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            // sumOfSquares sums in Float lanes within 4096-blocks: ~1e-8 relative.
            XCTAssertEqual(a.sumOfSquares().squareRoot(), frob, accuracy: 1e-6 * frob)
        }
        // A hand example: [[3, 4], [0, 5]]: rows 5, 5; columns 3, √41.
        let h = Tensor(shape: [2, 2], values: [3, 4, 0, 5])
        XCTAssertEqual(MatrixOps.rowNorms(h.pointer, rows: 2, cols: 2), [5, 5])
        XCTAssertEqual(MatrixOps.columnNorms(h.pointer, rows: 2, cols: 2)[1], 41.0.squareRoot(), accuracy: 1e-12)
    }

    /// Checks Q [m, m] of fullQR(A [m, n]): QᵀQ = I, Qᵀ A upper-trapezoidal (so Q's first j
    /// columns span A's first j columns), and A's columns inside span(Q[:, ..<min(m, n)]).
    private func checkFullQR(_ m: Int, _ n: Int, key: UInt64) throws {
        let a = matrix(m, n, key: key), x = a.array
        let q = try LAPACK.fullQR(a)
        XCTAssertEqual(q.shape, [m, m])
        let qv = q.array
        for i in 0..<m {
            for j in 0..<m {
                let dot = (0..<m).reduce(0.0) { $0 + Double(qv[$1 * m + i]) * Double(qv[$1 * m + j]) }
                XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-5, "\(m)×\(n): (QᵀQ)[\(i), \(j)]")
            }
        }
        // R = Qᵀ A [m, n]: zero below the diagonal.
        for i in 0..<m {
            for j in 0..<min(i, n) {
                let r = (0..<m).reduce(0.0) { $0 + Double(qv[$1 * m + i]) * Double(x[$1 * n + j]) }
                XCTAssertEqual(r, 0, accuracy: 1e-5, "\(m)×\(n): R[\(i), \(j)]")
            }
        }
        // Projection residual of each column of A onto the first k = min(m, n) columns of Q.
        let k = min(m, n)
        for j in 0..<n {
            var residual = (0..<m).map { Double(x[$0 * n + j]) }
            let norm = residual.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for c in 0..<k {
                let coef = (0..<m).reduce(0.0) { $0 + Double(qv[$1 * m + c]) * Double(x[$1 * n + j]) }
                for r in 0..<m { residual[r] -= coef * Double(qv[r * m + c]) }
            }
            let rn = residual.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertLessThan(rn, 1e-5 * max(norm, 1), "\(m)×\(n): column \(j) leaves span(Q[:, ..<\(k)])")
        }
    }

    func testFullQRTallIsOrthogonalAndSpansColumns() throws {
        try checkFullQR(6, 3, key: 21)
        // The complement: Q's last m − n columns are orthogonal to every column of A.
        let a = matrix(6, 3, key: 21), q = try LAPACK.fullQR(a)
        for c in 3..<6 {
            for j in 0..<3 {
                let dot = (0..<6).reduce(0.0) { $0 + Double(q.pointer[$1 * 6 + c]) * Double(a.pointer[$1 * 3 + j]) }
                XCTAssertEqual(dot, 0, accuracy: 1e-5, "complement column \(c) · A column \(j)")
            }
        }
    }

    func testFullQRWideIsOrthogonalAndSpansColumns() throws {
        try checkFullQR(3, 6, key: 22)
        try checkFullQR(5, 5, key: 23)
    }
}
