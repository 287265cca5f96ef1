// WideTiles: attention's register tiles (Tensors/Ops/AttentionTiles.swift) with 16-float
// lanes, for processors with AVX-512 (its softmax rows are in WideRows.swift). This module alone
// is compiled for skylake-avx512 on x86-64 (Package.swift), so SIMD16<Float> is one zmm register
// and a fused multiply-add covers 16 floats; Tensors calls it only when the processor reports
// AVX-512 (`WideLanes` in Tensors). Same contract as the 8-lane tiles, eight rows at a time
// (32 registers hold 16 accumulators), widths 16 or 32:
//   C[r, 0..<W] = Σ_{t < steps} a[r·aRow + t·aStep] · B[t, 0..<W]   (r < 8, ascending t, FMA)
// so each element's arithmetic is the 8-lane tile's, lane for lane. The two are separate
// copies of one shape on purpose: a target CPU applies to a whole module, so code shared with
// the 8-lane path would be built for AVX-512 too and could not run on AVX2-only processors.
// Everything here is inlined into `rowBlock`: the module must define no shared generic code,
// which the linker could pick for other modules' calls (scripts/test.sh checks).

public enum WideTiles {
    /// C[8, columns] for `columns` a positive multiple of 16: 32-wide tiles (16 accumulators,
    /// each loaded row of B used by eight rows of A), with a 16-wide one for the rest. `b` and
    /// `c` point at column 0; C rows at c + r·ldc are overwritten.
    public static func rowBlock8(columns: Int, steps: Int, a: UnsafePointer<Float>, aRow: Int, aStep: Int,
                                 b: UnsafePointer<Float>, bStride: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        var j = 0
        while j < columns {
            if columns - j == 16 {
                tile8x16(steps, a, aRow, aStep, b + j, bStride, c + j, ldc); j += 16
            } else {
                tile8x32(steps, a, aRow, aStep, b + j, bStride, c + j, ldc); j += 32
            }
        }
    }

    @inline(__always)
    private static func tile8x32(_ steps: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aStep: Int,
                                 _ b: UnsafePointer<Float>, _ bStride: Int,
                                 _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
        // Rows 0-3 and 4-7 from two pointers at fixed offsets: the address of every broadcast
        // is one base + index, not a chain of additions through the eight rows.
        var p0 = a, p4 = a + 4 * aRow, bp = b
        let o1 = aRow, o2 = 2 * aRow, o3 = 3 * aRow
        for _ in 0..<steps {
            let b0 = load16(bp), b1 = load16(bp + 16)
            var x = SIMD16<Float>(repeating: p0[0]); c00.addProduct(x, b0); c01.addProduct(x, b1)
            x = SIMD16<Float>(repeating: p0[o1]); c10.addProduct(x, b0); c11.addProduct(x, b1)
            x = SIMD16<Float>(repeating: p0[o2]); c20.addProduct(x, b0); c21.addProduct(x, b1)
            x = SIMD16<Float>(repeating: p0[o3]); c30.addProduct(x, b0); c31.addProduct(x, b1)
            x = SIMD16<Float>(repeating: p4[0]); c40.addProduct(x, b0); c41.addProduct(x, b1)
            x = SIMD16<Float>(repeating: p4[o1]); c50.addProduct(x, b0); c51.addProduct(x, b1)
            x = SIMD16<Float>(repeating: p4[o2]); c60.addProduct(x, b0); c61.addProduct(x, b1)
            x = SIMD16<Float>(repeating: p4[o3]); c70.addProduct(x, b0); c71.addProduct(x, b1)
            p0 += aStep; p4 += aStep; bp += bStride
        }
        store16(c00, c); store16(c01, c + 16)
        store16(c10, c + ldc); store16(c11, c + ldc + 16)
        store16(c20, c + 2 * ldc); store16(c21, c + 2 * ldc + 16)
        store16(c30, c + 3 * ldc); store16(c31, c + 3 * ldc + 16)
        store16(c40, c + 4 * ldc); store16(c41, c + 4 * ldc + 16)
        store16(c50, c + 5 * ldc); store16(c51, c + 5 * ldc + 16)
        store16(c60, c + 6 * ldc); store16(c61, c + 6 * ldc + 16)
        store16(c70, c + 7 * ldc); store16(c71, c + 7 * ldc + 16)
    }

    @inline(__always)
    private static func tile8x16(_ steps: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aStep: Int,
                                 _ b: UnsafePointer<Float>, _ bStride: Int,
                                 _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
        var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
        var ap = a, bp = b
        for _ in 0..<steps {
            let b0 = load16(bp)
            c0.addProduct(SIMD16(repeating: ap[0]), b0)
            c1.addProduct(SIMD16(repeating: ap[aRow]), b0)
            c2.addProduct(SIMD16(repeating: ap[2 * aRow]), b0)
            c3.addProduct(SIMD16(repeating: ap[3 * aRow]), b0)
            c4.addProduct(SIMD16(repeating: ap[4 * aRow]), b0)
            c5.addProduct(SIMD16(repeating: ap[5 * aRow]), b0)
            c6.addProduct(SIMD16(repeating: ap[6 * aRow]), b0)
            c7.addProduct(SIMD16(repeating: ap[7 * aRow]), b0)
            ap += aStep; bp += bStride
        }
        store16(c0, c); store16(c1, c + ldc); store16(c2, c + 2 * ldc); store16(c3, c + 3 * ldc)
        store16(c4, c + 4 * ldc); store16(c5, c + 5 * ldc); store16(c6, c + 6 * ldc); store16(c7, c + 7 * ldc)
    }
}
