// linear: y = x·Wᵀ, the projection of every LLaMA layer (PyTorch `nn.Linear` without bias,
// weights stored [out, in]). One sgemm forward, two backward, transposes by flag only.

/// y[N, out] = x[N, in] · W[out, in]ᵀ. `x` may have any leading shape [..., in]; the result
/// keeps it: [..., out].
public func linear(_ x: Tensor, _ w: Tensor) -> Tensor {
    precondition(w.shape.count == 2, "linear: weight must be [out, in], got \(w.shape)")
    let outF = w.shape[0], inF = w.shape[1]
    precondition(x.lastDim == inF, "linear: input \(x.shape) does not end in \(inF)")
    let n = x.rows
    let y = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outF])
    BLAS.sgemm(transB: true, m: n, n: outF, k: inF,
               a: x.pointer, lda: inF, b: w.pointer, ldb: inF, c: y.pointer, ldc: outF)
    if Tape.shouldRecord(x, w) {
        y.requiresGrad = true
        Tape.push(touching: [w]) {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }  // an intermediate's gradient is dead once propagated
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
    }
    return y
}
