// linear: y = x·Wᵀ, the projection of every LLaMA layer (PyTorch `nn.Linear` without bias,
// weights stored [out, in]). One sgemm forward, two backward, transposes by flag only.
// `linear(x, w, plus: r)` is a block's residual addition r + x·Wᵀ in the same product: r is
// copied into y and the product accumulated onto it (beta 1), which saves OpenBLAS's zero
// fill of y and the separate addition pass.

/// y[N, out] = x[N, in] · W[out, in]ᵀ. `x` may have any leading shape [..., in]; the result
/// keeps it: [..., out].
public func linear(_ x: Tensor, _ w: Tensor) -> Tensor {
    let (n, outF, inF) = linearShape(x, w)
    let y = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outF])
    BLAS.sgemm(transB: true, m: n, n: outF, k: inF,
               a: x.pointer, lda: inF, b: w.pointer, ldb: inF, c: y.pointer, ldc: outF)
    if Tape.shouldRecord(x, w) {
        y.requiresGrad = true
        Tape.push(touching: [w]) {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }  // an intermediate's gradient is dead once propagated
            linearBackward(dy, x, w, n: n, inF: inF, outF: outF)
        }
    }
    return y
}

/// y = r + x · Wᵀ for a residual r of the output's shape [..., out] (r itself is not
/// changed). The gradient of y reaches r unchanged, then x and W as in `linear`.
public func linear(_ x: Tensor, _ w: Tensor, plus r: Tensor) -> Tensor {
    let (n, outF, inF) = linearShape(x, w)
    precondition(r.shape == Array(x.shape.dropLast()) + [outF], "linear: residual \(r.shape) is not the output's shape")
    let y = Tensor(uninitializedShape: r.shape)
    let src = SendablePointer(r.pointer), dst = SendablePointer(y.pointer)
    Parallel.forRanges(r.count, grain: 1 << 15) { range in
        (dst.p + range.lowerBound).update(from: src.p + range.lowerBound, count: range.count)
    }
    BLAS.sgemm(transB: true, m: n, n: outF, k: inF,
               a: x.pointer, lda: inF, b: w.pointer, ldb: inF, beta: 1, c: y.pointer, ldc: outF)
    if Tape.shouldRecord(x, w, r) {
        y.requiresGrad = true
        Tape.push(touching: [w]) {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            if r.requiresGrad { addGradient(dy, into: r) }  // dr += dy
            linearBackward(dy, x, w, n: n, inF: inF, outF: outF)
        }
    }
    return y
}

/// Rows N, out and in features of x [..., in] times W [out, in]ᵀ, checked.
private func linearShape(_ x: Tensor, _ w: Tensor) -> (n: Int, outF: Int, inF: Int) {
    precondition(w.shape.count == 2, "linear: weight must be [out, in], got \(w.shape)")
    let outF = w.shape[0], inF = w.shape[1]
    precondition(x.lastDim == inF, "linear: input \(x.shape) does not end in \(inF)")
    return (x.rows, outF, inF)
}

/// dx (+)= dy · W and dW += dyᵀ · x, for whichever of x and W requires a gradient.
private func linearBackward(_ dy: Tensor, _ x: Tensor, _ w: Tensor, n: Int, inF: Int, outF: Int) {
    if x.requiresGrad {  // dx[N, in] (+)= dy[N, out] · W[out, in]; a fresh buffer is overwritten
        let (dx, accumulate) = x.gradientDestination()
        BLAS.sgemm(m: n, n: inF, k: outF, a: dy.pointer, lda: outF,
                   b: w.pointer, ldb: inF, beta: accumulate ? 1 : 0, c: dx.pointer, ldc: inF)
    }
    if w.requiresGrad {  // dW[out, in] += dyᵀ[out, N] · x[N, in]
        BLAS.sgemm(transA: true, m: outF, n: inF, k: n, a: dy.pointer, lda: outF,
                   b: x.pointer, ldb: inF, beta: 1, c: w.ensureGrad().pointer, ldc: inF)
    }
}
