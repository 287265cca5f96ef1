// RMSNorm (Zhang & Sennrich 2019, arXiv:1910.07467) as in Hugging Face `LlamaRMSNorm`:
// y = x / sqrt(mean(x², last axis) + eps) ⊙ w. Forward saves only the per-row 1/rms; the
// weight gradient is summed over fixed 64-row blocks, then over blocks in order (deterministic).

/// Rows per weight-gradient block: the unit of the fixed summation order over rows.
private let rowBlock = 64

/// y[..., d] = x[..., d] / sqrt(mean(x², last axis) + eps) ⊙ weight[d].
public func rmsNorm(_ x: Tensor, _ weight: Tensor, eps: Float) -> Tensor {
    let d = x.lastDim, rows = x.rows
    precondition(weight.shape == [d], "rmsNorm: weight \(weight.shape) for input \(x.shape)")
    precondition(d > 0, "rmsNorm: empty last axis in \(x.shape)")
    let y = Tensor(uninitializedShape: x.shape)
    let invRMS = Tensor(uninitializedShape: [rows])  // [rows]: 1/sqrt(mean(x²) + eps)
    let xp = x.pointer, yp = y.pointer, wp = weight.pointer, rp = invRMS.pointer
    Parallel.forRanges(rows, grain: rowGrain(d)) { range in
        for r in range {
            let row = xp + r * d, out = yp + r * d
            let inv = 1 / (sumOfSquares(row, d) / Float(d) + eps).squareRoot()
            rp[r] = inv
            let iv = SIMD8<Float>(repeating: inv)
            var j = 0
            while j + 8 <= d { Lanes.store(Lanes.load(row + j) * iv * Lanes.load(wp + j), out + j); j += 8 }
            while j < d { out[j] = row[j] * inv * wp[j]; j += 1 }
        }
    }
    if Tape.shouldRecord(x, weight) {
        y.requiresGrad = true
        Tape.push(touching: [weight]) {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            rmsNormBackward(dy: dy, x: x, weight: weight, invRMS: invRMS)
        }
    }
    return y
}

/// With r = 1/rms of a row, y = r·x⊙w and dr/dx = −r³·x/d, so
///   dx = r·(w⊙dy) − (r³/d)·(Σ_k dy_k w_k x_k)·x,   dw = Σ_rows r·dy⊙x.
private func rmsNormBackward(dy: Tensor, x: Tensor, weight: Tensor, invRMS: Tensor) {
    let d = x.lastDim, rows = x.rows
    let blocks = (rows + rowBlock - 1) / rowBlock
    let dxDest = x.requiresGrad ? x.gradientDestination() : nil
    // [blocks, d]: block b holds Σ over its rows of r·dy⊙x.
    let scratch = weight.requiresGrad ? Tensor(uninitializedShape: [blocks, d]) : nil
    let xp = x.pointer, gp = dy.pointer, wp = weight.pointer, rp = invRMS.pointer
    let dxp = dxDest?.grad.pointer, accumulate = dxDest?.accumulate ?? false
    let sp = scratch?.pointer
    let blockGrain = max(1, rowGrain(d) / rowBlock)
    Parallel.forRanges(blocks, grain: blockGrain) { blockRange in
        for b in blockRange {
            let lo = b * rowBlock, hi = min(rows, lo + rowBlock)
            if let sp { (sp + b * d).update(repeating: 0, count: d) }
            for r in lo..<hi {
                let row = xp + r * d, g = gp + r * d, inv = rp[r]
                if let dxp {
                    let dot = weightedDot(g, wp, row, d)
                    let c = inv * inv * inv * dot / Float(d)
                    let iv = SIMD8<Float>(repeating: inv), cv = SIMD8<Float>(repeating: c)
                    let out = dxp + r * d
                    var j = 0
                    while j + 8 <= d {
                        var v = iv * Lanes.load(wp + j) * Lanes.load(g + j) - cv * Lanes.load(row + j)
                        if accumulate { v += Lanes.load(out + j) }
                        Lanes.store(v, out + j)
                        j += 8
                    }
                    while j < d {
                        let v = inv * wp[j] * g[j] - c * row[j]
                        out[j] = accumulate ? out[j] + v : v
                        j += 1
                    }
                }
                if let sp {
                    let acc = sp + b * d, iv = SIMD8<Float>(repeating: inv)
                    var j = 0
                    while j + 8 <= d {
                        Lanes.store(Lanes.load(acc + j) + iv * Lanes.load(g + j) * Lanes.load(row + j), acc + j)
                        j += 8
                    }
                    while j < d { acc[j] += inv * g[j] * row[j]; j += 1 }
                }
            }
        }
    }
    if let sp {  // dw += Σ_b scratch[b], blocks in order
        let dw = weight.ensureGrad().pointer
        var j = 0
        while j + 8 <= d {
            var s = Lanes.load(sp + j)
            for b in 1..<blocks { s += Lanes.load(sp + b * d + j) }
            Lanes.store(Lanes.load(dw + j) + s, dw + j)
            j += 8
        }
        while j < d {
            var s = sp[j]
            for b in 1..<blocks { s += sp[b * d + j] }
            dw[j] += s
            j += 1
        }
    }
}

/// Rows per parallel part: about 32 Ki elements (a part then takes ≳ 0.03 ms).
private func rowGrain(_ d: Int) -> Int { max(1, (1 << 15) / d) }

/// Σ p[j]² for j < n, with four SIMD accumulators.
@inline(__always)
private func sumOfSquares(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var j = 0
    while j + 32 <= n {
        let v0 = Lanes.load(p + j), v1 = Lanes.load(p + j + 8)
        let v2 = Lanes.load(p + j + 16), v3 = Lanes.load(p + j + 24)
        a0 = a0.addingProduct(v0, v0); a1 = a1.addingProduct(v1, v1)
        a2 = a2.addingProduct(v2, v2); a3 = a3.addingProduct(v3, v3)
        j += 32
    }
    while j + 8 <= n { let v = Lanes.load(p + j); a0 = a0.addingProduct(v, v); j += 8 }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while j < n { s += p[j] * p[j]; j += 1 }
    return s
}

/// Σ a[j]·b[j]·c[j] for j < n, with two SIMD accumulators.
@inline(__always)
private func weightedDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                         _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
    var j = 0
    while j + 16 <= n {
        a0 = a0.addingProduct(Lanes.load(a + j) * Lanes.load(b + j), Lanes.load(c + j))
        a1 = a1.addingProduct(Lanes.load(a + j + 8) * Lanes.load(b + j + 8), Lanes.load(c + j + 8))
        j += 16
    }
    while j + 8 <= n { a0 = a0.addingProduct(Lanes.load(a + j) * Lanes.load(b + j), Lanes.load(c + j)); j += 8 }
    var s = (a0 + a1).sum()
    while j < n { s += a[j] * b[j] * c[j]; j += 1 }
    return s
}
