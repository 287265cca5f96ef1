// WideRows: the steps of attention's softmax rows (Tensors/Ops/AttentionRows.swift) on 16-float
// lanes, for processors with AVX-512 (built for skylake-avx512 with the rest of this module).
// Each step gives the 8-lane code's bits: e^x is WideMath's copy of FastMath.exp, and the sums
// a row needs are returned as 8-lane partial sums accumulated in the 8-lane order (the low
// half of each 16-vector, then its high half), which the caller folds exactly as before.
// Rows are `width` floats, width a multiple of 16; lanes j ≥ valid are masked by replacement.

/// Lanes j + l ≥ valid of the 16-vector at j.
@inline(__always) private func masked(_ j: Int, _ valid: Int) -> SIMDMask<SIMD16<Int32>> {
    let lane = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    return lane .>= SIMD16<Int32>(repeating: Int32(clamping: valid - j))
}

public enum WideRows {
    /// Lane maxima of row[0 ..< valid] (masked lanes −∞), folded to 8 lanes.
    public static func maxLanes(_ row: UnsafePointer<Float>, valid: Int, width: Int) -> SIMD8<Float> {
        var max16 = SIMD16<Float>(repeating: -.infinity)
        var j = 0
        while j < width {
            var x = load16(row + j)
            if j + 16 > valid { x = x.replacing(with: -.infinity, where: masked(j, valid)) }
            max16 = max16.replacing(with: x, where: max16 .< x)
            j += 16
        }
        return max16.lowHalf.replacing(with: max16.highHalf, where: max16.lowHalf .< max16.highHalf)
    }

    /// row[j] ← e^(row[j] − shift) for j < valid, 0 beyond; returns the 8-lane partial sums.
    public static func expRow(_ row: UnsafeMutablePointer<Float>, valid: Int, width: Int, shift: Float) -> SIMD8<Float> {
        let s = SIMD16<Float>(repeating: shift)
        var sum8 = SIMD8<Float>()
        var j = 0
        while j < width {
            var e = exp16(load16(row + j) - s)
            if j + 16 > valid { e = e.replacing(with: 0, where: masked(j, valid)) }
            store16(e, row + j)
            sum8 += e.lowHalf
            sum8 += e.highHalf
            j += 16
        }
        return sum8
    }

    /// out[j] ← e^(x[j] − shift) for j < count (a multiple of 16), and the sums of the even and
    /// odd 8-float groups: cross-entropy's two 8-lane accumulators, in their order.
    public static func expSums(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int,
                               shift: Float) -> (SIMD8<Float>, SIMD8<Float>) {
        let s = SIMD16<Float>(repeating: shift)
        var sums = SIMD16<Float>()  // low half: the even groups' sums, high half: the odd ones'
        var j = 0
        while j < count {
            let e = exp16(load16(x + j) - s)
            store16(e, out + j)
            sums += e
            j += 16
        }
        return (sums.lowHalf, sums.highHalf)
    }

    /// row[0 ..< width] ← row · factor.
    public static func scaleRow(_ row: UnsafeMutablePointer<Float>, width: Int, by factor: Float) {
        let f = SIMD16<Float>(repeating: factor)
        var j = 0
        while j < width { store16(load16(row + j) * f, row + j); j += 16 }
    }

    /// row[j] ← e^(row[j] − shift) · inverse for j < valid, 0 beyond.
    public static func expScaledRow(_ row: UnsafeMutablePointer<Float>, valid: Int, width: Int,
                                    shift: Float, inverse: Float) {
        let s = SIMD16<Float>(repeating: shift), inv = SIMD16<Float>(repeating: inverse)
        var j = 0
        while j < width {
            var p = exp16(load16(row + j) - s) * inv
            if j + 16 > valid { p = p.replacing(with: 0, where: masked(j, valid)) }
            store16(p, row + j)
            j += 16
        }
    }

    /// 8-lane partial sums of g·p over j < valid.
    public static func dotLanes(_ p: UnsafePointer<Float>, _ g: UnsafePointer<Float>, valid: Int, width: Int) -> SIMD8<Float> {
        var dot8 = SIMD8<Float>()
        var j = 0
        while j < width {
            var x = load16(g + j) * load16(p + j)
            if j + 16 > valid { x = x.replacing(with: 0, where: masked(j, valid)) }
            dot8 += x.lowHalf
            dot8 += x.highHalf
            j += 16
        }
        return dot8
    }

    /// g[j] ← p[j] · (g[j] − dot) for j < valid, 0 beyond.
    public static func softmaxBackward(_ p: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                                       valid: Int, width: Int, dot: Float) {
        let d = SIMD16<Float>(repeating: dot)
        var j = 0
        while j < width {
            var x = load16(p + j) * (load16(g + j) - d)
            if j + 16 > valid { x = x.replacing(with: 0, where: masked(j, valid)) }
            store16(x, g + j)
            j += 16
        }
    }
}
