// causalAttention: softmax(Q Kᵀ / √hd + causal mask) V per (sequence, head), the attention of
// a LLaMA decoder (Vaswani et al. 2017, decoder-only masking). Q, K, V are read in place from
// the [B·T, H·hd] projection outputs (lda = H·hd). Heads are spread over the cores with
// OpenBLAS at one thread, and causal block skipping multiplies each row block only by the key
// columns it can see (both measured faster on this machine, field notes §D.5).
// P [B, H, T, T] is not stored for backward: forward keeps each row's softmax max and inverse
// exp sum ([B, H, T] each), and backward recomputes P block by block in a per-worker scratch
// with the same product and exp/scale steps (bitwise the P forward used), at the price of one
// more Q·Kᵀ block product and exp per block.

/// Rows per causal block are about this many: a T-row head is cut into ⌈T/64⌉ near-equal row
/// blocks, and block i only multiplies keys 0 ..< (end of block i).
private let targetBlockRows = 64

/// Row-block boundaries 0 = b₀ < b₁ < … < b_n = T (near-equal sizes). The same boundaries serve
/// as column blocks in backward, which is what keeps the zeros written by softmax consistent.
private func causalBlockBounds(_ seqLen: Int) -> [Int] {
    let blocks = max(1, (seqLen + targetBlockRows - 1) / targetBlockRows)
    return (0...blocks).map { seqLen * $0 / blocks }
}

/// Multi-head causal self-attention.
///
/// - Parameters:
///   - q, k, v: [batch·seqLen, heads·headDim] (row b·seqLen + t; head h in columns
///     h·headDim ..< (h+1)·headDim), e.g. the q/k/v projections after rotary.
/// - Returns: [batch·seqLen, heads·headDim] with the heads concatenated in the same column
///   layout, ready for the output projection. For each (b, h):
///   O_h = softmax_rows(Q_h K_hᵀ / √headDim, keys t' ≤ t only) · V_h.
///
/// Each worker computes P [seqLen, seqLen] of a head in its own scratch. While recording,
/// only each row's softmax max and inverse exp sum are kept ([batch, heads, seqLen] each);
/// backward recomputes P from them with the same product and the same exp/scale steps, so it
/// sees bitwise the P that forward used.
public func causalAttention(q: Tensor, k: Tensor, v: Tensor,
                            batch: Int, seqLen: Int, heads: Int) -> Tensor {
    let width = q.lastDim
    precondition(batch > 0 && seqLen > 0 && heads > 0,
                 "causalAttention: batch \(batch), seqLen \(seqLen), heads \(heads) must be positive")
    precondition(q.count == batch * seqLen * width && q.rows == batch * seqLen,
                 "causalAttention: q \(q.shape) is not [\(batch)·\(seqLen), heads·headDim]")
    precondition(k.shape == q.shape && v.shape == q.shape,
                 "causalAttention: q \(q.shape), k \(k.shape), v \(v.shape) must match")
    precondition(width % heads == 0, "causalAttention: width \(width) not divisible by \(heads) heads")
    let geometry = AttentionGeometry(batch: batch, seqLen: seqLen, heads: heads,
                                     headDim: width / heads)
    let out = Tensor(uninitializedShape: q.shape)
    let recording = Tape.shouldRecord(q, k, v)
    // Softmax statistics of row t of head (b, h) at (b·heads + h)·seqLen + t, kept for backward.
    let rowMax: Tensor? = recording ? Tensor(uninitializedShape: [batch, heads, seqLen]) : nil
    let rowInverse: Tensor? = recording ? Tensor(uninitializedShape: [batch, heads, seqLen]) : nil

    let qp = SendablePointer(q.pointer), kp = SendablePointer(k.pointer)
    let vp = SendablePointer(v.pointer), op = SendablePointer(out.pointer)
    let mp = rowMax.map { SendablePointer($0.pointer) }
    let ip = rowInverse.map { SendablePointer($0.pointer) }
    let headSquare = seqLen * seqLen
    // P of one head, [T, T], per worker: taken here, before the workers start, so the pool
    // sees the same requests whatever the threads' timing.
    let scratch = Tensor(uninitializedShape: [Parallel.partCount(batch * heads), headSquare])
    let sp = SendablePointer(scratch.pointer)
    Parallel.withSingleThreadedBLAS {
        Parallel.forIndexedRanges(batch * heads) { part, items in
            for item in items {
                geometry.forwardHead(item, q: qp.p, k: kp.p, v: vp.p, probs: sp.p + part * headSquare, out: op.p,
                                     rowMax: mp.map { $0.p + item * seqLen },
                                     rowInverse: ip.map { $0.p + item * seqLen })
            }
        }
    }

    if recording, let rowMax, let rowInverse {
        out.requiresGrad = true
        Tape.push {
            guard let dOut = out.grad else { return }
            defer { out.grad = nil }  // an intermediate's gradient is dead once propagated
            let dq = q.requiresGrad ? SendablePointer(q.ensureGrad().pointer) : nil
            let dk = k.requiresGrad ? SendablePointer(k.ensureGrad().pointer) : nil
            let dv = v.requiresGrad ? SendablePointer(v.ensureGrad().pointer) : nil
            let dop = SendablePointer(dOut.pointer)
            let mp = SendablePointer(rowMax.pointer), ip = SendablePointer(rowInverse.pointer)
            let qp = SendablePointer(q.pointer), kp = SendablePointer(k.pointer)
            let vp = SendablePointer(v.pointer)
            // Two [T, T] buffers per worker, head after head: P, and dP then dS (taken before
            // the workers start, as in forward).
            let buffers = Tensor(uninitializedShape: [Parallel.partCount(batch * heads), 2, headSquare])
            let bp = SendablePointer(buffers.pointer)
            Parallel.withSingleThreadedBLAS {
                Parallel.forIndexedRanges(batch * heads) { part, items in
                    let probs = bp.p + 2 * part * headSquare, scratch = probs + headSquare
                    for item in items {
                        geometry.backwardHead(item, q: qp.p, k: kp.p, v: vp.p,
                                              rowMax: mp.p + item * seqLen,
                                              rowInverse: ip.p + item * seqLen, dOut: dop.p,
                                              dq: dq?.p, dk: dk?.p, dv: dv?.p,
                                              probs: probs, scratch: scratch)
                    }
                }
            }
        }
    }
    return out
}

