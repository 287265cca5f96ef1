// WideTiles: attention's register tiles (Tensors/Ops/AttentionTiles.swift) with 16-float
// lanes, for processors with AVX-512 (its softmax rows are in WideRows.swift). This module alone is compiled for skylake-avx512 on
// x86-64 (Package.swift), so SIMD16<Float> is one zmm register and a fused multiply-add covers
// 16 floats; Tensors calls it only when the processor reports AVX-512 (`WideLanes` in Tensors).
// Same contract as the 8-lane tiles, with widths 16, 32 or 48:
//   C[r, 0..<W] = Σ_{t < steps} a[r·aRow + t·aStep] · B[t, 0..<W]   (r < 4, ascending t, FMA)
// so each element's arithmetic is the 8-lane tile's, lane for lane. The two are separate
// copies of one shape on purpose: a target CPU applies to a whole module, so code shared with
// the 8-lane path would be built for AVX-512 too and could not run on AVX2-only processors.
// Everything here is inlined into `rowBlock`: the module must define no shared generic code,
// which the linker could pick for other modules' calls (scripts/test.sh checks).

public enum WideTiles {
    /// C[4, columns] for `columns` a positive multiple of 16: 48-wide tiles, with 32- and
    /// 16-wide ones for the rest (32 → 32, 64 → 32 + 32, 80 → 48 + 32). `b` and `c` point at
    /// column 0; C rows at c + r·ldc are overwritten.
    public static func rowBlock(columns: Int, steps: Int, a: UnsafePointer<Float>, aRow: Int, aStep: Int,
                                b: UnsafePointer<Float>, bStride: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        var j = 0
        while j < columns {
            let rest = columns - j
            if rest == 16 {
                tile16(steps, a, aRow, aStep, b + j, bStride, c + j, ldc); j += 16
            } else if rest == 32 || rest % 48 == 16 {
                tile32(steps, a, aRow, aStep, b + j, bStride, c + j, ldc); j += 32
            } else {
                tile48(steps, a, aRow, aStep, b + j, bStride, c + j, ldc); j += 48
            }
        }
    }

    @inline(__always)
    private static func tile48(_ steps: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aStep: Int,
                               _ b: UnsafePointer<Float>, _ bStride: Int,
                               _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c02 = SIMD16<Float>()
        var c10 = SIMD16<Float>(), c11 = SIMD16<Float>(), c12 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c22 = SIMD16<Float>()
        var c30 = SIMD16<Float>(), c31 = SIMD16<Float>(), c32 = SIMD16<Float>()
        var ap = a, bp = b
        for _ in 0..<steps {
            let b0 = load16(bp), b1 = load16(bp + 16), b2 = load16(bp + 32)
            var x = SIMD16<Float>(repeating: ap[0])
            c00.addProduct(x, b0); c01.addProduct(x, b1); c02.addProduct(x, b2)
            x = SIMD16<Float>(repeating: ap[aRow])
            c10.addProduct(x, b0); c11.addProduct(x, b1); c12.addProduct(x, b2)
            x = SIMD16<Float>(repeating: ap[2 * aRow])
            c20.addProduct(x, b0); c21.addProduct(x, b1); c22.addProduct(x, b2)
            x = SIMD16<Float>(repeating: ap[3 * aRow])
            c30.addProduct(x, b0); c31.addProduct(x, b1); c32.addProduct(x, b2)
            ap += aStep; bp += bStride
        }
        store16(c00, c); store16(c01, c + 16); store16(c02, c + 32)
        store16(c10, c + ldc); store16(c11, c + ldc + 16); store16(c12, c + ldc + 32)
        store16(c20, c + 2 * ldc); store16(c21, c + 2 * ldc + 16); store16(c22, c + 2 * ldc + 32)
        store16(c30, c + 3 * ldc); store16(c31, c + 3 * ldc + 16); store16(c32, c + 3 * ldc + 32)
    }

    @inline(__always)
    private static func tile32(_ steps: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aStep: Int,
                               _ b: UnsafePointer<Float>, _ bStride: Int,
                               _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var ap = a, bp = b
        for _ in 0..<steps {
            let b0 = load16(bp), b1 = load16(bp + 16)
            var x = SIMD16<Float>(repeating: ap[0]); c00.addProduct(x, b0); c01.addProduct(x, b1)
            x = SIMD16<Float>(repeating: ap[aRow]); c10.addProduct(x, b0); c11.addProduct(x, b1)
            x = SIMD16<Float>(repeating: ap[2 * aRow]); c20.addProduct(x, b0); c21.addProduct(x, b1)
            x = SIMD16<Float>(repeating: ap[3 * aRow]); c30.addProduct(x, b0); c31.addProduct(x, b1)
            ap += aStep; bp += bStride
        }
        store16(c00, c); store16(c01, c + 16)
        store16(c10, c + ldc); store16(c11, c + ldc + 16)
        store16(c20, c + 2 * ldc); store16(c21, c + 2 * ldc + 16)
        store16(c30, c + 3 * ldc); store16(c31, c + 3 * ldc + 16)
    }

    @inline(__always)
    private static func tile16(_ steps: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aStep: Int,
                               _ b: UnsafePointer<Float>, _ bStride: Int,
                               _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
        var ap = a, bp = b
        for _ in 0..<steps {
            let b0 = load16(bp)
            c0.addProduct(SIMD16(repeating: ap[0]), b0)
            c1.addProduct(SIMD16(repeating: ap[aRow]), b0)
            c2.addProduct(SIMD16(repeating: ap[2 * aRow]), b0)
            c3.addProduct(SIMD16(repeating: ap[3 * aRow]), b0)
            ap += aStep; bp += bStride
        }
        store16(c0, c); store16(c1, c + ldc); store16(c2, c + 2 * ldc); store16(c3, c + 3 * ldc)
    }
}
