// SiLU (Elfwing et al. 2017, arXiv:1702.03118) and the fused SwiGLU gate of the LLaMA MLP
// (Shazeer 2020, arXiv:2002.05202): swiGLU(g, u) = silu(g) ⊙ u. Backward recomputes σ(g)
// from the saved input instead of storing it: one SIMD exp per element, no extra tensor.
// SwiGLU runs 16 floats at a time where the processor has AVX-512 (WideTiles' WideSwiGLU,
// the same bits).
import WideTiles

/// Elements per parallel part (an exp per element makes these loops about 4× denser than a copy).
private let siluGrain = 1 << 13

/// silu(a) = a · σ(a), element-wise.
public func silu(_ a: Tensor) -> Tensor {
    let y = Tensor(uninitializedShape: a.shape)
    let x = a.pointer, out = y.pointer
    Parallel.forRanges(a.count, grain: siluGrain) { range in
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let v = Lanes.load(x + i)
            Lanes.store(v * FastMath.sigmoid(v), out + i)
            i += 8
        }
        while i < range.upperBound { out[i] = x[i] * FastMath.sigmoid(x[i]); i += 1 }
    }
    if Tape.shouldRecord(a) {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            // d silu / da = σ + a·σ·(1 − σ) = σ + silu·(1 − σ)
            let (da, accumulate) = a.gradientDestination()
            let g = dy.pointer, d = da.pointer
            Parallel.forRanges(a.count, grain: siluGrain) { range in
                var i = range.lowerBound
                while i + 8 <= range.upperBound {
                    let v = Lanes.load(x + i), s = FastMath.sigmoid(v)
                    var r = Lanes.load(g + i) * (s + v * s * (1 - s))
                    if accumulate { r += Lanes.load(d + i) }
                    Lanes.store(r, d + i)
                    i += 8
                }
                while i < range.upperBound {
                    let s = FastMath.sigmoid(x[i])
                    let r = g[i] * (s + x[i] * s * (1 - s))
                    d[i] = accumulate ? d[i] + r : r
                    i += 1
                }
            }
        }
    }
    return y
}

/// swiGLU(gate, up) = silu(gate) ⊙ up, element-wise; gate and up have the same shape
/// (the [N, intermediate] outputs of the gate and up projections).
public func swiGLU(_ gate: Tensor, _ up: Tensor) -> Tensor {
    precondition(gate.shape == up.shape, "swiGLU: gate \(gate.shape) and up \(up.shape) differ")
    let y = Tensor(uninitializedShape: gate.shape)
    let gp = gate.pointer, upP = up.pointer, out = y.pointer
    Parallel.forRanges(gate.count, grain: siluGrain) { range in
        var i = range.lowerBound
        if WideLanes.enabled {
            let count = range.count & ~15
            WideSwiGLU.forward(gate: gp + i, up: upP + i, out: out + i, count: count)
            i += count
        }
        while i + 8 <= range.upperBound {
            let g = Lanes.load(gp + i)
            Lanes.store(g * FastMath.sigmoid(g) * Lanes.load(upP + i), out + i)
            i += 8
        }
        while i < range.upperBound { out[i] = gp[i] * FastMath.sigmoid(gp[i]) * upP[i]; i += 1 }
    }
    if Tape.shouldRecord(gate, up) {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            swiGLUBackward(dy: dy, gate: gate, up: up)
        }
    }
    return y
}

/// dgate += dy ⊙ up ⊙ (σ + silu·(1 − σ)),  dup += dy ⊙ silu(gate), in one pass.
private func swiGLUBackward(dy: Tensor, gate: Tensor, up: Tensor) {
    let needGate = gate.requiresGrad, needUp = up.requiresGrad
    // When gate === up both destinations are one buffer: the first is fresh or accumulating,
    // the second accumulating, and each element's gate store precedes its up load-add.
    let gateDest = needGate ? gate.gradientDestination() : nil
    let upDest = needUp ? up.gradientDestination() : nil
    let g = dy.pointer, gp = gate.pointer, upP = up.pointer
    let dg = gateDest?.grad.pointer, du = upDest?.grad.pointer
    let accG = gateDest?.accumulate ?? false, accU = upDest?.accumulate ?? false
    Parallel.forRanges(gate.count, grain: siluGrain) { range in
        var i = range.lowerBound
        if WideLanes.enabled {
            let count = range.count & ~15
            WideSwiGLU.backward(dy: g + i, gate: gp + i, up: upP + i, dgate: dg.map { $0 + i }, accumulateGate: accG,
                                dup: du.map { $0 + i }, accumulateUp: accU, count: count)
            i += count
        }
        while i + 8 <= range.upperBound {
            let x = Lanes.load(gp + i), s = FastMath.sigmoid(x), d = Lanes.load(g + i)
            let silu = x * s
            if let dg {
                var r = d * Lanes.load(upP + i) * (s + silu * (1 - s))
                if accG { r += Lanes.load(dg + i) }
                Lanes.store(r, dg + i)
            }
            if let du {
                var r = d * silu
                if accU { r += Lanes.load(du + i) }
                Lanes.store(r, du + i)
            }
            i += 8
        }
        while i < range.upperBound {
            let x = gp[i], s = FastMath.sigmoid(x), silu = x * s
            if let dg { let r = g[i] * upP[i] * (s + silu * (1 - s)); dg[i] = accG ? dg[i] + r : r }
            if let du { let r = g[i] * silu; du[i] = accU ? du[i] + r : r }
            i += 1
        }
    }
}
