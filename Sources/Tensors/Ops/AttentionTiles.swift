// AttentionTiles: the register-tile products inside causalAttention (Ops/Attention.swift).
// Attention works in blocks of 8 rows; with 8-float lanes a block is two [4, W] tiles,
// W = 8, 16 or 24 columns (one to three SIMD8 lanes per row, up to 12 accumulators):
//   C[r, 0..<W] = Σ_{t < steps} a(r, t) · B[t, 0..<W],   a(r, t) = a[r·aRow + t·aStep],
// summed with fused multiply-adds in ascending t from zero. Each element's arithmetic depends
// only on its own row of a and column of B, never on the tile widths, the thread or the caller,
// so a product recomputed in backward has the bits forward had.
//
// Attention's three products are this tile with other strides, on the head's zero-padded
// copies (rows and columns rounded up to the lanes), so no tile ever needs an edge case:
//   scores   S[i0+r, j]  = Σ_d Qs[i0+r, d] · Kᵀ[d, j]      aRow = hd', aStep = 1, steps = hd'
//   rows     O[i0+r, c]  = Σ_j P[i0+r, j] · V[j, c]        aRow = T',  aStep = 1, steps = i0+8
//   columns dV[j0+r, c]  = Σ_i P[j0+i, j0+r] · dO[j0+i, c] aRow = 1,   aStep = T', steps = T−j0
// Measured on one core with Haswell code (AVX2 + FMA), T = 256, hd = 32, causal half only:
// 115–135 GFLOP/s, where OpenBLAS's sgemm reached 105–113 on the 64-row causal blocks.
// Processors with AVX-512 run 8-row tiles on 16-float lanes (WideTiles) with the same bits
// (one core, attention forward + backward at B8 T256 H8 hd32: 6.4–6.7 ms with 4-row tiles,
// 6.0–6.5 with 8-row ones);
// this file also holds the padded copies (packRows, packTransposed) and the write-back (emit).

import Foundation
import WideTiles

public enum AttentionTiles {
    /// Floats per SIMD lane group of the tiles in use: 16 (WideTiles) where `WideLanes.enabled`,
    /// else 8. A head's copies, row blocks and widths are padded to multiples of it. Both give
    /// the same bits (each element's sum runs over the same terms in the same order; padding
    /// adds exact zeros).
    public static var lanes: Int { WideLanes.enabled ? 16 : 8 }

    /// C[8, columns]: WideTiles' 8-row tiles when `lanes` is 16 (columns a multiple of 16), else
    /// two 4-row blocks of the 8-lane tiles below (16 registers hold no more). The same bits:
    /// each element's sum is its own row's and column's.
    @inline(__always)
    static func rowBlock8(lanes: Int, columns: Int, steps: Int, a: UnsafePointer<Float>, aRow: Int, aStep: Int,
                          b: UnsafePointer<Float>, bStride: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if lanes == 16 {
            WideTiles.rowBlock8(columns: columns, steps: steps, a: a, aRow: aRow, aStep: aStep,
                                b: b, bStride: bStride, c: c, ldc: ldc)
        } else {
            rowBlock(columns: columns, steps: steps, a: a, aRow: aRow, aStep: aStep, b: b, bStride: bStride, c: c, ldc: ldc)
            rowBlock(columns: columns, steps: steps, a: a + 4 * aRow, aRow: aRow, aStep: aStep, b: b, bStride: bStride,
                     c: c + 4 * ldc, ldc: ldc)
        }
    }

    /// C[4, columns] for `columns` a positive multiple of 8: 24-wide tiles, with 16- and
    /// 8-wide ones for the rest (32 → 16 + 16, 40 → 24 + 16, 64 → 24 + 24 + 16). `b` and `c`
    /// point at column 0; C rows at c + r·ldc are overwritten.
    @inline(__always)
    static func rowBlock(columns: Int, steps: Int, a: UnsafePointer<Float>, aRow: Int, aStep: Int,
                         b: UnsafePointer<Float>, bStride: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        var j = 0
        while j < columns {
            let rest = columns - j
            if rest == 8 {
                tile8(steps, a, aRow, aStep, b + j, bStride, c + j, ldc); j += 8
            } else if rest == 16 || rest % 24 == 8 {
                tile16(steps, a, aRow, aStep, b + j, bStride, c + j, ldc); j += 16
            } else {
                tile24(steps, a, aRow, aStep, b + j, bStride, c + j, ldc); j += 24
            }
        }
    }

