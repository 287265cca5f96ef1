// GradientClipping: the global L2 norm of all parameter gradients and PyTorch-style
// clipping (`clip_grad_norm_`: scale by max_norm / (norm + 1e-6) when the norm exceeds max_norm).
import LlamaModel
import Tensors

public enum GradientClipping {
    /// √(Σ over parameters of Σ g²), in Double; 0 for parameters without a gradient.
    public static func globalNorm(_ parameters: [Parameter]) -> Double {
        parameters.reduce(0.0) { $0 + ($1.tensor.grad?.sumOfSquares() ?? 0) }.squareRoot()
    }

    /// Scales every gradient so the global norm is at most `maxNorm`; returns the norm before.
    @discardableResult
    public static func clip(_ parameters: [Parameter], maxNorm: Double, norm: Double) -> Double {
        let coef = maxNorm / (norm + 1e-6)
        if coef < 1 {
            for p in parameters { p.tensor.grad?.scaleInPlace(Float(coef)) }
        }
        return norm
    }
}
