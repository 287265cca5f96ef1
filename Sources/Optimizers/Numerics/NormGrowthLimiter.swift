// NormGrowthLimiter: Fira's norm-growth limiter (arXiv 2410.01623; optimizers-lowrank.md §0.5),
// reused by APOLLO, RACS and Alice. Caps the growth of an update's Frobenius norm to γ per
// step: ρ = ‖S‖/(φ + 1e-8), S ← S·γ/max(ρ, γ), φ ← ‖S‖. The first call only records φ.
import Tensors

public struct NormGrowthLimiter: Sendable {
    public var gamma: Double
    /// Added to φ in the ratio: 1e-8 in Fira and APOLLO; RACS and Alice have none (§0.5).
    public var epsilon: Double

    public init(gamma: Double = 1.01, epsilon: Double = 1e-8) {
        self.gamma = gamma
        self.epsilon = epsilon
    }

    /// Limits `s` in place given the previous limited norm (nil before the first update);
    /// returns the new φ and whether the update was scaled down.
    public func limit(_ s: Tensor, previous: Double?) -> (norm: Double, limited: Bool) {
        let norm = s.sumOfSquares().squareRoot()
        guard let phi = previous else { return (norm, false) }
        let ratio = norm / (phi + epsilon)
        guard ratio > gamma else { return (norm, false) }
        let factor = gamma / ratio
        s.scaleInPlace(Float(factor))
        return (norm * factor, true)
    }
}
