// causalAttention: softmax(Q Kᵀ / √hd + causal mask) V per (sequence, head), the attention of
// a LLaMA decoder (Vaswani et al. 2017, decoder-only masking). Q, K, V are read in place from
// the [B·T, H·hd] projection outputs (lda = H·hd); heads are spread over the cores.
// Each head runs on zero-padded copies (T and hd rounded up to the tiles' 8 lanes, or 16 where the
// processor has AVX-512: WideTiles) with the register tiles of
// AttentionTiles.swift, eight query rows at a time, each row block multiplying only the keys it
// can see (rounded up to the lanes): the causal half, where OpenBLAS's products of 64-row blocks
// computed 25–50% more and ran at 105–113 GFLOP/s per core on these shapes.
// P [B, H, T, T] is not stored for backward: forward keeps each row's softmax max and inverse
// exp sum ([B, H, T] each), and backward recomputes P eight rows at a time in a per-worker
// scratch with the same tiles and exp/scale steps (bitwise the P forward used), at the price of
// one more Q·Kᵀ product and exp per head.

/// n rounded up to a multiple of `lanes` (8 or 16): padded rows and columns of a head's
/// copies, and row-block widths.
@inline(__always) private func roundUp(_ n: Int, _ lanes: Int) -> Int { (n + lanes - 1) / lanes * lanes }

/// Floats of per-worker scratch one `causalAttention` call takes from the pool (forward, or
/// backward when `backward`): `Parallel.partCount(batch · heads)` slices of the sizes below.
public func causalAttentionScratchCount(batch: Int, seqLen: Int, heads: Int, headDim: Int,
                                        backward: Bool) -> Int {
    let g = AttentionGeometry(batch: batch, seqLen: seqLen, heads: heads, headDim: headDim,
                              lanes: AttentionTiles.lanes)
    return Parallel.partCount(batch * heads) * (backward ? g.backwardFloats : g.forwardFloats)
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
/// While recording, only each row's softmax max and inverse exp sum are kept ([batch, heads,
/// seqLen] each); backward recomputes P from them with the same tiles and the same exp/scale
/// steps, so it sees bitwise the P that forward used.
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
                                     headDim: width / heads, lanes: AttentionTiles.lanes)
    let out = Tensor(uninitializedShape: q.shape)
    let recording = Tape.shouldRecord(q, k, v)
    // Softmax statistics of row t of head (b, h) at (b·heads + h)·seqLen + t, kept for backward.
    let rowMax: Tensor? = recording ? Tensor(uninitializedShape: [batch, heads, seqLen]) : nil
    let rowInverse: Tensor? = recording ? Tensor(uninitializedShape: [batch, heads, seqLen]) : nil

    let qp = SendablePointer(q.pointer), kp = SendablePointer(k.pointer)
    let vp = SendablePointer(v.pointer), op = SendablePointer(out.pointer)
    let mp = rowMax.map { SendablePointer($0.pointer) }
    let ip = rowInverse.map { SendablePointer($0.pointer) }
    // One workspace per worker, taken here, before the workers start, so the pool sees the
    // same requests whatever the threads' timing.
    let perWorker = geometry.forwardFloats
    let scratch = Tensor(uninitializedShape: [Parallel.partCount(batch * heads), perWorker])
    let sp = SendablePointer(scratch.pointer)
    Parallel.forIndexedRanges(batch * heads) { part, items in
        for item in items {
            geometry.forwardHead(item, q: qp.p, k: kp.p, v: vp.p, work: sp.p + part * perWorker, out: op.p,
                                 rowMax: mp.map { $0.p + item * seqLen },
                                 rowInverse: ip.map { $0.p + item * seqLen })
        }
    }

    if recording, let rowMax, let rowInverse {
        out.requiresGrad = true
        Tape.push {
            guard let dOut = out.grad else { return }
            defer { out.grad = nil }  // an intermediate's gradient is dead once propagated
            // Taken in the order each head writes them (dV, dQ, dK): when inputs are one tensor,
            // the first write stores into the fresh buffer and the later ones add.
            let dv = v.requiresGrad ? v.gradientDestination() : nil
            let dq = q.requiresGrad ? q.gradientDestination() : nil
            let dk = k.requiresGrad ? k.gradientDestination() : nil
            let targets = AttentionGradients(
                dq: dq.map { SendablePointer($0.grad.pointer) }, accumulateQ: dq?.accumulate ?? false,
                dk: dk.map { SendablePointer($0.grad.pointer) }, accumulateK: dk?.accumulate ?? false,
                dv: dv.map { SendablePointer($0.grad.pointer) }, accumulateV: dv?.accumulate ?? false)
            let dop = SendablePointer(dOut.pointer)
            let mp = SendablePointer(rowMax.pointer), ip = SendablePointer(rowInverse.pointer)
            let qp = SendablePointer(q.pointer), kp = SendablePointer(k.pointer)
            let vp = SendablePointer(v.pointer)
            let perWorker = geometry.backwardFloats
            let buffers = Tensor(uninitializedShape: [Parallel.partCount(batch * heads), perWorker])
            let bp = SendablePointer(buffers.pointer)
            Parallel.forIndexedRanges(batch * heads) { part, items in
                for item in items {
                    geometry.backwardHead(item, q: qp.p, k: kp.p, v: vp.p,
                                          rowMax: mp.p + item * seqLen,
                                          rowInverse: ip.p + item * seqLen, dOut: dop.p,
                                          into: targets, work: bp.p + part * perWorker)
                }
            }
        }
    }
    return out
}

