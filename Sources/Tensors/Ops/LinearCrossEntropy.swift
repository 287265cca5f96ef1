// linearCrossEntropy: the language-model head and its loss in one op,
// mean over rows of cross-entropy(x · Wᵀ, targets) — the same values as
// crossEntropy(linear(x, W), targets), bit for bit, with one [N, V] buffer instead of two:
// the logits are turned into the loss gradient (softmax − onehot)/N in place, since nothing
// needs the logits once the loss is known. Backward scales that buffer by the upstream
// gradient and runs the two products of linear's backward.

/// x [N, d], W [V, d] (the head, [out, in]), targets N ids in 0..<V → a 0-d tensor.
public func linearCrossEntropy(_ x: Tensor, _ w: Tensor, targets: [Int32]) -> Tensor {
    precondition(w.shape.count == 2, "linearCrossEntropy: weight must be [V, d], got \(w.shape)")
    let v = w.shape[0], d = w.shape[1], n = x.rows
    precondition(x.lastDim == d, "linearCrossEntropy: input \(x.shape) does not end in \(d)")
    precondition(targets.count == n, "linearCrossEntropy: \(targets.count) targets for \(n) rows of \(x.shape)")
    precondition(v > 0 && n > 0, "linearCrossEntropy: empty logits [\(n), \(v)]")
    for t in targets {
        precondition(t >= 0 && Int(t) < v, "linearCrossEntropy: target \(t) outside 0..<\(v)")
    }
    let record = Tape.shouldRecord(x, w)
    // [N, V]: the logits, then in place e^(x − max), then (when recording) the gradient.
    let buffer = Tensor(uninitializedShape: [n, v])
    BLAS.sgemm(transB: true, m: n, n: v, k: d, a: x.pointer, lda: d, b: w.pointer, ldb: d,
               c: buffer.pointer, ldc: v)
    var rowLoss = [Double](repeating: 0, count: n)
    let bp = buffer.pointer
    rowLoss.withUnsafeMutableBufferPointer { lossBuf in
        let lossP = lossBuf.baseAddress!
        targets.withUnsafeBufferPointer { tp in
            Parallel.forRanges(n, grain: max(1, (1 << 14) / v)) { range in
                for r in range {
                    lossP[r] = crossEntropyRow(bp + r * v, count: v, target: Int(tp[r]), exps: bp + r * v,
                                               scaleToGradient: record, rows: n)
                }
            }
        }
    }
    var total = 0.0
    for l in rowLoss { total += l }
    let y = Tensor(uninitializedShape: [])
    y.pointer[0] = Float(total / Double(n))
    guard record else { return y }
    y.requiresGrad = true
    let gradient = buffer
    Tape.push(touching: [w]) {
        guard let dy = y.grad else { return }
        defer { y.grad = nil }
        let g = dy.scalar
        if g != 1 { scaleElements(gradient, by: g) }  // dlogits = g · (softmax − onehot)/N
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
