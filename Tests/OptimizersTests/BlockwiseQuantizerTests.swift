// BlockwiseQuantizerTests: the 8-bit block-wise codebooks and (de)quantization of
// optimizers-elementwise-zo.md §8.2 — map anchors, the quantize test vectors, ties, the sign
// guard, zero blocks, the round-trip error bound and thread-count independence.
import XCTest
import Optimizers
import Tensors

final class BlockwiseQuantizerTests: XCTestCase {
    private var savedThreads = 1
    override func setUp() { savedThreads = Parallel.threads }
    override func tearDown() { Parallel.setThreads(savedThreads) }

    /// Quantizes `values` with `signed`; returns codes, absmax and the dequantized values.
    private func roundTrip(_ values: [Float], signed: Bool) -> (codes: [UInt8], absmax: [Float], values: [Float]) {
        let n = values.count, nb = BlockwiseQuantizer.blocks(n)
        var codes = [UInt8](repeating: 7, count: n), absmax = [Float](repeating: -1, count: nb)
        var out = [Float](repeating: .nan, count: n)
        values.withUnsafeBufferPointer { v in
            codes.withUnsafeMutableBufferPointer { c in
                absmax.withUnsafeMutableBufferPointer { a in
                    BlockwiseQuantizer.quantize(v.baseAddress!, count: n, signed: signed, codes: c.baseAddress!, absmax: a.baseAddress!)
                }
            }
        }
        codes.withUnsafeBufferPointer { c in
            absmax.withUnsafeBufferPointer { a in
                out.withUnsafeMutableBufferPointer { o in
                    BlockwiseQuantizer.dequantize(codes: c.baseAddress!, absmax: a.baseAddress!, count: n, signed: signed, into: o.baseAddress!)
                }
            }
        }
        return (codes, absmax, out)
    }

    func testMapsHave256SortedCodes() {
        for map in [BlockwiseQuantizer.signedMap, BlockwiseQuantizer.unsignedMap] {
            XCTAssertEqual(map.count, 256)
            for i in 1..<256 { XCTAssertLessThan(map[i - 1], map[i], "map not strictly ascending at \(i)") }
        }
        XCTAssertEqual(BlockwiseQuantizer.signedMap.filter { $0 < 0 }.count, 127)
        XCTAssertFalse(BlockwiseQuantizer.signedMap.contains(-1), "−1 is absent from the signed map")
        XCTAssertEqual(BlockwiseQuantizer.unsignedMap.filter { $0 < 0 }.count, 0)
    }

    func testSignedMapAnchors() {
        let s = BlockwiseQuantizer.signedMap
        assertClose([s[0], s[127], s[128], s[254], s[255]], [-0.99296874, 0, 5.5e-7, 0.99296874, 1], rel: 1e-6, abs: 0)
        XCTAssertEqual(s[126], -s[128], "the map is symmetric around index 127")
        for i in 0..<127 { XCTAssertEqual(s[i], -s[254 - i], "symmetry at \(i)") }
    }

    func testUnsignedMapAnchors() {
        let u = BlockwiseQuantizer.unsignedMap
        assertClose([u[0], u[1], u[2], u[254], u[255]], [0, 3.25e-7, 7.75e-7, 0.9964844, 1], rel: 1e-6, abs: 0)
    }

    func testSignedQuantizeVectorWithAbsmaxOne() {
        // One block whose absmax is 1 (the −1), so a = 1 as in §8.2.
        let r = roundTrip([0.5, -1, 0.25, 0, 0.001], signed: true)
        XCTAssertEqual(r.codes, [219, 0, 201, 127, 142])
        XCTAssertEqual(r.absmax, [1])
        assertClose(r.values, [0.50078124, -0.99296874, 0.24765624, 0, 0.00094375], rel: 1e-6, abs: 0)
    }

    func testUnsignedQuantizeVectorWithAbsmaxOne() {
        let r = roundTrip([1, 0.5, 0.1, 0.01, 0.001], signed: false)
        XCTAssertEqual(r.codes, [255, 183, 126, 62, 30])
        XCTAssertEqual(r.absmax, [1])
        assertClose(r.values, [1, 0.49726561, 0.099296875, 0.0098593747, 0.00097187504], rel: 1e-6, abs: 0)
    }