    @inline(__always)
    private static func tile24(_ steps: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aStep: Int,
                               _ b: UnsafePointer<Float>, _ bStride: Int,
                               _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c02 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>(), c12 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c22 = SIMD8<Float>()
        var c30 = SIMD8<Float>(), c31 = SIMD8<Float>(), c32 = SIMD8<Float>()
        var ap = a, bp = b
        for _ in 0..<steps {
            let b0 = Lanes.load(bp), b1 = Lanes.load(bp + 8), b2 = Lanes.load(bp + 16)
            var x = SIMD8<Float>(repeating: ap[0])
            c00.addProduct(x, b0); c01.addProduct(x, b1); c02.addProduct(x, b2)
            x = SIMD8<Float>(repeating: ap[aRow])
            c10.addProduct(x, b0); c11.addProduct(x, b1); c12.addProduct(x, b2)
            x = SIMD8<Float>(repeating: ap[2 * aRow])
            c20.addProduct(x, b0); c21.addProduct(x, b1); c22.addProduct(x, b2)
            x = SIMD8<Float>(repeating: ap[3 * aRow])
            c30.addProduct(x, b0); c31.addProduct(x, b1); c32.addProduct(x, b2)
            ap += aStep; bp += bStride
        }
        Lanes.store(c00, c); Lanes.store(c01, c + 8); Lanes.store(c02, c + 16)
        Lanes.store(c10, c + ldc); Lanes.store(c11, c + ldc + 8); Lanes.store(c12, c + ldc + 16)
        Lanes.store(c20, c + 2 * ldc); Lanes.store(c21, c + 2 * ldc + 8); Lanes.store(c22, c + 2 * ldc + 16)
        Lanes.store(c30, c + 3 * ldc); Lanes.store(c31, c + 3 * ldc + 8); Lanes.store(c32, c + 3 * ldc + 16)
    }

    @inline(__always)
    private static func tile16(_ steps: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aStep: Int,
                               _ b: UnsafePointer<Float>, _ bStride: Int,
                               _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var ap = a, bp = b
        for _ in 0..<steps {
            let b0 = Lanes.load(bp), b1 = Lanes.load(bp + 8)
            var x = SIMD8<Float>(repeating: ap[0]); c00.addProduct(x, b0); c01.addProduct(x, b1)
            x = SIMD8<Float>(repeating: ap[aRow]); c10.addProduct(x, b0); c11.addProduct(x, b1)
            x = SIMD8<Float>(repeating: ap[2 * aRow]); c20.addProduct(x, b0); c21.addProduct(x, b1)
            x = SIMD8<Float>(repeating: ap[3 * aRow]); c30.addProduct(x, b0); c31.addProduct(x, b1)
            ap += aStep; bp += bStride
        }
        Lanes.store(c00, c); Lanes.store(c01, c + 8)
        Lanes.store(c10, c + ldc); Lanes.store(c11, c + ldc + 8)
        Lanes.store(c20, c + 2 * ldc); Lanes.store(c21, c + 2 * ldc + 8)
        Lanes.store(c30, c + 3 * ldc); Lanes.store(c31, c + 3 * ldc + 8)
    }

    @inline(__always)
    private static func tile8(_ steps: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aStep: Int,
                              _ b: UnsafePointer<Float>, _ bStride: Int,
                              _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
        var ap = a, bp = b
        for _ in 0..<steps {
            let b0 = Lanes.load(bp)
            c0.addProduct(SIMD8(repeating: ap[0]), b0)
            c1.addProduct(SIMD8(repeating: ap[aRow]), b0)
            c2.addProduct(SIMD8(repeating: ap[2 * aRow]), b0)
            c3.addProduct(SIMD8(repeating: ap[3 * aRow]), b0)
            ap += aStep; bp += bStride
        }
        Lanes.store(c0, c); Lanes.store(c1, c + ldc); Lanes.store(c2, c + 2 * ldc); Lanes.store(c3, c + 3 * ldc)
    }

    // MARK: - The head's padded copies

    /// dst[t, c] = scale · src[t, c] for t < rows, c < cols (src row stride `stride`); zero
    /// for cols ≤ c < dstStride and for rows ≤ t < paddedRows. dst is [paddedRows, dstStride].
    static func packRows(_ src: UnsafePointer<Float>, stride: Int, rows: Int, cols: Int, scale: Float,
                         into dst: UnsafeMutablePointer<Float>, dstStride: Int, paddedRows: Int) {
        for t in 0..<rows {
            let s = src + t * stride, d = dst + t * dstStride
            if scale == 1 {
                d.update(from: s, count: cols)
            } else {
                for c in 0..<cols { d[c] = scale * s[c] }
            }
            if dstStride > cols { (d + cols).update(repeating: 0, count: dstStride - cols) }
        }
        if paddedRows > rows { (dst + rows * dstStride).update(repeating: 0, count: (paddedRows - rows) * dstStride) }
    }