/// Shapes and strides of one attention call, and the per-head kernels.
private struct AttentionGeometry: Sendable {
    let batch: Int, seqLen: Int, heads: Int, headDim: Int
    /// Row stride of Q, K, V and the output: heads · headDim.
    var width: Int { heads * headDim }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Offset of head `item` = b·heads + h in a [B·T, H·hd] buffer.
    func headOffset(_ item: Int) -> Int {
        (item / heads) * seqLen * width + (item % heads) * headDim
    }

    /// S[r0..<r1, 0..<r1] = scale · Q[r0..<r1] · K[0..<r1]ᵀ into `probs` [T, T] (row stride T).
    /// Forward and backward's recomputation both go through here, so their scores are the
    /// same product with the same arguments (the same bits).
    @inline(__always)
    func scoreBlock(base: Int, r0: Int, r1: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                    probs: UnsafeMutablePointer<Float>) {
        let T = seqLen, D = width
        zeroBlock(probs + r0 * T, rows: r1 - r0, cols: r1, stride: T)
        BLAS.sgemm(transB: true, m: r1 - r0, n: r1, k: headDim, alpha: scale,
                   a: q + base + r0 * D, lda: D, b: k + base, ldb: D,
                   beta: 1, c: probs + r0 * T, ldc: T)
    }

    /// P = softmax(Q Kᵀ·scale, causal) into `probs` [T, T], then O = P V. With `rowMax` and
    /// `rowInverse` ([T] each), stores every row's max and 1 / exp sum there.
    func forwardHead(_ item: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                     v: UnsafePointer<Float>, probs: UnsafeMutablePointer<Float>,
                     out: UnsafeMutablePointer<Float>, rowMax: UnsafeMutablePointer<Float>?,
                     rowInverse: UnsafeMutablePointer<Float>?) {
        let base = headOffset(item), T = seqLen, D = width, hd = headDim
        let bounds = causalBlockBounds(T)
        for b in 0..<(bounds.count - 1) {
            let r0 = bounds[b], r1 = bounds[b + 1]
            scoreBlock(base: base, r0: r0, r1: r1, q: q, k: k, probs: probs)
            for t in r0..<r1 {
                let stats = causalSoftmaxRow(probs + t * T, valid: t + 1, blockEnd: r1)
                if let rowMax, let rowInverse { rowMax[t] = stats.max; rowInverse[t] = stats.inverse }
            }
            // O[r0..<r1] = P[r0..<r1, 0..<r1] · V[0..<r1]
            zeroBlock(out + base + r0 * D, rows: r1 - r0, cols: hd, stride: D)
            BLAS.sgemm(m: r1 - r0, n: hd, k: r1, a: probs + r0 * T, lda: T,
                       b: v + base, ldb: D, beta: 1, c: out + base + r0 * D, ldc: D)
        }
    }