    func testAbsmaxScalesTheCodes() {
        // The same vector times 4: same codes, absmax 4, values times 4.
        let r = roundTrip([2, -4, 1, 0, 0.004], signed: true)
        XCTAssertEqual(r.codes, [219, 0, 201, 127, 142])
        XCTAssertEqual(r.absmax, [4])
        assertClose(r.values, [2.00312496, -3.97187496, 0.99062496, 0, 0.003775], rel: 1e-6, abs: 0)
    }

    func testTiesGoToTheLowerIndex() {
        let s = BlockwiseQuantizer.signedMap, u = BlockwiseQuantizer.unsignedMap
        // Halving is exact, so these sit exactly between two codes.
        s.withUnsafeBufferPointer { m in
            XCTAssertEqual(BlockwiseQuantizer.nearest(s[128] / 2, in: m.baseAddress!), 127)
            XCTAssertEqual(BlockwiseQuantizer.nearest(s[126] / 2, in: m.baseAddress!), 126)
            XCTAssertEqual(BlockwiseQuantizer.nearest(2, in: m.baseAddress!), 255)
            XCTAssertEqual(BlockwiseQuantizer.nearest(-2, in: m.baseAddress!), 0)
        }
        u.withUnsafeBufferPointer { m in XCTAssertEqual(BlockwiseQuantizer.nearest(u[1] / 2, in: m.baseAddress!), 0) }
        // Through quantize: absmax 1, a positive tie between 0 and 5.5e-7 stays at 127.
        XCTAssertEqual(roundTrip([1, s[128] / 2], signed: true).codes, [255, 127])
        XCTAssertEqual(roundTrip([1, u[1] / 2], signed: false).codes, [255, 0])
    }

    func testSignGuardMovesTinyNegativeOffPositiveZero() {
        let s = BlockwiseQuantizer.signedMap
        let r = roundTrip([1, -1e-8, 1e-8, 0, -0.0], signed: true)
        XCTAssertEqual(r.codes, [255, 126, 127, 127, 127])
        XCTAssertEqual(r.values[1], s[126])
        XCTAssertLessThan(r.values[1], 0, "a negative first moment stays negative")
        XCTAssertEqual(r.values[2], 0)
        // Relative to absmax: −1e-3 in a block of absmax 1e5 is −1e-8 normalised.
        let big = roundTrip([1e5, -1e-3], signed: true)
        XCTAssertEqual(big.codes, [255, 126])
        XCTAssertEqual(big.values[1], s[126] * 1e5, accuracy: 1e-9)
        // The unsigned map has no guard: a tiny value rounds to index 0.
        XCTAssertEqual(roundTrip([1, 1e-8], signed: false).codes, [255, 0])
    }

    func testAllZeroBlockDequantizesToZero() {
        var values = [Float](repeating: 0, count: 600)
        values[300] = 3  // block 1 non-zero; blocks 0 and 2 (short) all zero
        for signed in [true, false] {
            let r = roundTrip(values, signed: signed)
            XCTAssertEqual(r.absmax, [0, 3, 0])
            XCTAssertTrue(r.codes[0..<256].allSatisfy { $0 == 0 } && r.codes[512...].allSatisfy { $0 == 0 })
            for (i, v) in r.values.enumerated() { XCTAssertEqual(v, i == 300 ? 3 : 0, "element \(i)") }
        }
    }

