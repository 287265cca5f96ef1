// WideMath: e^x and the logistic sigmoid on 16 floats, operation for operation the steps of
// Tensors' FastMath (SIMDMath.swift: Cephes expf), so each lane gives FastMath's bits. Copied
// because a target CPU applies to a whole module. FastMath's selections by comparison (the
// flush to 0, σ's choice by sign) are written with sign bits instead: a 16-lane Float
// comparison compiled to a loop over the lanes, and comparing in 8-lane halves made the
// compiler run everything on 8 lanes. The input clamps compile to min / max and stay.

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always) func store16(_ x: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD16<Float>.self)
}

/// e^x for 16 lanes: FastMath.exp's steps (Cephes expf), operation for operation.
@inline(__always) func exp16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let maxInput: Float = 88.376_262_664_794_9, zeroBelow: Float = -87, magic: Float = 12_582_912
    let hi = SIMD16<Float>(repeating: maxInput), lo = SIMD16<Float>(repeating: zeroBelow - 0.5)
    var v = x.replacing(with: hi, where: x .> hi)
    v = v.replacing(with: lo, where: v .< lo)
    let magicV = SIMD16<Float>(repeating: magic)
    let t = magicV.addingProduct(v, SIMD16(repeating: 1.442_695_040_9))
    let n = t - magicV
    var r = v.addingProduct(n, SIMD16(repeating: -0.693_359_375))
    r = r.addingProduct(n, SIMD16(repeating: 2.121_944_400_5e-4))
    var p = SIMD16<Float>(repeating: 1.398_199_950_7e-3).addingProduct(SIMD16(repeating: 1.987_569_150_0e-4), r)
    p = SIMD16<Float>(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
    let er = r.addingProduct(p, r * r) + 1
    let nBits = unsafeBitCast(t, to: SIMD16<Int32>.self) &- (0x4B40_0000 &- 127)
    let y = er * unsafeBitCast(nBits &<< 23, to: SIMD16<Float>.self)
    // FastMath flushes to 0 where x < zeroBelow: here y · keep, keep 1 or 0 by the sign of
    // d = (x − zeroBelow)·2^100 + 1, which is negative exactly where x < zeroBelow (x = zeroBelow
    // gives 1; the next float down, −7.6e-6·2^100 + 1). So y stays exact or becomes +0, as
    // there; a NaN x has a NaN y either way.
    let d = (x - SIMD16(repeating: zeroBelow)) * SIMD16(repeating: 0x1p100) + 1
    let below = unsafeBitCast(d, to: SIMD16<Int32>.self) &>> 31  // all ones where d < 0
    return y * unsafeBitCast(SIMD16<Int32>(repeating: 0x3F80_0000) & ~below, to: SIMD16<Float>.self)
}


/// σ(x) for 16 lanes: FastMath.sigmoid's steps (from e^−|x|). −|x| is x with the sign bit
/// set, and the result is chosen by x's sign bit (x = −0, "x ≥ 0" for FastMath, gives e = 1
/// and e·s = s, the same value either way).
@inline(__always) func sigmoid16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
    let e = exp16(unsafeBitCast(bits | 0x8000_0000, to: SIMD16<Float>.self))  // e^−|x|
    let s = SIMD16<Float>(repeating: 1) / (SIMD16<Float>(repeating: 1) + e)
    let negative = unsafeBitCast(unsafeBitCast(x, to: SIMD16<Int32>.self) &>> 31, to: SIMD16<UInt32>.self)
    let chosen = (unsafeBitCast(e * s, to: SIMD16<UInt32>.self) & negative)
        | (unsafeBitCast(s, to: SIMD16<UInt32>.self) & ~negative)
    return unsafeBitCast(chosen, to: SIMD16<Float>.self)
}