    /// Accumulates dQ, dK, dV of one head (each head owns its columns, so heads never race).
    /// P is rebuilt in `probs` [T, T] from the row statistics, row block by row block, each
    /// block followed by its dS in `ds` [T, T]; then the products, in the order dV, dQ, dK.
    /// dV = Pᵀ dO; dP = dO Vᵀ; dS = P ⊙ (dP − rowsum(dP ⊙ P)); dQ = dS K·scale; dK = dSᵀ Q·scale.
    func backwardHead(_ item: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                      v: UnsafePointer<Float>, rowMax: UnsafePointer<Float>,
                      rowInverse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                      dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
                      dv: UnsafeMutablePointer<Float>?, probs: UnsafeMutablePointer<Float>,
                      scratch ds: UnsafeMutablePointer<Float>) {
        let base = headOffset(item), T = seqLen, D = width, hd = headDim
        let bounds = causalBlockBounds(T)
        let blocks = bounds.count - 1
        let needScores = dq != nil || dk != nil
        guard needScores || dv != nil else { return }
        for b in 0..<blocks {
            let r0 = bounds[b], r1 = bounds[b + 1]
            // P[r0..<r1, 0..<r1]: forward's product, then forward's exp and scale per row.
            scoreBlock(base: base, r0: r0, r1: r1, q: q, k: k, probs: probs)
            for t in r0..<r1 {
                softmaxRowFromStats(probs + t * T, valid: t + 1, blockEnd: r1,
                                    rowMax: rowMax[t], inverse: rowInverse[t])
            }
            guard needScores else { continue }
            // dP[r0..<r1, 0..<r1] = dO[r0..<r1] · V[0..<r1]ᵀ, then dS in place.
            zeroBlock(ds + r0 * T, rows: r1 - r0, cols: r1, stride: T)
            BLAS.sgemm(transB: true, m: r1 - r0, n: r1, k: hd,
                       a: dOut + base + r0 * D, lda: D, b: v + base, ldb: D,
                       beta: 1, c: ds + r0 * T, ldc: T)
            for t in r0..<r1 {
                softmaxBackwardRow(probs: probs + t * T, grad: ds + t * T, valid: t + 1, blockEnd: r1)
            }
        }
        // Column block [c0, c1) of P or dS is non-zero only in rows c0 ..< T.
        if let dv {  // dV[c0..<c1] += P[c0..<T, c0..<c1]ᵀ · dO[c0..<T]
            for b in 0..<blocks {
                let c0 = bounds[b], c1 = bounds[b + 1]
                BLAS.sgemm(transA: true, m: c1 - c0, n: hd, k: T - c0,
                           a: probs + c0 * T + c0, lda: T, b: dOut + base + c0 * D, ldb: D,
                           beta: 1, c: dv + base + c0 * D, ldc: D)
            }
        }
        if let dq {  // dQ[r0..<r1] += scale · dS[r0..<r1, 0..<r1] · K[0..<r1]
            for b in 0..<blocks {
                let r0 = bounds[b], r1 = bounds[b + 1]
                BLAS.sgemm(m: r1 - r0, n: hd, k: r1, alpha: scale, a: ds + r0 * T, lda: T,
                           b: k + base, ldb: D, beta: 1, c: dq + base + r0 * D, ldc: D)
            }
        }
        if let dk {  // dK[c0..<c1] += scale · dS[c0..<T, c0..<c1]ᵀ · Q[c0..<T]
            for b in 0..<blocks {
                let c0 = bounds[b], c1 = bounds[b + 1]
                BLAS.sgemm(transA: true, m: c1 - c0, n: hd, k: T - c0, alpha: scale,
                           a: ds + c0 * T + c0, lda: T, b: q + base + c0 * D, ldb: D,
                           beta: 1, c: dk + base + c0 * D, ldc: D)
            }
        }
    }
}

/// Zeroes a [rows, cols] block with row stride `stride`. The products above then run with
/// beta = 1 (same bits as beta = 0): OpenBLAS 0.3.21 applies beta = 0 with scalar stores,
/// which took 12 % of attention's time, while this is a vectorised memset.
private func zeroBlock(_ c: UnsafeMutablePointer<Float>, rows: Int, cols: Int, stride: Int) {
    for r in 0..<rows { (c + r * stride).update(repeating: 0, count: cols) }
}

