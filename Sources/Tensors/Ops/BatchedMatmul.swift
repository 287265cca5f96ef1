// batchedMatmul: C[i] = op(A[i]) · op(B[i]) for every item i of a batch (row-major, like
// `torch.bmm` with optional transposes). One sgemm per item with transpose flags, never a copy;
// small items run with OpenBLAS at one thread and the items spread over the cores (the
// attention layout, field notes §D.5), large ones use OpenBLAS's own threads.

/// Items with fewer multiply-adds than this (64³) are spread over the cores one item per
/// call; larger ones are threaded inside OpenBLAS.
private let smallItemMultiplyAdds = 64 * 64 * 64
/// Below this many multiply-adds in all (about 0.05 ms of work) the batch stays on the
/// calling thread: handing items to another core would cost more than it saves.
private let parallelBatchMultiplyAdds = 1 << 20

/// Batched matrix product.
///
/// - Parameters:
///   - a: [Bt, M, K], or [Bt, K, M] when `transA`.
///   - b: [Bt, K, N], or [Bt, N, K] when `transB`.
/// - Returns: [Bt, M, N] with C[i] = op(A[i]) · op(B[i]).
public func batchedMatmul(_ a: Tensor, _ b: Tensor, transA: Bool = false,
                          transB: Bool = false) -> Tensor {
    precondition(a.shape.count == 3 && b.shape.count == 3,
                 "batchedMatmul: operands must be [Bt, rows, cols], got \(a.shape) and \(b.shape)")
    let items = a.shape[0]
    precondition(b.shape[0] == items, "batchedMatmul: batch \(a.shape[0]) vs \(b.shape[0])")
    let m = transA ? a.shape[2] : a.shape[1], k = transA ? a.shape[1] : a.shape[2]
    let n = transB ? b.shape[1] : b.shape[2], kb = transB ? b.shape[2] : b.shape[1]
    precondition(k == kb, "batchedMatmul: inner sizes differ: op(a) \(m)×\(k), op(b) \(kb)×\(n)")
    let out = Tensor(uninitializedShape: [items, m, n])
    // Row strides and item strides as stored.
    let lda = a.shape[2], ldb = b.shape[2]
    let aItem = m * k, bItem = k * n, cItem = m * n
    let ap = SendablePointer(a.pointer), bp = SendablePointer(b.pointer)
    let cp = SendablePointer(out.pointer)
    forEachItem(items, multiplyAdds: m * n * k) { i in
        BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k,
                   a: ap.p + i * aItem, lda: lda, b: bp.p + i * bItem, ldb: ldb,
                   c: cp.p + i * cItem, ldc: n)
    }
    if Tape.shouldRecord(a, b) {
        out.requiresGrad = true
        Tape.push {
            guard let dOut = out.grad else { return }
            defer { out.grad = nil }  // an intermediate's gradient is dead once propagated
            let dc = SendablePointer(dOut.pointer)
            if a.requiresGrad {
                let da = SendablePointer(a.ensureGrad().pointer)
                forEachItem(items, multiplyAdds: m * n * k) { i in
                    let dcI = dc.p + i * cItem, bI = bp.p + i * bItem, daI = da.p + i * aItem
                    if transA {  // dA[K, M] += op(B)[K, N] · dCᵀ[N, M]
                        BLAS.sgemm(transA: transB, transB: true, m: k, n: m, k: n,
                                   a: bI, lda: ldb, b: dcI, ldb: n, beta: 1, c: daI, ldc: m)
                    } else {     // dA[M, K] += dC[M, N] · op(B)ᵀ[N, K]
                        BLAS.sgemm(transA: false, transB: !transB, m: m, n: k, k: n,
                                   a: dcI, lda: n, b: bI, ldb: ldb, beta: 1, c: daI, ldc: k)
                    }
                }
            }
            if b.requiresGrad {
                let db = SendablePointer(b.ensureGrad().pointer)
                forEachItem(items, multiplyAdds: m * n * k) { i in
                    let dcI = dc.p + i * cItem, aI = ap.p + i * aItem, dbI = db.p + i * bItem
                    if transB {  // dB[N, K] += dCᵀ[N, M] · op(A)[M, K]
                        BLAS.sgemm(transA: true, transB: transA, m: n, n: k, k: m,
                                   a: dcI, lda: n, b: aI, ldb: lda, beta: 1, c: dbI, ldc: k)
                    } else {     // dB[K, N] += op(A)ᵀ[K, M] · dC[M, N]
                        BLAS.sgemm(transA: !transA, transB: false, m: k, n: n, k: m,
                                   a: aI, lda: lda, b: dcI, ldb: n, beta: 1, c: dbI, ldc: n)
                    }
                }
            }
        }
    }
    return out
}

/// Runs `body(i)` for every item: many small items spread over the cores (each product then on
/// its item's thread), otherwise one after another (BLAS.sgemm splits each large product).
private func forEachItem(_ items: Int, multiplyAdds: Int, _ body: (Int) -> Void) {
    if multiplyAdds < smallItemMultiplyAdds && items * multiplyAdds >= parallelBatchMultiplyAdds {
        Parallel.forEach(items, body)
    } else {
        for i in 0..<items { body(i) }
    }
}