    /// dst[c, t] = src[t, c] for t < rows, c < cols (src row stride `stride`); zero elsewhere
    /// in dst [paddedCols, paddedRows] (the transposed copy's rows are src's columns).
    static func packTransposed(_ src: UnsafePointer<Float>, stride: Int, rows: Int, cols: Int,
                               into dst: UnsafeMutablePointer<Float>, paddedRows: Int, paddedCols: Int) {
        // 8×8 blocks through registers, then the rows and columns left over one by one.
        let rows8 = rows & ~7, cols8 = cols & ~7
        for t in Swift.stride(from: 0, to: rows8, by: 8) {
            for c in Swift.stride(from: 0, to: cols8, by: 8) {
                transpose8x8(src + t * stride + c, stride: stride, into: dst + c * paddedRows + t, dstStride: paddedRows)
            }
        }
        for t in 0..<rows {
            let s = src + t &* stride, d = dst + t
            for c in (t < rows8 ? cols8 : 0)..<cols { d[c &* paddedRows] = s[c] }
        }
        if paddedRows > rows {
            for c in 0..<cols { (dst + c * paddedRows + rows).update(repeating: 0, count: paddedRows - rows) }
        }
        if paddedCols > cols { (dst + cols * paddedRows).update(repeating: 0, count: (paddedCols - cols) * paddedRows) }
    }

    /// dst[c, t] = src[t, c] for an 8×8 block: three rounds of splitting row pairs into their
    /// even and odd lanes (each round rotates the 6-bit index (row, column) right by one bit;
    /// three rounds swap row and column).
    @inline(__always)
    private static func transpose8x8(_ src: UnsafePointer<Float>, stride: Int,
                                     into dst: UnsafeMutablePointer<Float>, dstStride: Int) {
        var r = (Lanes.load(src), Lanes.load(src + stride), Lanes.load(src + 2 * stride),
                 Lanes.load(src + 3 * stride), Lanes.load(src + 4 * stride), Lanes.load(src + 5 * stride),
                 Lanes.load(src + 6 * stride), Lanes.load(src + 7 * stride))
        for _ in 0..<3 {
            r = (SIMD8(lowHalf: r.0.evenHalf, highHalf: r.1.evenHalf), SIMD8(lowHalf: r.2.evenHalf, highHalf: r.3.evenHalf),
                 SIMD8(lowHalf: r.4.evenHalf, highHalf: r.5.evenHalf), SIMD8(lowHalf: r.6.evenHalf, highHalf: r.7.evenHalf),
                 SIMD8(lowHalf: r.0.oddHalf, highHalf: r.1.oddHalf), SIMD8(lowHalf: r.2.oddHalf, highHalf: r.3.oddHalf),
                 SIMD8(lowHalf: r.4.oddHalf, highHalf: r.5.oddHalf), SIMD8(lowHalf: r.6.oddHalf, highHalf: r.7.oddHalf))
        }
        Lanes.store(r.0, dst); Lanes.store(r.1, dst + dstStride); Lanes.store(r.2, dst + 2 * dstStride)
        Lanes.store(r.3, dst + 3 * dstStride); Lanes.store(r.4, dst + 4 * dstStride)
        Lanes.store(r.5, dst + 5 * dstStride); Lanes.store(r.6, dst + 6 * dstStride)
        Lanes.store(r.7, dst + 7 * dstStride)
    }

    /// Rows r < `rows` with first + r < limit of a [rows, ldt] tile into dst rows (stride
    /// `stride`), `cols` columns each: added when `accumulate`, stored otherwise.
    @inline(__always)
    static func emit(_ tile: UnsafePointer<Float>, ldt: Int, rows: Int, first: Int, limit: Int, cols: Int,
                     into dst: UnsafeMutablePointer<Float>, stride: Int, accumulate: Bool) {
        for r in 0..<min(rows, limit - first) {
            let s = tile + r * ldt, d = dst + (first + r) * stride
            if accumulate {
                var c = 0
                while c + 8 <= cols { Lanes.store(Lanes.load(d + c) + Lanes.load(s + c), d + c); c += 8 }
                while c < cols { d[c] += s[c]; c += 1 }
            } else {
                d.update(from: s, count: cols)
            }
        }
    }
}
