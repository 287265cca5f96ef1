// linearCrossEntropy: the language-model head and its loss in one op,
// mean over rows of cross-entropy(x · Wᵀ, targets) — the same loss as
// crossEntropy(linear(x, W), targets) — computed in row chunks so the [N, V] logits never
// exist at once. The logits of a chunk are turned into the loss gradient
// (softmax − onehot)/N in place (as llm.c does), nothing needs them once the loss is known.
//
// When the caller passes the gradient that backward will seed the loss with
// (`lossGradient`, 1/grad_accum in training), the op also runs the head's backward chunk by
// chunk during forward: dx rows = g·G_c · W into a kept [N, d] buffer, dW += (g·G_c)ᵀ · x_c.
// Backward then only hands dx over. Peak memory: one [chunk, V] buffer instead of [N, V].
// Without it, the whole [N, V] gradient is kept for backward (as for any seed).

/// Rows per chunk: about 2 Mi floats (8 MiB) of logits, fixed by N and V only (never by the
/// thread count), so every run of a shape sums dW in the same order.
func crossEntropyChunkRows(rows n: Int, vocab v: Int) -> Int { max(1, min(n, (1 << 21) / max(v, 1))) }

/// x [N, d], W [V, d] (the head, [out, in]), targets N ids in 0..<V → a 0-d tensor.
/// `lossGradient`: the seed backward will use (checked there), enabling the eager head backward.
public func linearCrossEntropy(_ x: Tensor, _ w: Tensor, targets: [Int32], lossGradient: Float? = nil) -> Tensor {
    var mean = 0.0
    return linearCrossEntropy(x, w, targets: targets, lossGradient: lossGradient, mean: &mean)
}

/// The same mean cross-entropy as a Double, summed over rows in Double and never rounded to
/// Float (forward only: nothing is recorded, one [chunk, V] buffer is live). Zeroth-order
/// estimates difference two such losses.
public func linearCrossEntropyMean(_ x: Tensor, _ w: Tensor, targets: [Int32]) -> Double {
    var mean = 0.0
    _ = Tape.withoutRecording { linearCrossEntropy(x, w, targets: targets, lossGradient: nil, mean: &mean) }
    return mean
}

private func linearCrossEntropy(_ x: Tensor, _ w: Tensor, targets: [Int32], lossGradient: Float?, mean: inout Double) -> Tensor {
    precondition(w.shape.count == 2, "linearCrossEntropy: weight must be [V, d], got \(w.shape)")
    let v = w.shape[0], d = w.shape[1], n = x.rows
    precondition(x.lastDim == d, "linearCrossEntropy: input \(x.shape) does not end in \(d)")
    precondition(targets.count == n, "linearCrossEntropy: \(targets.count) targets for \(n) rows of \(x.shape)")
    precondition(v > 0 && n > 0, "linearCrossEntropy: empty logits [\(n), \(v)]")
    for t in targets {
        precondition(t >= 0 && Int(t) < v, "linearCrossEntropy: target \(t) outside 0..<\(v)")
    }
    let record = Tape.shouldRecord(x, w)
    let eager = record ? lossGradient : nil
    // Recording without the seed keeps the whole [N, V] gradient; otherwise one chunk.
    let chunk = record && eager == nil ? n : crossEntropyChunkRows(rows: n, vocab: v)
    let buffer = Tensor(uninitializedShape: [chunk, v])
    let dx: Tensor? = eager != nil && x.requiresGrad ? Tensor(uninitializedShape: [n, d]) : nil
    var rowLoss = [Double](repeating: 0, count: n)
    var r0 = 0
    while r0 < n {
        let rows = min(chunk, n - r0)
        BLAS.sgemm(transB: true, m: rows, n: v, k: d, a: x.pointer + r0 * d, lda: d, b: w.pointer, ldb: d,
                   c: buffer.pointer, ldc: v)
        lossRows(buffer.pointer, rows: rows, vocab: v, targets: targets, first: r0, totalRows: n,
                 gradient: record, into: &rowLoss)
        if let g = eager {
            if g != 1 { scaleElements(buffer, by: g, count: rows * v) }
            if let dx {  // dx[r0..<r0+rows] = g·G_c[rows, V] · W[V, d]
                BLAS.sgemm(m: rows, n: d, k: v, a: buffer.pointer, lda: v, b: w.pointer, ldb: d,
                           beta: 0, c: dx.pointer + r0 * d, ldc: d)
            }
            if w.requiresGrad {  // dW[V, d] += (g·G_c)ᵀ[V, rows] · x_c[rows, d]
                BLAS.sgemm(transA: true, m: v, n: d, k: rows, a: buffer.pointer, lda: v,
                           b: x.pointer + r0 * d, ldb: d, beta: 1, c: w.ensureGrad().pointer, ldc: d)
            }
        }
        r0 += rows
    }
    var total = 0.0
    for l in rowLoss { total += l }
    let y = Tensor(uninitializedShape: [])
    mean = total / Double(n)
    y.pointer[0] = Float(mean)
    guard record else { return y }
    y.requiresGrad = true
    if let g = eager {
        Tape.push(touching: [w]) {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            precondition(dy.scalar == g, "linearCrossEntropy: backward seeded with \(dy.scalar), forward was told \(g)")
            guard let dx else { return }
            if let g = x.grad {  // another op also read x: add
                for i in 0..<g.count { g.pointer[i] += dx.pointer[i] }
            } else {
                x.grad = dx
            }
        }
        return y
    }
    let gradient = buffer
    Tape.push(touching: [w]) {
        guard let dy = y.grad else { return }
        defer { y.grad = nil }
        let g = dy.scalar
        if g != 1 { scaleElements(gradient, by: g, count: gradient.count) }  // dlogits = g · (softmax − onehot)/N
        if x.requiresGrad {  // dx[N, d] (+)= dlogits[N, V] · W[V, d]
            let (dx, accumulate) = x.gradientDestination()
            BLAS.sgemm(m: n, n: d, k: v, a: gradient.pointer, lda: v, b: w.pointer, ldb: d,
                       beta: accumulate ? 1 : 0, c: dx.pointer, ldc: d)
        }
        if w.requiresGrad {  // dW[V, d] += dlogitsᵀ[V, N] · x[N, d]
            BLAS.sgemm(transA: true, m: v, n: d, k: n, a: gradient.pointer, lda: v,
                       b: x.pointer, ldb: d, beta: 1, c: w.ensureGrad().pointer, ldc: d)
        }
    }
    return y
}

/// Loss of rows first ..< first+rows whose logits are `logits` [rows, V] (overwritten with
/// e^(x − max), or with the gradient (softmax − onehot)/totalRows when `gradient`).
private func lossRows(_ logits: UnsafeMutablePointer<Float>, rows: Int, vocab v: Int, targets: [Int32], first: Int,
                      totalRows: Int, gradient: Bool, into loss: inout [Double]) {
    loss.withUnsafeMutableBufferPointer { lossBuf in
        let lossP = lossBuf.baseAddress! + first
        targets.withUnsafeBufferPointer { tp in
            let tp = tp.baseAddress! + first
            Parallel.forRanges(rows, grain: max(1, (1 << 14) / v)) { range in
                for r in range {
                    lossP[r] = crossEntropyRow(logits + r * v, count: v, target: Int(tp[r]), exps: logits + r * v,
                                               scaleToGradient: gradient, rows: totalRows)
                }
            }
        }
    }
}