    func testRoundTripErrorIsAtMostHalfTheCodeGap() {
        // 3000 values: 11 full blocks and a short one of 184, magnitudes from 1e-4 to 1e3.
        let n = 3000
        var values = [Float](repeating: 0, count: n)
        values.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: 11, key: 3) }
        for i in 0..<n { values[i] *= Float(pow(10.0, Double((i / 256) % 8) - 4)) }
        XCTAssertEqual(BlockwiseQuantizer.blocks(n), 12)
        for signed in [true, false] {
            let x = signed ? values : values.map { $0 * $0 }
            let map = signed ? BlockwiseQuantizer.signedMap : BlockwiseQuantizer.unsignedMap
            let r = roundTrip(x, signed: signed)
            for b in 0..<12 {
                let lo = b * 256, hi = min(n, lo + 256)
                XCTAssertEqual(r.absmax[b], x[lo..<hi].map { abs($0) }.max()!, "absmax of block \(b)")
            }
            var worst = 0.0
            for i in 0..<n {
                let a = Double(r.absmax[i / 256]), t = Double(x[i]) / a
                let upper = map.firstIndex { Double($0) >= t } ?? 255
                var bound: Double
                if upper == 0 { bound = Double(map[0]) - t }  // below the most negative code
                else { bound = (Double(map[upper]) - Double(map[upper - 1])) / 2 }
                // The sign guard may take a tiny negative value to −5.5e-7 instead of 0: a full gap.
                if signed && upper == 127 && t < 0 { bound *= 2 }
                let err = abs(Double(x[i]) - Double(r.values[i]))
                XCTAssertLessThanOrEqual(err, bound * a * (1 + 1e-5) + abs(Double(x[i])) * 1e-6, "\(signed ? "signed" : "unsigned") element \(i)")
                worst = max(worst, err / a)
            }
            XCTAssertLessThan(worst, signed ? 0.0071 : 0.0037)  // ≤ half the widest gap (0.00703 at −1 for signed)
        }
    }

    func testCodesDoNotDependOnThreadCount() {
        // 40 blocks: with grain 16, two threads split the blocks 20/20.
        var values = [Float](repeating: 0, count: 10_000)
        values.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: 5, key: 9, std: 0.01) }
        Parallel.setThreads(1)
        let one = roundTrip(values, signed: true), oneU = roundTrip(values.map { $0 * $0 }, signed: false)
        Parallel.setThreads(2)
        let two = roundTrip(values, signed: true), twoU = roundTrip(values.map { $0 * $0 }, signed: false)
        XCTAssertEqual(one.codes, two.codes)
        XCTAssertEqual(one.absmax, two.absmax)
        XCTAssertEqual(one.values, two.values)
        XCTAssertEqual(oneU.codes, twoU.codes)
        XCTAssertEqual(oneU.values, twoU.values)
        XCTAssertGreaterThan(Set(one.codes).count, 100, "the codes use much of the map")
    }

    func testBucketedSearchPicksTheSameCodeAsAFullSearch() {
        // Every code, every float midpoint between neighbours and the floats either side of both,
        // plus Gaussian values at many scales; each block starts with 1 so its absmax is 1.
        for signed in [true, false] {
            let map = signed ? BlockwiseQuantizer.signedMap : BlockwiseQuantizer.unsignedMap
            var probes: [Float] = []
            for i in 0..<256 {
                probes += [map[i], map[i].nextUp, map[i].nextDown]
                if i < 255 {
                    let mid = (map[i] + map[i + 1]) / 2
                    probes += [mid, mid.nextUp, mid.nextDown]
                }
            }
            var g = [Float](repeating: 0, count: 6000)
            g.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: 3, key: signed ? 1 : 2) }
            for (i, x) in g.enumerated() { probes.append(x * Float([1, 1e-2, 1e-4, 1e-6, 1e-8][i % 5])) }
            probes = probes.map { min(max(signed ? $0 : abs($0), -1), 1) }
            var values: [Float] = []
            for (i, p) in probes.enumerated() {
                if i % 255 == 0 { values.append(1) }
                values.append(p)
            }
            let r = roundTrip(values, signed: signed)
            map.withUnsafeBufferPointer { m in
                for (i, x) in values.enumerated() {
                    var q = BlockwiseQuantizer.nearest(x, in: m.baseAddress!)
                    if signed && x != 0 && m[q].sign != x.sign { q += x > 0 ? 1 : -1 }
                    XCTAssertEqual(Int(r.codes[i]), q, "\(signed ? "signed" : "unsigned") value \(x)")
                }
            }
        }
    }
}
