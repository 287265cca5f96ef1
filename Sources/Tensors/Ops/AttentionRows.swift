// AttentionRows: the row kernels of causalAttention (Ops/Attention.swift) and of cached
// decoding: the softmax of one score row, its recomputation from saved statistics, and its
// backward. A row holds `width` scores of which the first `valid` are real keys (t' ≤ t); the
// rest are masked: they weigh zero and are written as zero, so the products that read the row
// up to `width` add nothing for them. Attention's rows are padded to a multiple of 8, so every
// element goes through the same SIMD8 steps (lanes past `valid` masked in-register, no scalar
// tail); each row is reduced by one thread in a fixed order. With `lanes` 16 (AVX-512, rows
// padded to 16) the per-element steps run on 16 floats (WideTiles' WideRows) and return their
// sums as the same 8-lane partial sums, so both widths give the same bits.
import WideTiles

@inline(__always) private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) private func store8(_ x: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD8<Float>.self)
}

/// keepTable[8 − c ..< 16 − c] holds c ones, then zeros: for the vector at j, the lanes that
/// are real keys (c = valid − j of them) and the masked rest. Masked lanes are replaced, never
/// multiplied, so a non-finite score of a later key cannot reach an earlier row.
private let keepTable: [Float] = Array(repeating: 1, count: 8) + Array(repeating: 0, count: 8)

/// The lanes j + l ≥ valid of the vector at j.
@inline(__always) private func masked(_ j: Int, _ valid: Int) -> SIMDMask<SIMD8<Float>.MaskStorage> {
    keepTable.withUnsafeBufferPointer { load8($0.baseAddress! + 8 - min(8, max(0, valid - j))) } .== 0
}

/// Softmax over row[0 ..< n] in place with the arithmetic of attention's rows, for a single
/// query attending to n cached keys.
public func attentionSoftmaxRow(_ row: UnsafeMutablePointer<Float>, count n: Int) {
    causalSoftmaxRow(row, valid: n, width: n)
}

/// Softmax over row[0 ..< valid] in place; row[valid ..< width] set to zero (masked keys).
/// Returns the row's max and the inverse of its exp sum: p_j = exp(s_j − max) · inverse.
@discardableResult
func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, valid n: Int,
                      width: Int, lanes: Int = 8) -> (max: Float, inverse: Float) {
    if lanes == 16 && width & 15 == 0 {
        let max8 = WideRows.maxLanes(row, valid: n, width: width)
        var rowMax = -Float.infinity
        for lane in 0..<8 where max8[lane] > rowMax { rowMax = max8[lane] }
        let inverse = 1 / WideRows.expRow(row, valid: n, width: width, shift: rowMax).sum()
        WideRows.scaleRow(row, width: width, by: inverse)
        return (rowMax, inverse)
    }
    let vectorEnd = width & ~7
    var max8 = SIMD8<Float>(repeating: -.infinity)
    var j = 0
    while j < vectorEnd {
        var x = load8(row + j)
        if j + 8 > n { x = x.replacing(with: -.infinity, where: masked(j, n)) }
        max8 = max8.replacing(with: x, where: max8 .< x)
        j += 8
    }
    var rowMax = -Float.infinity
    for lane in 0..<8 where max8[lane] > rowMax { rowMax = max8[lane] }
    for i in vectorEnd..<max(n, vectorEnd) where row[i] > rowMax { rowMax = row[i] }

    let shift = SIMD8<Float>(repeating: rowMax)
    var sum8 = SIMD8<Float>()
    j = 0
    while j < vectorEnd {
        var e = FastMath.exp(load8(row + j) - shift)
        if j + 8 > n { e = e.replacing(with: 0, where: masked(j, n)) }
        store8(e, row + j)
        sum8 += e
        j += 8
    }
    var sum = sum8.sum()
    for i in vectorEnd..<max(n, vectorEnd) {
        let e = FastMath.exp(row[i] - rowMax)
        row[i] = e
        sum += e
    }
    let inverse = SIMD8<Float>(repeating: 1 / sum)
    j = 0
    while j < vectorEnd { store8(load8(row + j) * inverse, row + j); j += 8 }
    for i in vectorEnd..<max(n, vectorEnd) { row[i] *= inverse[0] }
    if vectorEnd < width, n < width { (row + max(n, vectorEnd)).update(repeating: 0, count: width - max(n, vectorEnd)) }
    return (rowMax, inverse[0])
}

/// The softmax row again from its scores and the statistics `causalSoftmaxRow` returned:
/// row[j] ← exp(row[j] − rowMax) · inverse for j < valid, zero for valid ≤ j < width.
/// The same lanes, exp and multiplications as there, so the same bits.
func softmaxRowFromStats(_ row: UnsafeMutablePointer<Float>, valid n: Int, width: Int,
                         rowMax: Float, inverse: Float, lanes: Int = 8) {
    if lanes == 16 && width & 15 == 0 {
        return WideRows.expScaledRow(row, valid: n, width: width, shift: rowMax, inverse: inverse)
    }
    let vectorEnd = width & ~7
    let shift = SIMD8<Float>(repeating: rowMax), inverse8 = SIMD8<Float>(repeating: inverse)
    var j = 0
    while j < vectorEnd {
        var p = FastMath.exp(load8(row + j) - shift) * inverse8
        if j + 8 > n { p = p.replacing(with: 0, where: masked(j, n)) }
        store8(p, row + j)
        j += 8
    }
    for i in vectorEnd..<max(n, vectorEnd) { row[i] = FastMath.exp(row[i] - rowMax) * inverse }
    if vectorEnd < width, n < width { (row + max(n, vectorEnd)).update(repeating: 0, count: width - max(n, vectorEnd)) }
}

/// Softmax backward over one row in place: grad ← p ⊙ (grad − Σ grad ⊙ p) for j < valid,
/// zero for valid ≤ j < width.
func softmaxBackwardRow(probs p: UnsafePointer<Float>, grad g: UnsafeMutablePointer<Float>,
                        valid n: Int, width: Int, lanes: Int = 8) {
    if lanes == 16 && width & 15 == 0 {
        let dot = WideRows.dotLanes(p, g, valid: n, width: width).sum()
        return WideRows.softmaxBackward(p, g, valid: n, width: width, dot: dot)
    }
    let vectorEnd = width & ~7
    var dot8 = SIMD8<Float>()
    var j = 0
    while j < vectorEnd {
        var x = load8(g + j) * load8(p + j)
        if j + 8 > n { x = x.replacing(with: 0, where: masked(j, n)) }
        dot8 += x
        j += 8
    }
    var dot = dot8.sum()
    for i in vectorEnd..<max(n, vectorEnd) { dot += g[i] * p[i] }
    let dot8b = SIMD8<Float>(repeating: dot)
    j = 0
    while j < vectorEnd {
        var x = load8(p + j) * (load8(g + j) - dot8b)
        if j + 8 > n { x = x.replacing(with: 0, where: masked(j, n)) }
        store8(x, g + j)
        j += 8
    }
    for i in vectorEnd..<max(n, vectorEnd) { g[i] = p[i] * (g[i] - dot) }
    if vectorEnd < width, n < width { (g + max(n, vectorEnd)).update(repeating: 0, count: width - max(n, vectorEnd)) }
}
