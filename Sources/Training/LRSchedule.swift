// LRSchedule: the learning rate at each optimizer step, a pure function of the step so a
// resumed run needs no scheduler state. Linear warm-up, then constant, linear or cosine
// decay to min_lr_ratio·lr at the last step (the GaLore/APOLLO recipes use cosine to 10%).
import Foundation

public struct LRSchedule: Equatable, Sendable {
    public enum Shape: String, Sendable { case constant, linear, cosine }

    public var peak: Double
    public var shape: Shape
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minRatio: Double

    public init(peak: Double, shape: Shape, warmupSteps: Int, totalSteps: Int, minRatio: Double) {
        self.peak = peak
        self.shape = shape
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minRatio = minRatio
    }

    /// Learning rate of step `s` (1-based): peak·s/warmup for s ≤ warmup; then with
    /// progress p = (s − warmup)/(total − warmup) ∈ (0, 1]: constant peak, or
    /// peak·(r + (1 − r)(1 − p)) (linear), or peak·(r + (1 − r)·½(1 + cos πp)) (cosine).
    public func lr(step s: Int) -> Double {
        if warmupSteps > 0 && s <= warmupSteps { return peak * Double(s) / Double(warmupSteps) }
        let span = totalSteps - warmupSteps
        let p = span <= 0 ? 1.0 : min(1, max(0, Double(s - warmupSteps) / Double(span)))
        switch shape {
        case .constant: return peak
        case .linear: return peak * (minRatio + (1 - minRatio) * (1 - p))
        case .cosine: return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + cos(Double.pi * p)))
        }
    }
}
