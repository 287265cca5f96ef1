// Full reductions to a 0-d tensor: sum and mean over every element. Fixed 4096-element
// blocks are summed with SIMD accumulators, each block total is widened to Double, and the
// block totals are added in index order, so the result is the same for any thread count.

/// Elements per reduction block (the unit of the fixed summation order).
private let reduceBlock = 4096

/// The sum of all elements of `a`, as a 0-d tensor (shape [], one element).
public func sum(_ a: Tensor) -> Tensor {
    reduceAll(a, factor: 1)
}

/// The mean of all elements of `a`, as a 0-d tensor (shape [], one element).
public func mean(_ a: Tensor) -> Tensor {
    precondition(a.count > 0, "mean: empty tensor \(a.shape)")
    return reduceAll(a, factor: 1 / Double(a.count))
}

/// factor · Σ a, with backward da += factor · dy (dy the upstream scalar).
private func reduceAll(_ a: Tensor, factor: Double) -> Tensor {
    let y = Tensor(uninitializedShape: [])
    y.pointer[0] = Float(blockedSum(a.pointer, count: a.count) * factor)
    if Tape.shouldRecord(a) {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            let g = Float(Double(dy.scalar) * factor)
            let (da, accumulate) = a.gradientDestination()
            if !accumulate { da.pointer.update(repeating: g, count: a.count); return }
            let gv = SIMD8<Float>(repeating: g), p = da.pointer, n = a.count
            Parallel.forRanges(n, grain: 1 << 15) { range in
                var i = range.lowerBound
                while i + 8 <= range.upperBound { Lanes.store(Lanes.load(p + i) + gv, p + i); i += 8 }
                while i < range.upperBound { p[i] += g; i += 1 }
            }
        }
    }
    return y
}

/// Σ p[0..<count] in Double, in a fixed order: blocks of `reduceBlock` summed in Float with
/// 32 lane partials (128 terms each at most), block totals added in Double in block order.
private func blockedSum(_ p: UnsafePointer<Float>, count: Int) -> Double {
    let blocks = (count + reduceBlock - 1) / reduceBlock
    if blocks <= 1 { return blockSum(p, count: count) }
    var partial = [Double](repeating: 0, count: blocks)
    partial.withUnsafeMutableBufferPointer { out in
        let out = out.baseAddress!
        Parallel.forRanges(blocks, grain: 8) { range in
            for b in range {
                let lo = b * reduceBlock
                out[b] = blockSum(p + lo, count: min(reduceBlock, count - lo))
            }
        }
    }
    var total = 0.0
    for s in partial { total += s }
    return total
}

@inline(__always)
private func blockSum(_ p: UnsafePointer<Float>, count: Int) -> Double {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var i = 0
    while i + 32 <= count {
        a0 += Lanes.load(p + i); a1 += Lanes.load(p + i + 8)
        a2 += Lanes.load(p + i + 16); a3 += Lanes.load(p + i + 24)
        i += 32
    }
    while i + 8 <= count { a0 += Lanes.load(p + i); i += 8 }
    var tail: Float = 0
    while i < count { tail += p[i]; i += 1 }
    let lanes = (a0 + a1) + (a2 + a3)
    var s = Double(tail)
    for k in 0..<8 { s += Double(lanes[k]) }
    return s
}
