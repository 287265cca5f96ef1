// addBias (y = x + b, the bias of a dense layer broadcast over rows) and relu (Nair & Hinton
// 2010: max(x, 0)), the two pieces the tensor-train adapters of AdaZeta add around their
// products. Work is split by rows or by columns only, and the bias gradient sums each column
// over the rows in row order, so every result is the same for any thread count.

/// Elements per parallel part, as for the other element-wise ops.
private let elementGrain = 1 << 15

/// y[..., n] = x[..., n] + bias[n], the bias added to every row.
public func addBias(_ x: Tensor, _ bias: Tensor) -> Tensor {
    let n = x.lastDim
    precondition(bias.shape == [n], "addBias: bias \(bias.shape) does not match the last dimension of \(x.shape)")
    let rows = x.count / max(n, 1)
    let y = Tensor(uninitializedShape: x.shape)
    let xp = x.pointer, bp = bias.pointer, yp = y.pointer
    Parallel.forRanges(rows, grain: max(1, elementGrain / max(n, 1))) { range in
        for r in range {
            let xr = xp + r * n, yr = yp + r * n
            var c = 0
            while c + 8 <= n { Lanes.store(Lanes.load(xr + c) + Lanes.load(bp + c), yr + c); c += 8 }
            while c < n { yr[c] = xr[c] + bp[c]; c += 1 }
        }
    }
    if Tape.shouldRecord(x, bias) {
        y.requiresGrad = true
        Tape.push(touching: [bias]) {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }  // an intermediate's gradient is dead once propagated
            if bias.requiresGrad { addColumnSums(dy, rows: rows, columns: n, into: bias) }  // dbias += Σ_rows dy
            if x.requiresGrad {  // dx += dy; a fresh gradient takes dy's buffer (dbias is done with it)
                if x.grad == nil {
                    x.grad = dy
                } else {
                    let d = x.grad!.pointer, g = dy.pointer
                    Parallel.forRanges(x.count, grain: elementGrain) { range in
                        var i = range.lowerBound
                        while i + 8 <= range.upperBound { Lanes.store(Lanes.load(d + i) + Lanes.load(g + i), d + i); i += 8 }
                        while i < range.upperBound { d[i] += g[i]; i += 1 }
                    }
                }
            }
        }
    }
    return y
}

/// target.grad[c] += Σ_r g[r, c] for g [rows, columns]. Threads split the columns; each
/// column is summed in Double over the rows in row order, so the split changes nothing.
private func addColumnSums(_ g: Tensor, rows: Int, columns n: Int, into target: Tensor) {
    var totals = [Double](repeating: 0, count: n)  // one scratch row per call
    let gp = g.pointer
    totals.withUnsafeMutableBufferPointer { t in
        let acc = SendablePointer(t.baseAddress!)
        Parallel.forRanges(n, grain: max(1, (elementGrain + rows - 1) / max(rows, 1))) { cols in
            let a = acc.p
            for r in 0..<rows {
                let row = gp + r * n
                for c in cols { a[c] += Double(row[c]) }
            }
        }
    }
    let (db, accumulate) = target.gradientDestination()
    let d = db.pointer
    for c in 0..<n { d[c] = accumulate ? d[c] + Float(totals[c]) : Float(totals[c]) }
}

/// relu(x) = max(x, 0), element-wise. Backward passes dy where x > 0 and 0 elsewhere.
public func relu(_ x: Tensor) -> Tensor {
    let y = Tensor(uninitializedShape: x.shape)
    let xp = x.pointer, yp = y.pointer
    let zero = SIMD8<Float>(repeating: 0)
    Parallel.forRanges(x.count, grain: elementGrain) { range in
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let v = Lanes.load(xp + i)
            Lanes.store(v.replacing(with: 0, where: v .<= zero), yp + i)
            i += 8
        }
        while i < range.upperBound { yp[i] = xp[i] <= 0 ? 0 : xp[i]; i += 1 }  // the lane rule, so any split agrees
    }
    if Tape.shouldRecord(x) {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            // dx (+)= dy ⊙ [x > 0]; without an existing gradient the mask is applied in dy's
            // own buffer, which x then takes.
            let accumulate = x.grad != nil
            let d = (x.grad ?? dy).pointer, g = dy.pointer
            Parallel.forRanges(x.count, grain: elementGrain) { range in
                var i = range.lowerBound
                while i + 8 <= range.upperBound {
                    let masked = Lanes.load(g + i).replacing(with: 0, where: Lanes.load(xp + i) .<= zero)
                    Lanes.store(accumulate ? Lanes.load(d + i) + masked : masked, d + i)
                    i += 8
                }
                while i < range.upperBound {
                    let masked: Float = xp[i] <= 0 ? 0 : g[i]
                    d[i] = accumulate ? d[i] + masked : masked
                    i += 1
                }
            }
            if !accumulate { x.grad = dy }
        }
    }
    return y
}