/// Where backward writes dQ, dK and dV (nil: not wanted) and whether it adds or stores.
private struct AttentionGradients: Sendable {
    let dq: SendablePointer<Float>?, accumulateQ: Bool
    let dk: SendablePointer<Float>?, accumulateK: Bool
    let dv: SendablePointer<Float>?, accumulateV: Bool
}

/// Shapes and strides of one attention call, and the per-head kernels.
private struct AttentionGeometry: Sendable {
    let batch: Int, seqLen: Int, heads: Int, headDim: Int
    /// Floats per lane group of the tiles (8, or 16 with AVX-512), fixed for forward and its
    /// backward.
    let lanes: Int
    /// seqLen and headDim rounded up to `lanes`: rows and columns of a head's padded copies.
    let paddedT: Int, paddedD: Int

    init(batch: Int, seqLen: Int, heads: Int, headDim: Int, lanes: Int) {
        self.batch = batch; self.seqLen = seqLen; self.heads = heads; self.headDim = headDim
        self.lanes = lanes
        paddedT = roundUp(seqLen, lanes); paddedD = roundUp(headDim, lanes)
    }

    /// Query rows per block (a multiple of 8, so every row's width below is the same as in
    /// blocks of 4: i0 + 4 and i0 + 8 round up alike).
    static let blockRows = 8

    /// Keys a row block starting at i0 multiplies: its causal range rounded up to the lanes.
    @inline(__always) func blockWidth(_ i0: Int) -> Int { roundUp(i0 + AttentionGeometry.blockRows, lanes) }

    /// Row stride of Q, K, V and the output: heads · headDim.
    var width: Int { heads * headDim }
    var scale: Float { 1 / Float(headDim).squareRoot() }
    /// A worker's forward workspace: a block of P [8, T'], Qs and V [T', hd'], Kᵀ [hd', T'],
    /// an output tile [8, hd'].
    var forwardFloats: Int { 8 * paddedT + 3 * paddedT * paddedD + 8 * paddedD }
    /// A worker's backward workspace: P and dP/dS [T', T'], Qs, Ks, dO [T', hd'], Kᵀ and Vᵀ
    /// [hd', T'], an output tile [8, hd'].
    var backwardFloats: Int { 2 * paddedT * paddedT + 5 * paddedT * paddedD + 8 * paddedD }

    /// Offset of head `item` = b·heads + h in a [B·T, H·hd] buffer.
    func headOffset(_ item: Int) -> Int {
        (item / heads) * seqLen * width + (item % heads) * headDim
    }

    /// S[i0 ..< i0+8, 0 ..< w] = Qs · Kᵀ (Qs = Q·scale, padded) into rows at `s` (stride T').
    /// Forward and backward's recomputation both go through here: the same bits.
    @inline(__always)
    func scoreRows(_ i0: Int, columns w: Int, qs: UnsafePointer<Float>, kt: UnsafePointer<Float>,
                   into s: UnsafeMutablePointer<Float>) {
        AttentionTiles.rowBlock8(lanes: lanes, columns: w, steps: paddedD, a: qs + i0 * paddedD, aRow: paddedD, aStep: 1,
                                b: kt, bStride: paddedT, c: s, ldc: paddedT)
    }

