// GradientCheck: compares an op's hand-written backward with central finite differences
// (shared by the test targets of Tensors and LlamaModel).
// The scalar checked is L = Σ f(inputs) ⊙ R for a fixed random R, so every output element
// contributes; L is accumulated in Double so the difference quotient is not swamped by
// Float32 summation error.
import Tensors

public struct GradCheckResult {
    /// max |analytic − numeric| / max(max |analytic|, max |numeric|), per input.
    public var relativeErrors: [Float]
    public var worst: Float { relativeErrors.max() ?? 0 }
}

/// Checks d(Σ f(inputs)⊙R)/d(input) for every input with `requiresGrad`.
/// - h: finite-difference step (Float32 forward passes: 1e-2 balances truncation O(h²)
///   against rounding O(ε·|L|/h) for O(1) inputs).
public func gradCheck(_ inputs: [Tensor], h: Float = 1e-2, seed: UInt64 = 7,
               _ f: ([Tensor]) -> Tensor) -> GradCheckResult {
    var rng = RandomGenerator(seed: seed)
    // Analytic gradients.
    for x in inputs { x.grad = nil }
    let (out, tape) = Tape.record { f(inputs) }
    let r = Tensor.randn(out.shape, rng: &rng)
    tape.backward(from: out, seed: r)
    func loss() -> Double {
        let y = f(inputs)
        var s = 0.0
        for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
        return s
    }
    var errors: [Float] = []
    for x in inputs where x.requiresGrad {
        let analytic = x.grad?.array ?? [Float](repeating: 0, count: x.count)
        var numeric = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let saved = x[i]
            x[i] = saved + h
            let lp = loss()
            x[i] = saved - h
            let lm = loss()
            x[i] = saved
            numeric[i] = Float((lp - lm) / (2 * Double(h)))
        }
        var maxDiff: Float = 0, scale: Float = 1e-6
        for i in 0..<x.count {
            maxDiff = max(maxDiff, abs(analytic[i] - numeric[i]))
            scale = max(scale, abs(analytic[i]), abs(numeric[i]))
        }
        errors.append(maxDiff / scale)
    }
    return GradCheckResult(relativeErrors: errors)
}

/// Random Normal(0, std) tensor that requires grad.
public func randomInput(_ shape: [Int], std: Float = 1, seed: UInt64) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.randn(shape, std: std, rng: &rng, requiresGrad: true)
}
