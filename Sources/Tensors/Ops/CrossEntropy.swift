// Cross-entropy of logits against target ids, mean over rows (PyTorch `F.cross_entropy`,
// reduction "mean"), fused as in llm.c: one sweep per row computes the max, e^(x − max) once
// per element, the loss, and the gradient (softmax − onehot)/N, which backward only scales.
import Foundation
import WideTiles

/// mean over rows n of −log softmax(logits[n])[targets[n]], as a 0-d tensor.
/// logits is [..., V] with N = logits.rows rows; targets holds N ids in 0..<V.
public func crossEntropy(_ logits: Tensor, targets: [Int32]) -> Tensor {
    let v = logits.lastDim, n = logits.rows
    precondition(targets.count == n, "crossEntropy: \(targets.count) targets for \(n) rows of \(logits.shape)")
    precondition(v > 0 && n > 0, "crossEntropy: empty logits \(logits.shape)")
    for t in targets {
        precondition(t >= 0 && Int(t) < v, "crossEntropy: target \(t) outside 0..<\(v)")
    }
    let record = Tape.shouldRecord(logits)
    // [..., V]: (softmax − onehot)/N, the loss gradient for an upstream gradient of 1.
    let gradient = record ? Tensor(uninitializedShape: logits.shape) : nil
    var rowLoss = [Double](repeating: 0, count: n)
    let xp = logits.pointer, gp = gradient?.pointer
    rowLoss.withUnsafeMutableBufferPointer { lossBuf in
        let lossP = lossBuf.baseAddress!
        targets.withUnsafeBufferPointer { tp in
            Parallel.forRanges(n, grain: max(1, (1 << 14) / v)) { range in
                // Without a gradient buffer, e^(x − max) goes to one scratch row per part.
                let scratch = gp == nil ? UnsafeMutablePointer<Float>.allocate(capacity: v) : nil
                defer { scratch?.deallocate() }
                for r in range {
                    lossP[r] = crossEntropyRow(xp + r * v, count: v, target: Int(tp[r]),
                                               exps: gp.map { $0 + r * v } ?? scratch!,
                                               scaleToGradient: gp != nil, rows: n)
                }
            }
        }
    }
    var total = 0.0
    for l in rowLoss { total += l }
    let y = Tensor(uninitializedShape: [])
    y.pointer[0] = Float(total / Double(n))
    if let gradient {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            let g = dy.scalar
            if logits.grad == nil {  // hand the buffer over, scaled in place unless g = 1
                if g != 1 { scaleElements(gradient, by: g) }
                logits.grad = gradient
            } else {  // dlogits += g · gradient
                let dst = logits.grad!.pointer, src = gradient.pointer, gv = SIMD8<Float>(repeating: g)
                Parallel.forRanges(gradient.count, grain: 1 << 15) { range in
                    var i = range.lowerBound
                    while i + 8 <= range.upperBound {
                        Lanes.store(Lanes.load(dst + i).addingProduct(gv, Lanes.load(src + i)), dst + i)
                        i += 8
                    }
                    while i < range.upperBound { dst[i] = dst[i].addingProduct(g, src[i]); i += 1 }
                }
            }
        }
    }
    return y
}

/// One row: writes e^(x − max) into `exps` and returns log Σ e^(x − max) + max − x[target];
/// with `scaleToGradient` it then turns `exps` into (softmax − onehot)/rows. The exp sum runs
/// in Float lanes over 512-element pieces (16 lanes × 32 terms), each piece's total (and any
/// scalar tail) added in Double. `exps` may be `x` itself (the row is then overwritten).
@inline(__always)
func crossEntropyRow(_ x: UnsafePointer<Float>, count v: Int, target: Int,
                             exps out: UnsafeMutablePointer<Float>, scaleToGradient: Bool,
                             rows: Int) -> Double {
    let xTarget = Double(x[target])  // read before an in-place pass 2 overwrites it
    // Pass 1: the row max.
    var m0 = SIMD8<Float>(repeating: -.infinity), m1 = m0
    var j = 0
    while j + 16 <= v {
        let a = Lanes.load(x + j), b = Lanes.load(x + j + 8)
        m0 = m0.replacing(with: a, where: m0 .< a)
        m1 = m1.replacing(with: b, where: m1 .< b)
        j += 16
    }
    while j + 8 <= v { let a = Lanes.load(x + j); m0 = m0.replacing(with: a, where: m0 .< a); j += 8 }
    m0 = m0.replacing(with: m1, where: m0 .< m1)
    var m = m0[0]
    for k in 1..<8 where m0[k] > m { m = m0[k] }
    while j < v { if x[j] > m { m = x[j] }; j += 1 }
    // Pass 2: e^(x − max) and its sum.
    let mv = SIMD8<Float>(repeating: m)
    var total = 0.0
    var piece = 0
    while piece < v {
        let end = min(v, piece + 512)
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
        j = piece
        if WideLanes.enabled {  // the same exps and the same two accumulators, 16 floats at a time
            let count = (end - piece) & ~15
            (s0, s1) = WideRows.expSums(x + piece, out + piece, count: count, shift: m)
            j = piece + count
        }
        while j + 16 <= end {
            let e0 = FastMath.exp(Lanes.load(x + j) - mv), e1 = FastMath.exp(Lanes.load(x + j + 8) - mv)
            Lanes.store(e0, out + j); Lanes.store(e1, out + j + 8)
            s0 += e0; s1 += e1
            j += 16
        }
        var pieceSum = 0.0
        while j < end {
            let e = FastMath.exp(x[j] - m)
            out[j] = e
            pieceSum += Double(e)
            j += 1
        }
        let lanes = s0 + s1
        for k in 0..<8 { pieceSum += Double(lanes[k]) }
        total += pieceSum
        piece = end
    }
    let loss = Foundation.log(total) + Double(m) - xTarget
    // Pass 3: scale to softmax/N and subtract 1/N at the target (the row is still in L1).
    if scaleToGradient {
        let eTarget = Double(out[target])
        let k = Float(1 / (total * Double(rows)))
        let kv = SIMD8<Float>(repeating: k)
        j = 0
        while j + 8 <= v { Lanes.store(Lanes.load(out + j) * kv, out + j); j += 8 }
        while j < v { out[j] *= k; j += 1 }
        // (p − 1)/N = −(Σ_{j≠t} e_j)/(Σ e · N), formed in Double: p/N − 1/N in Float would
        // cancel to ≈ ulp(1/N) when p → 1.
        out[target] = Float((eTarget - total) / (total * Double(rows)))
    }
    return loss
}

/// t *= s element-wise.
func scaleElements(_ t: Tensor, by s: Float, count: Int? = nil) {
    let p = t.pointer, sv = SIMD8<Float>(repeating: s)
    Parallel.forRanges(count ?? t.count, grain: 1 << 15) { range in
        var i = range.lowerBound
        while i + 8 <= range.upperBound { Lanes.store(Lanes.load(p + i) * sv, p + i); i += 8 }
        while i < range.upperBound { p[i] *= s; i += 1 }
    }
}
