// TensorMath: in-place utilities on whole tensors outside the autograd tape (gradient norms,
// clipping, checks), vectorised and deterministic: sums run over fixed 4096-element blocks
// accumulated in Double in order, whatever the thread count.

extension Tensor {
    /// Σ x² over all elements, in Double.
    public func sumOfSquares() -> Double {
        let block = 4096
        let blocks = (count + block - 1) / block
        if blocks == 0 { return 0 }
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: blocks)
        defer { partial.deallocate() }
        let src = SendablePointer(pointer), out = SendablePointer(partial)
        let n = count
        Parallel.forRanges(blocks, grain: 64) { r in
            for b in r {
                let lo = b * block, hi = Swift.min(n, lo + block)
                var acc = SIMD8<Float>(), i = lo
                while i + 8 <= hi {
                    let v = UnsafeRawPointer(src.p + i).loadUnaligned(as: SIMD8<Float>.self)
                    acc += v * v
                    i += 8
                }
                var s = Double(acc.sum())
                while i < hi { s += Double(src.p[i] * src.p[i]); i += 1 }
                out.p[b] = s
            }
        }
        var total = 0.0
        for b in 0..<blocks { total += partial[b] }
        return total
    }

    /// Multiplies every element by `s` in place.
    public func scaleInPlace(_ s: Float) {
        let p = SendablePointer(pointer)
        Parallel.forRanges(count, grain: 1 << 16) { r in
            for i in r { p.p[i] *= s }
        }
    }
}
