// Rotary position embedding (Su et al. 2021, arXiv:2104.09864) in the Hugging Face LLaMA
// "rotate-half" layout: within each head, x_i pairs with x_{i+hd/2} and the pair turns by
// angle p·θ^(−2i/hd). Backward applies the inverse (transposed) rotation to the gradient.
import Foundation

/// Precomputed cos and sin of every rotary angle, [maxPositions, headDim/2] each, row p
/// holding position p. Angles are computed in Double and rounded to Float once.
public struct RotaryTable: Sendable {
    /// Size of one attention head (even); each table row holds headDim/2 angles.
    public let headDim: Int
    /// Number of positions covered (`max_position_embeddings`).
    public let maxPositions: Int
    /// Frequency base (`rope_theta`).
    public let theta: Double
    /// cos(p · θ^(−2i/headDim)) at [p · headDim/2 + i].
    public let cos: [Float]
    /// sin(p · θ^(−2i/headDim)) at [p · headDim/2 + i].
    public let sin: [Float]

    /// Tables for `maxPositions` positions of heads of `headDim` (even) with base `theta`
    /// (`rope_theta`, 10000 in LLaMA).
    public init(headDim: Int, maxPositions: Int, theta: Double = 10000) {
        precondition(headDim > 0 && headDim % 2 == 0, "RotaryTable: headDim \(headDim) must be even and positive")
        precondition(maxPositions > 0, "RotaryTable: maxPositions \(maxPositions) must be positive")
        self.headDim = headDim
        self.maxPositions = maxPositions
        self.theta = theta
        let half = headDim / 2
        let invFreq = (0..<half).map { Foundation.pow(theta, -2 * Double($0) / Double(headDim)) }
        var c = [Float](repeating: 0, count: maxPositions * half)
        var s = [Float](repeating: 0, count: maxPositions * half)
        for p in 0..<maxPositions {
            for i in 0..<half {
                let angle = Double(p) * invFreq[i]
                c[p * half + i] = Float(Foundation.cos(angle))
                s[p * half + i] = Float(Foundation.sin(angle))
            }
        }
        self.cos = c
        self.sin = s
    }
}

/// Rotates the q or k projection output x[batch·seqLen, heads·headDim] (row b·seqLen + t,
/// heads concatenated) by position t: for i < hd/2 each head's pair (x_i, x_{i+hd/2})
/// becomes (x_i cos − x_{i+hd/2} sin, x_{i+hd/2} cos + x_i sin).
public func rotary(_ x: Tensor, table: RotaryTable, batch: Int, seqLen: Int, heads: Int) -> Tensor {
    checkRotaryShape(x, table: table, batch: batch, seqLen: seqLen, heads: heads)
    let y = Tensor(uninitializedShape: x.shape)
    rotate(x.pointer, into: y.pointer, rows: x.rows, seqLen: seqLen, heads: heads,
           table: table, inverse: false, accumulate: false)
    if Tape.shouldRecord(x) {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            let (dx, accumulate) = x.gradientDestination()  // dx += Rᵀ dy
            rotate(dy.pointer, into: dx.pointer, rows: x.rows, seqLen: seqLen, heads: heads,
                   table: table, inverse: true, accumulate: accumulate)
        }
    }
    return y
}

/// Rotates `x` in place and returns it: the same values as `rotary`, without a second
/// [rows, width] buffer. Only for an intermediate whose pre-rotation values nothing else
/// reads (a q or k projection output): backward turns x's gradient back in place, before
/// the op that produced x reads it.
public func rotaryInPlace(_ x: Tensor, table: RotaryTable, batch: Int, seqLen: Int, heads: Int) -> Tensor {
    checkRotaryShape(x, table: table, batch: batch, seqLen: seqLen, heads: heads)
    rotate(x.pointer, into: x.pointer, rows: x.rows, seqLen: seqLen, heads: heads,
           table: table, inverse: false, accumulate: false)
    if Tape.shouldRecord(x) {
        Tape.push {
            guard let dy = x.grad else { return }  // dx = Rᵀ dy, in dy's buffer
            rotate(dy.pointer, into: dy.pointer, rows: x.rows, seqLen: seqLen, heads: heads,
                   table: table, inverse: true, accumulate: false)
        }
    }
    return x
}

/// Rotates one row [heads·headDim] at `position` with the arithmetic of `rotary` (for
/// KV-cached decoding, one token at a time); `out` may equal `src`.
public func rotaryRow(_ src: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, position: Int,
                      heads: Int, table: RotaryTable) {
    precondition(position >= 0 && position < table.maxPositions,
                 "rotaryRow: position \(position) outside the table's \(table.maxPositions) positions")
    rotate(src, into: out, rows: 1, seqLen: 1, heads: heads, table: table, inverse: false, accumulate: false,
           firstPosition: position)
}

/// x must be [batch·seqLen, heads·headDim] with seqLen within the table.
private func checkRotaryShape(_ x: Tensor, table: RotaryTable, batch: Int, seqLen: Int, heads: Int) {
    let hd = table.headDim
    precondition(x.rows == batch * seqLen && x.lastDim == heads * hd,
                 "rotary: input \(x.shape) is not [\(batch)·\(seqLen), \(heads)·\(hd)]")
    precondition(seqLen <= table.maxPositions,
                 "rotary: seqLen \(seqLen) exceeds the table's \(table.maxPositions) positions")
}

/// out (+)= R(±angle) · src for every row and head; `inverse` turns by −angle (Rᵀ).
private func rotate(_ src: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                    rows: Int, seqLen: Int, heads: Int, table: RotaryTable,
                    inverse: Bool, accumulate: Bool, firstPosition: Int = 0) {
    let hd = table.headDim, half = hd / 2, width = heads * hd
    // Rᵀ is R with sin negated.
    let sign: Float = inverse ? -1 : 1
    table.cos.withUnsafeBufferPointer { cosBuf in
        table.sin.withUnsafeBufferPointer { sinBuf in
            let cosP = cosBuf.baseAddress!, sinP = sinBuf.baseAddress!
            let signV = SIMD8<Float>(repeating: sign)
            Parallel.forRanges(rows, grain: max(1, (1 << 15) / width)) { range in
                for r in range {
                    let t = firstPosition + r % seqLen
                    let c = cosP + t * half, s = sinP + t * half
                    for h in 0..<heads {
                        let a = src + r * width + h * hd, b = a + half
                        let oa = out + r * width + h * hd, ob = oa + half
                        var i = 0
                        while i + 8 <= half {
                            let x1 = Lanes.load(a + i), x2 = Lanes.load(b + i)
                            let cv = Lanes.load(c + i), sv = signV * Lanes.load(s + i)
                            var y1 = x1 * cv - x2 * sv, y2 = x2 * cv + x1 * sv
                            if accumulate { y1 += Lanes.load(oa + i); y2 += Lanes.load(ob + i) }
                            Lanes.store(y1, oa + i)
                            Lanes.store(y2, ob + i)
                            i += 8
                        }
                        while i < half {
                            let x1 = a[i], x2 = b[i], cv = c[i], sv = sign * s[i]
                            let y1 = x1 * cv - x2 * sv, y2 = x2 * cv + x1 * sv
                            oa[i] = accumulate ? oa[i] + y1 : y1
                            ob[i] = accumulate ? ob[i] + y2 : y2
                            i += 1
                        }
                    }
                }
            }
        }
    }
}