    /// Padded copies of Q·scale [T', hd'] and Kᵀ [hd', T'] of head `base`.
    @inline(__always)
    func packScores(base: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                    qs: UnsafeMutablePointer<Float>, kt: UnsafeMutablePointer<Float>) {
        AttentionTiles.packRows(q + base, stride: width, rows: seqLen, cols: headDim, scale: scale,
                                into: qs, dstStride: paddedD, paddedRows: paddedT)
        AttentionTiles.packTransposed(k + base, stride: width, rows: seqLen, cols: headDim,
                                      into: kt, paddedRows: paddedT, paddedCols: paddedD)
    }

    /// P = softmax(Q Kᵀ·scale, causal) eight rows at a time, each block followed by its
    /// O rows = P V. With `rowMax` and `rowInverse` ([T] each), stores every row's max and
    /// 1 / exp sum there.
    func forwardHead(_ item: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                     v: UnsafePointer<Float>, work: UnsafeMutablePointer<Float>,
                     out: UnsafeMutablePointer<Float>, rowMax: UnsafeMutablePointer<Float>?,
                     rowInverse: UnsafeMutablePointer<Float>?) {
        let base = headOffset(item), T = seqLen, Tp = paddedT, hp = paddedD
        let rows = AttentionGeometry.blockRows
        let probs = work, qs = probs + rows * Tp, kt = qs + Tp * hp, vs = kt + hp * Tp, tile = vs + Tp * hp
        packScores(base: base, q: q, k: k, qs: qs, kt: kt)
        AttentionTiles.packRows(v + base, stride: width, rows: T, cols: headDim, scale: 1,
                                into: vs, dstStride: hp, paddedRows: Tp)
        for i0 in stride(from: 0, to: T, by: rows) {
            let w = blockWidth(i0)  // keys 0 ..< w cover every row of the block's causal range
            scoreRows(i0, columns: w, qs: qs, kt: kt, into: probs)
            for r in 0..<rows {
                let t = i0 + r, row = probs + r * Tp
                if t < T {
                    let stats = causalSoftmaxRow(row, valid: t + 1, width: w, lanes: lanes)
                    if let rowMax, let rowInverse { rowMax[t] = stats.max; rowInverse[t] = stats.inverse }
                } else {
                    row.update(repeating: 0, count: w)  // padding rows weigh nothing
                }
            }
            // O[i0 ..< i0+8] = P[i0 ..< i0+8, 0 ..< i0+8] · V[0 ..< i0+8] (P is 0 past each row's
            // own position, so the first rows' extra terms add exact zeros at the end)
            AttentionTiles.rowBlock8(lanes: lanes, columns: hp, steps: i0 + rows, a: probs, aRow: Tp, aStep: 1,
                                     b: vs, bStride: hp, c: tile, ldc: hp)
            AttentionTiles.emit(tile, ldt: hp, rows: rows, first: i0, limit: T, cols: headDim,
                                into: out + base, stride: width, accumulate: false)
        }
    }

