import XCTest
import Tensors

/// BLAS.sgemm computes a large product as two halves of C's rows, cut further into sub-bands
/// when there are more than two threads. Results must be bitwise the same on any thread count,
/// for every transpose, stride, alpha/beta and band boundary, and right against a Double
/// reference.
final class BLASTests: XCTestCase {
    private var savedThreads = 0
    override func setUp() { savedThreads = Parallel.threads }
    override func tearDown() { Parallel.setThreads(savedThreads) }

    /// (m, n, k): tall and wide C, uneven halves (352, 1000, 130 rows), matrix-vector products,
    /// sizes around the smallest half (2^21 multiply-adds) and below it (64³, 40×400×48:
    /// whole, SkylakeX's small-matrix kernels).
    private let shapes = [(2048, 128, 352), (352, 128, 2048), (128, 2048, 64), (1000, 37, 300),
                          (16, 1000, 640), (30000, 1, 200), (3000, 1, 200), (64, 64, 64), (40, 48, 400),
                          (200, 96, 400), (100, 100, 1000), (130, 128, 512)]

    func testProductsAreBitwiseTheSameOnAnyThreadCount() {
        let halved = shapes.filter { BLAS.halfCut(m: $0.0, n: $0.1, k: $0.2) != nil }.count
        XCTAssertGreaterThanOrEqual(halved, 9, "most shapes must be computed in halves")
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (alpha, beta): (Float, Float) in [(1, 0), (0.5, 1), (-2, 0.25)] {
                        let p = Product(m: m, n: n, k: k, transA: transA, transB: transB, seed: UInt64(m * 7 + n + k))
                        let label = "\(m)×\(k)·\(k)×\(n) transA \(transA) transB \(transB) α \(alpha) β \(beta)"
                        Parallel.setThreads(1)
                        let one = p.run(alpha: alpha, beta: beta)
                        for threads in [2, 3, 4] {
                            Parallel.setThreads(threads)
                            let differing = zip(p.run(alpha: alpha, beta: beta), one).filter { $0.bitPattern != $1.bitPattern }.count
                            XCTAssertEqual(differing, 0, "\(label): elements differ between 1 and \(threads) threads")
                        }
                        let reference = p.reference(alpha: alpha, beta: beta)
                        let worst = zip(one, reference).map { abs(Double($0) - $1) }.max() ?? 0
                        XCTAssertLessThan(worst, 1e-3 * Double(k).squareRoot(), label)
                    }
                }
            }
        }
    }

    /// Halves at half the rows (rounded to 8 from 128 rows); sub-bands cover each half in order
    /// and start at multiples of the row unit from its first row.
    func testBands() {
        XCTAssertNil(BLAS.halfCut(m: 64, n: 64, k: 64), "64³ runs whole")
        XCTAssertEqual(BLAS.bands(m: 64, n: 64, k: 64, threads: 4), [0..<64])
        XCTAssertEqual(BLAS.halfCut(m: 128, n: 128, k: 2048), 64)
        XCTAssertEqual(BLAS.halfCut(m: 350, n: 128, k: 2048), 176)
        XCTAssertEqual(BLAS.halfCut(m: 8, n: 4096, k: 4096), 4, "a few rows split evenly")
        XCTAssertEqual(BLAS.halfCut(m: 130, n: 4096, k: 4096), 64)
        XCTAssertEqual(BLAS.bands(m: 128, n: 128, k: 2048, threads: 1), [0..<64, 64..<128])
        XCTAssertEqual(BLAS.bands(m: 128, n: 128, k: 2048, threads: 2), [0..<64, 64..<128])
        for threads in [3, 4, 8] {
            for m in [128, 350, 2048] {
                let bands = BLAS.bands(m: m, n: 128, k: 2048, threads: threads)
                XCTAssertLessThanOrEqual(bands.count, threads)
                XCTAssertEqual(bands.first?.lowerBound, 0)
                XCTAssertEqual(bands.last?.upperBound, m)
                for (x, y) in zip(bands, bands.dropFirst()) { XCTAssertEqual(x.upperBound, y.lowerBound) }
                let cut = BLAS.halfCut(m: m, n: 128, k: 2048)!
                XCTAssertTrue(bands.contains { $0.lowerBound == cut }, "a band starts at the half")
                if BLAS.rowUnit > 0 {
                    for band in bands {
                        let start = band.lowerBound < cut ? 0 : cut
                        XCTAssertEqual((band.lowerBound - start) % BLAS.rowUnit, 0, "\(band) of \(m) rows")
                    }
                }
            }
        }
        XCTAssertGreaterThan(BLAS.bands(m: 2048, n: 128, k: 2048, threads: 4).count, 2)
    }

    /// Inside a parallel loop a product runs on its thread alone (the other threads are busy),
    /// and OpenBLAS itself stays on one thread outside `withOpenBLASThreads`.
    func testProductThreadsInsideLoopsAndOpenBLASScopes() {
        Parallel.setThreads(2)
        XCTAssertEqual(Parallel.productThreads, 2)
        XCTAssertEqual(BLAS.threads, 1)
        var inside = [0, 0]
        inside.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            Parallel.forIndexedRanges(2) { i, _ in out.p[i] = Parallel.productThreads }
        }
        XCTAssertEqual(inside, [1, 1])
        Parallel.withOpenBLASThreads {
            XCTAssertEqual(BLAS.threads, 2)
            XCTAssertEqual(Parallel.productThreads, 1)
            XCTAssertTrue(Parallel.inOpenBLASThreads)
        }
        XCTAssertEqual(BLAS.threads, 1)
        XCTAssertFalse(Parallel.inOpenBLASThreads)
        Parallel.withSingleThreadedBLAS { XCTAssertEqual(Parallel.productThreads, 1) }
        XCTAssertEqual(Parallel.productThreads, 2)
    }
}

/// One random product C = alpha·op(A)·op(B) + beta·C0 with row strides wider than the rows
/// (every operand is a block of a larger buffer), so wrong offsets or strides show.
private struct Product {
    let m, n, k: Int
    let transA, transB: Bool
    let a, b, c0: [Float]
    var lda: Int { (transA ? m : k) + 3 }
    var ldb: Int { (transB ? k : n) + 5 }
    var ldc: Int { n + 2 }

    init(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, seed: UInt64) {
        self.m = m; self.n = n; self.k = k; self.transA = transA; self.transB = transB
        var rng = RandomGenerator(seed: seed)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in rng.uniform() * 2 - 1 } }
        let aRows = transA ? k : m, bRows = transB ? n : k
        a = values(aRows * ((transA ? m : k) + 3))
        b = values(bRows * ((transB ? k : n) + 5))
        c0 = values(m * (n + 2))
    }

    func run(alpha: Float, beta: Float) -> [Float] {
        var c = c0
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                               a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                               beta: beta, c: c.baseAddress!, ldc: ldc)
                }
            }
        }
        return c
    }

    func reference(alpha: Float, beta: Float) -> [Double] {
        var c = c0.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let x = transA ? a[p * lda + i] : a[i * lda + p]
                    let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(x) * Double(y)
                }
                c[i * ldc + j] = Double(alpha) * sum + Double(beta) * Double(c0[i * ldc + j])
            }
        }
        return c
    }
}