// MARK: - Row kernels (SIMD8; each row is reduced by one thread in a fixed order)

@inline(__always) private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) private func store8(_ x: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD8<Float>.self)
}

/// Softmax over row[0 ..< n] in place with the arithmetic of attention's rows (for a single
/// query attending to cached keys, which must match what full attention computes).
public func attentionSoftmaxRow(_ row: UnsafeMutablePointer<Float>, count n: Int) {
    causalSoftmaxRow(row, valid: n, blockEnd: n)
}

/// Softmax over row[0 ..< valid] in place; row[valid ..< blockEnd] set to zero (masked keys).
/// Returns the row's max and the inverse of its exp sum: p_j = exp(s_j − max) · inverse.
@discardableResult
private func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, valid n: Int,
                              blockEnd: Int) -> (max: Float, inverse: Float) {
    let vectorEnd = n & ~7
    var max8 = SIMD8<Float>(repeating: -.infinity)
    var j = 0
    while j < vectorEnd {
        let x = load8(row + j)
        max8 = max8.replacing(with: x, where: max8 .< x)
        j += 8
    }
    var rowMax = -Float.infinity
    for lane in 0..<8 where max8[lane] > rowMax { rowMax = max8[lane] }
    for i in vectorEnd..<n where row[i] > rowMax { rowMax = row[i] }

    let shift = SIMD8<Float>(repeating: rowMax)
    var sum8 = SIMD8<Float>()
    j = 0
    while j < vectorEnd {
        let e = FastMath.exp(load8(row + j) - shift)
        store8(e, row + j)
        sum8 += e
        j += 8
    }
    var sum = sum8.sum()
    for i in vectorEnd..<n {
        let e = FastMath.exp(row[i] - rowMax)
        row[i] = e
        sum += e
    }
    let inverse = SIMD8<Float>(repeating: 1 / sum)
    j = 0
    while j < vectorEnd { store8(load8(row + j) * inverse, row + j); j += 8 }
    for i in vectorEnd..<n { row[i] *= inverse[0] }
    if n < blockEnd { (row + n).update(repeating: 0, count: blockEnd - n) }
    return (rowMax, inverse[0])
}

/// The softmax row again from its scores and the statistics `causalSoftmaxRow` returned:
/// row[j] ← exp(row[j] − rowMax) · inverse for j < valid, zero for valid ≤ j < blockEnd.
/// The same lanes, exp and multiplications as there, so the same bits.
private func softmaxRowFromStats(_ row: UnsafeMutablePointer<Float>, valid n: Int, blockEnd: Int,
                                 rowMax: Float, inverse: Float) {
    let vectorEnd = n & ~7
    let shift = SIMD8<Float>(repeating: rowMax), inverse8 = SIMD8<Float>(repeating: inverse)
    var j = 0
    while j < vectorEnd {
        store8(FastMath.exp(load8(row + j) - shift) * inverse8, row + j)
        j += 8
    }
    for i in vectorEnd..<n { row[i] = FastMath.exp(row[i] - rowMax) * inverse }
    if n < blockEnd { (row + n).update(repeating: 0, count: blockEnd - n) }
}

/// Softmax backward over one row in place: grad ← p ⊙ (grad − Σ grad ⊙ p) for j < valid,
/// zero for valid ≤ j < blockEnd.
private func softmaxBackwardRow(probs p: UnsafePointer<Float>, grad g: UnsafeMutablePointer<Float>,
                                valid n: Int, blockEnd: Int) {
    let vectorEnd = n & ~7
    var dot8 = SIMD8<Float>()
    var j = 0
    while j < vectorEnd {
        dot8.addProduct(load8(g + j), load8(p + j))  // fused multiply-add under -target-cpu haswell
        j += 8
    }
    var dot = dot8.sum()
    for i in vectorEnd..<n { dot += g[i] * p[i] }
    let dot8b = SIMD8<Float>(repeating: dot)
    j = 0
    while j < vectorEnd {
        store8(load8(p + j) * (load8(g + j) - dot8b), g + j)
        j += 8
    }
    for i in vectorEnd..<n { g[i] = p[i] * (g[i] - dot) }
    if n < blockEnd { (g + n).update(repeating: 0, count: blockEnd - n) }
}
