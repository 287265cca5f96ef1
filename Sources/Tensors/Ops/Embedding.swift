// Token embedding lookup (PyTorch `nn.Embedding`, the LLaMA `embed_tokens`): row ids[i] of a
// [V, d] table becomes output row i. Backward scatter-adds the output gradient rows into the
// table's gradient, columns split over the threads and ids always in order (deterministic).

/// out[ids.count, d] with out[i] = table[ids[i]]; table is [V, d] and every id is in 0..<V.
public func embedding(_ ids: [Int32], _ table: Tensor) -> Tensor {
    precondition(table.shape.count == 2, "embedding: table must be [V, d], got \(table.shape)")
    let vocab = table.shape[0], d = table.shape[1], n = ids.count
    for id in ids {
        precondition(id >= 0 && Int(id) < vocab, "embedding: id \(id) outside 0..<\(vocab)")
    }
    let y = Tensor(uninitializedShape: [n, d])
    let tp = table.pointer, yp = y.pointer
    ids.withUnsafeBufferPointer { idp in
        Parallel.forRanges(n, grain: max(1, (1 << 16) / max(d, 1))) { range in
            for i in range { (yp + i * d).update(from: tp + Int(idp[i]) * d, count: d) }
        }
    }
    if Tape.shouldRecord(table) {
        y.requiresGrad = true
        Tape.push(touching: [table]) {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            scatterAddRows(dy.pointer, ids: ids, into: table.ensureGrad().pointer, d: d)
        }
    }
    return y
}

/// grad[ids[i], :] += dy[i, :] for i in order. Each thread owns a range of columns (in
/// 16-float chunks) and walks every id, so repeated ids add in the same order at any thread count.
private func scatterAddRows(_ dy: UnsafePointer<Float>, ids: [Int32], into grad: UnsafeMutablePointer<Float>, d: Int) {
    let chunks = (d + 15) / 16
    // ≥ 64 KiB of dy per part before a second thread is worth waking.
    let chunkGrain = max(1, (1 << 16) / max(1, ids.count * 16))
    ids.withUnsafeBufferPointer { idp in
        Parallel.forRanges(chunks, grain: chunkGrain) { chunkRange in
            let lo = chunkRange.lowerBound * 16, hi = min(d, chunkRange.upperBound * 16)
            for (i, id) in idp.enumerated() {
                let src = dy + i * d, dst = grad + Int(id) * d
                var j = lo
                while j + 8 <= hi { Lanes.store(Lanes.load(dst + j) + Lanes.load(src + j), dst + j); j += 8 }
                while j < hi { dst[j] += src[j]; j += 1 }
            }
        }
    }
}
