// WideSwiGLU: the SwiGLU gate's forward and backward passes (Tensors/Ops/SiLU.swift) on 16
// floats, for processors with AVX-512: the same expressions in the same order per element
// (σ from WideMath), so the same bits as the 8-lane loops. Counts are multiples of 16; the
// caller runs the rest.

public enum WideSwiGLU {
    /// out = silu(gate) ⊙ up.
    public static func forward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                               out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i < count {
            let g = load16(gate + i)
            store16(g * sigmoid16(g) * load16(up + i), out + i)
            i += 16
        }
    }

    /// dgate (+)= dy ⊙ up ⊙ (σ + silu·(1 − σ)), dup (+)= dy ⊙ silu(gate); nil skips one.
    public static func backward(dy: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                dgate: UnsafeMutablePointer<Float>?, accumulateGate: Bool,
                                dup: UnsafeMutablePointer<Float>?, accumulateUp: Bool, count: Int) {
        var i = 0
        while i < count {
            let x = load16(gate + i), s = sigmoid16(x), d = load16(dy + i)
            let silu = x * s
            if let dgate {
                var r = d * load16(up + i) * (s + silu * (1 - s))
                if accumulateGate { r += load16(dgate + i) }
                store16(r, dgate + i)
            }
            if let dup {
                var r = d * silu
                if accumulateUp { r += load16(dup + i) }
                store16(r, dup + i)
            }
            i += 16
        }
    }
}
