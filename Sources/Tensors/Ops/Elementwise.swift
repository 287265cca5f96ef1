// Element-wise arithmetic on tensors of one shape: add (residual connections), mul (gating),
// scale (multiplication by a constant). One SIMD pass each, split over the cores in element
// ranges; an element's result never depends on the split, so any thread count agrees bitwise.

/// Elements per parallel part: a part of 32 Ki floats (≈ 0.05–0.1 ms) pays for waking a thread.
private let elementGrain = 1 << 15

/// y = a + b element-wise; a and b have the same shape, y has it too.
public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
    let y = Tensor(uninitializedShape: a.shape)
    zipMap(a.pointer, b.pointer, into: y.pointer, count: a.count, accumulate: false, { $0 + $1 }, { $0 + $1 })
    if Tape.shouldRecord(a, b) {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }  // an intermediate's gradient is dead once propagated
            if b.requiresGrad { addGradient(dy, into: b) }  // db += dy
            if a.requiresGrad {  // da += dy; a fresh gradient takes dy's buffer (b is done with it)
                if a.grad == nil { a.grad = dy } else { addGradient(dy, into: a) }
            }
        }
    }
    return y
}

/// y += a in place, returning y: a residual connection that reuses the buffer of the branch
/// output y (the same values as `add(a, y)`). Only for an intermediate y whose own values
/// nothing else reads: y's gradient is the sum's gradient, so the op that produced y reads
/// it unchanged, and a gets a copy of it.
public func addInPlace(_ y: Tensor, _ a: Tensor) -> Tensor {
    precondition(a.shape == y.shape, "addInPlace: shapes \(y.shape) and \(a.shape) differ")
    zipMap(a.pointer, y.pointer, into: y.pointer, count: a.count, accumulate: false, { $0 + $1 }, { $0 + $1 })
    if Tape.shouldRecord(a, y) {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            if a.requiresGrad { addGradient(dy, into: a) }  // da += dy
        }
    }
    return y
}

/// y = a ⊙ b element-wise; a and b have the same shape, y has it too.
public func mul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "mul: shapes \(a.shape) and \(b.shape) differ")
    let y = Tensor(uninitializedShape: a.shape)
    zipMap(a.pointer, b.pointer, into: y.pointer, count: a.count, accumulate: false, { $0 * $1 }, { $0 * $1 })
    if Tape.shouldRecord(a, b) {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            if a.requiresGrad {  // da += dy ⊙ b
                let (da, accumulate) = a.gradientDestination()
                zipMap(dy.pointer, b.pointer, into: da.pointer, count: a.count, accumulate: accumulate,
                       { $0 * $1 }, { $0 * $1 })
            }
            if b.requiresGrad {  // db += dy ⊙ a
                let (db, accumulate) = b.gradientDestination()
                zipMap(dy.pointer, a.pointer, into: db.pointer, count: b.count, accumulate: accumulate,
                       { $0 * $1 }, { $0 * $1 })
            }
        }
    }
    return y
}

/// y = s · a element-wise.
public func scale(_ a: Tensor, _ s: Float) -> Tensor {
    let y = Tensor(uninitializedShape: a.shape)
    scaleMap(a.pointer, s, into: y.pointer, count: a.count, accumulate: false)
    if Tape.shouldRecord(a) {
        y.requiresGrad = true
        Tape.push {
            guard let dy = y.grad else { return }
            defer { y.grad = nil }
            if a.grad == nil {  // da = s · dy, computed in dy's own buffer, which a then takes
                scaleMap(dy.pointer, s, into: dy.pointer, count: dy.count, accumulate: false)
                a.grad = dy
            } else {  // da += s · dy
                scaleMap(dy.pointer, s, into: a.grad!.pointer, count: a.count, accumulate: true)
            }
        }
    }
    return y
}

/// input.grad += g (a fresh gradient is written, not zero-filled and added to).
func addGradient(_ g: Tensor, into input: Tensor) {
    let (dst, accumulate) = input.gradientDestination()
    if accumulate {
        zipMap(dst.pointer, g.pointer, into: dst.pointer, count: g.count, accumulate: false, { $0 + $1 }, { $0 + $1 })
    } else {
        dst.pointer.update(from: g.pointer, count: g.count)
    }
}

/// y[i] (+)= f(a[i], b[i]) for i in 0..<count; `vector` and `scalar` must compute the same f.
@inline(__always)
private func zipMap(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                    count: Int, accumulate: Bool,
                    _ vector: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>,
                    _ scalar: (Float, Float) -> Float) {
    Parallel.forRanges(count, grain: elementGrain) { range in
        var i = range.lowerBound
        let end = range.upperBound
        if accumulate {
            while i + 8 <= end {
                Lanes.store(Lanes.load(y + i) + vector(Lanes.load(a + i), Lanes.load(b + i)), y + i)
                i += 8
            }
            while i < end { y[i] += scalar(a[i], b[i]); i += 1 }
        } else {
            while i + 8 <= end {
                Lanes.store(vector(Lanes.load(a + i), Lanes.load(b + i)), y + i)
                i += 8
            }
            while i < end { y[i] = scalar(a[i], b[i]); i += 1 }
        }
    }
}

/// y[i] (+)= s · a[i] for i in 0..<count (y may be a, when not accumulating).
private func scaleMap(_ a: UnsafePointer<Float>, _ s: Float, into y: UnsafeMutablePointer<Float>,
                      count: Int, accumulate: Bool) {
    let sv = SIMD8<Float>(repeating: s)
    Parallel.forRanges(count, grain: elementGrain) { range in
        var i = range.lowerBound
        let end = range.upperBound
        if accumulate {
            while i + 8 <= end { Lanes.store(Lanes.load(y + i).addingProduct(sv, Lanes.load(a + i)), y + i); i += 8 }
            while i < end { y[i] = y[i].addingProduct(s, a[i]); i += 1 }
        } else {
            while i + 8 <= end { Lanes.store(sv * Lanes.load(a + i), y + i); i += 8 }
            while i < end { y[i] = s * a[i]; i += 1 }
        }
    }
}
