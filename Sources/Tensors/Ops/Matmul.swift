// matmul: y = a·b with the weight in [in, out] orientation (numpy/PyTorch `a @ b` for a 2-D
// b), as the tensor-train adapters of AdaZeta use it (y = x W); and `reshaped`, a copy under
// a new shape for the small cores those adapters contract. Products go through one sgemm
// each, transposes by flag only.

/// y[..., n] = a[..., k] · b[k, n]. All leading dimensions of `a` are flattened into rows;
/// the result keeps them: a.shape.dropLast() + [n].
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(b.shape.count == 2, "matmul: right operand must be [k, n], got \(b.shape)")
    let k = b.shape[0], n = b.shape[1]
    precondition(a.lastDim == k, "matmul: left operand \(a.shape) does not end in \(k)")
    let m = a.rows
    let y = Tensor(uninitializedShape: Array(a.shape.dropLast()) + [n])
    BLAS.sgemm(m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n, c: y.pointer, ldc: n)
    if Tape.shouldRecord(a, b) {
        y.requiresGrad = true
        Tape.push(touching: [a, b]) {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }  // an intermediate's gradient is dead once propagated
            if a.requiresGrad {  // da[m, k] (+)= dy[m, n] · bᵀ[n, k]; a fresh buffer is overwritten
                let (da, accumulate) = a.gradientDestination()
                BLAS.sgemm(transB: true, m: m, n: k, k: n, a: dy.pointer, lda: n,
                           b: b.pointer, ldb: n, beta: accumulate ? 1 : 0, c: da.pointer, ldc: k)
            }
            if b.requiresGrad {  // db[k, n] (+)= aᵀ[k, m] · dy[m, n]
                let (db, accumulate) = b.gradientDestination()
                BLAS.sgemm(transA: true, m: k, n: n, k: m, a: a.pointer, lda: k,
                           b: dy.pointer, ldb: n, beta: accumulate ? 1 : 0, c: db.pointer, ldc: n)
            }
        }
    }
    return y
}

/// A copy of `a` with shape `shape` (same element count, row-major order unchanged).
/// Backward adds dy into a's gradient. Tensors own their buffers, so this copies; it is
/// meant for small tensors such as tensor-train cores.
public func reshaped(_ a: Tensor, _ shape: [Int]) -> Tensor {
    let y = Tensor(uninitializedShape: shape)
    precondition(y.count == a.count, "reshaped: \(a.shape) has \(a.count) elements, \(shape) has \(y.count)")
    y.pointer.update(from: a.pointer, count: a.count)
    if Tape.shouldRecord(a) {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            let (da, accumulate) = a.gradientDestination()  // da (+)= dy, element for element
            let d = da.pointer, g = dy.pointer
            if accumulate {
                for i in 0..<a.count { d[i] += g[i] }
            } else {
                d.update(from: g, count: a.count)
            }
        }
    }
    return y
}
