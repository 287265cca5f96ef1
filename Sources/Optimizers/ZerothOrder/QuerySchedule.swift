// QuerySchedule: AdaZeta's adaptive number of queries per step (Yang et al., arXiv
// 2406.18060; spec optimizers-elementwise-zo.md §7.4, the reference code's form):
//   Q(e) = min(max(⌊α·e^β⌋, Q_min), Q_max),  e = ⌊k / S⌋ (k completed steps, counted from 0),
// with β = ln(N/α) / ln(E) derived so the uncapped schedule reaches N at the last epoch
// E = total steps / S, unless β is given.
import Foundation

public struct QuerySchedule: Equatable, Sendable {
    public var alpha: Double
    /// N: the value the uncapped schedule reaches at the last epoch.
    public var target: Double
    public var minimum: Int
    public var maximum: Int
    /// Steps per epoch S (≥ 1).
    public var epochSteps: Int
    /// β: given, or derived from (α, N, E).
    public let beta: Double

    /// Throws when a constant is out of range (α ≤ 0, N ≤ 0, Q_min < 1, Q_max < Q_min, S < 1).
    public init(alpha: Double = 0.85, target: Double = 20, minimum: Int = 1, maximum: Int = 15,
                epochSteps: Int, totalSteps: Int, beta: Double? = nil) throws {
        guard alpha > 0, alpha.isFinite else { throw OptimizerError("zo_query_alpha must be > 0 (got \(alpha))") }
        guard target > 0, target.isFinite else { throw OptimizerError("zo_query_target must be > 0 (got \(target))") }
        guard minimum >= 1 else { throw OptimizerError("zo_queries_min must be ≥ 1 (got \(minimum))") }
        guard maximum >= minimum else { throw OptimizerError("zo_queries_max \(maximum) is below zo_queries_min \(minimum); raise it") }
        guard epochSteps >= 1 else { throw OptimizerError("zo_query_epoch_steps must be ≥ 1 (got \(epochSteps))") }
        self.alpha = alpha
        self.target = target
        self.minimum = minimum
        self.maximum = maximum
        self.epochSteps = epochSteps
        if let beta {
            self.beta = beta
        } else {
            let epochs = Double(max(totalSteps, 1)) / Double(epochSteps)
            // One epoch or less: the schedule never leaves e = 0, where any β gives Q_min.
            self.beta = epochs > 1 ? Foundation.log(target / alpha) / Foundation.log(epochs) : 1
        }
    }

    /// The epoch of the step that follows `completedSteps` steps.
    public func epoch(completedSteps k: Int) -> Int { k / epochSteps }

    /// Q(e) = min(max(⌊α·e^β⌋, Q_min), Q_max).
    public func queries(epoch e: Int) -> Int {
        let raw = (alpha * Foundation.pow(Double(e), beta)).rounded(.down)
        if raw >= Double(maximum) { return maximum }
        return min(max(Int(raw), minimum), maximum)
    }

    /// Queries of step `step` (1-based): Q(⌊(step − 1)/S⌋).
    public func queries(step: Int) -> Int { queries(epoch: epoch(completedSteps: step - 1)) }
}