    /// dQ, dK, dV of one head (each head owns its columns, so heads never race). P is rebuilt
    /// in [T', T'] from the row statistics eight rows at a time, each block followed by its dS;
    /// then the products, in the order dV, dQ, dK.
    /// dV = Pᵀ dO; dP = dO Vᵀ; dS = P ⊙ (dP − rowsum(dP ⊙ P)); dQ = dS K·scale; dK = dSᵀ Q·scale.
    func backwardHead(_ item: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                      v: UnsafePointer<Float>, rowMax: UnsafePointer<Float>,
                      rowInverse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                      into g: AttentionGradients, work: UnsafeMutablePointer<Float>) {
        let needScores = g.dq != nil || g.dk != nil
        guard needScores || g.dv != nil else { return }
        let base = headOffset(item), T = seqLen, Tp = paddedT, hp = paddedD
        let probs = work, ds = probs + Tp * Tp, qs = ds + Tp * Tp, ks = qs + Tp * hp
        let dO = ks + Tp * hp, kt = dO + Tp * hp, vt = kt + hp * Tp, tile = vt + hp * Tp
        packScores(base: base, q: q, k: k, qs: qs, kt: kt)
        AttentionTiles.packRows(dOut + base, stride: width, rows: T, cols: headDim, scale: 1,
                                into: dO, dstStride: hp, paddedRows: Tp)
        if needScores {
            AttentionTiles.packTransposed(v + base, stride: width, rows: T, cols: headDim,
                                          into: vt, paddedRows: Tp, paddedCols: hp)
        }
        if g.dq != nil {
            AttentionTiles.packRows(k + base, stride: width, rows: T, cols: headDim, scale: scale,
                                    into: ks, dstStride: hp, paddedRows: Tp)
        }
        let rows = AttentionGeometry.blockRows
        let rowsEnd = (T + rows - 1) / rows * rows  // rows of P and dS written: every block holding a real row
        for i0 in stride(from: 0, to: T, by: rows) {
            let w = blockWidth(i0)
            // P[i0 ..< i0+8, 0 ..< w]: forward's product, then forward's exp and scale per row.
            scoreRows(i0, columns: w, qs: qs, kt: kt, into: probs + i0 * Tp)
            for r in 0..<rows {
                let t = i0 + r, row = probs + t * Tp
                if t < T {
                    softmaxRowFromStats(row, valid: t + 1, width: w, rowMax: rowMax[t], inverse: rowInverse[t], lanes: lanes)
                } else {
                    row.update(repeating: 0, count: w)
                }
            }
            guard needScores else { continue }
            // dP[i0 ..< i0+8, 0 ..< w] = dO · Vᵀ, then dS in place.
            AttentionTiles.rowBlock8(lanes: lanes, columns: w, steps: hp, a: dO + i0 * hp, aRow: hp, aStep: 1,
                                     b: vt, bStride: Tp, c: ds + i0 * Tp, ldc: Tp)
            for r in 0..<rows {
                let t = i0 + r
                if t < T {
                    softmaxBackwardRow(probs: probs + t * Tp, grad: ds + t * Tp, valid: t + 1, width: w, lanes: lanes)
                } else {
                    (ds + t * Tp).update(repeating: 0, count: w)
                }
            }
        }
        // Column block j0 ..< j0+8 of P or dS is non-zero only in rows j0 ..< T, and those rows'
        // blocks all wrote it (their widths reach past j0 + 8); the zeros above the diagonal and
        // in padding rows add exact zeros to each sum.
        if let dv = g.dv {  // dV[j0 ..< j0+8] = P[j0 ..< T, j0 ..< j0+8]ᵀ · dO[j0 ..< T]
            for j0 in stride(from: 0, to: T, by: rows) {
                AttentionTiles.rowBlock8(lanes: lanes, columns: hp, steps: rowsEnd - j0, a: probs + j0 * Tp + j0, aRow: 1, aStep: Tp,
                                         b: dO + j0 * hp, bStride: hp, c: tile, ldc: hp)
                AttentionTiles.emit(tile, ldt: hp, rows: rows, first: j0, limit: T, cols: headDim,
                                    into: dv.p + base, stride: width, accumulate: g.accumulateV)
            }
        }
        if let dq = g.dq {  // dQ[i0 ..< i0+8] = dS[i0 ..< i0+8, 0 ..< i0+8] · K·scale
            for i0 in stride(from: 0, to: T, by: rows) {
                AttentionTiles.rowBlock8(lanes: lanes, columns: hp, steps: i0 + rows, a: ds + i0 * Tp, aRow: Tp, aStep: 1,
                                         b: ks, bStride: hp, c: tile, ldc: hp)
                AttentionTiles.emit(tile, ldt: hp, rows: rows, first: i0, limit: T, cols: headDim,
                                    into: dq.p + base, stride: width, accumulate: g.accumulateQ)
            }
        }
        if let dk = g.dk {  // dK[j0 ..< j0+8] = dS[j0 ..< T, j0 ..< j0+8]ᵀ · Q·scale
            for j0 in stride(from: 0, to: T, by: rows) {
                AttentionTiles.rowBlock8(lanes: lanes, columns: hp, steps: rowsEnd - j0, a: ds + j0 * Tp + j0, aRow: 1, aStep: Tp,
                                         b: qs + j0 * hp, bStride: hp, c: tile, ldc: hp)
                AttentionTiles.emit(tile, ldt: hp, rows: rows, first: j0, limit: T, cols: headDim,
                                    into: dk.p + base, stride: width, accumulate: g.accumulateK)
            }
        }
    }
}

