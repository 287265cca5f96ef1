// UpdateRule: the per-parameter half of an optimizer (how one matrix or vector is updated
// and what state it holds), kept apart from the plan that assigns rules to parameters.
// State lives in a RuleState of named Float32 buffers and named scalars, so every
// optimizer's state can be counted exactly and checkpointed without per-optimizer code.
import LlamaModel
import Tensors

/// The persistent optimizer state of one parameter: named buffers (moments, projectors,
/// factored statistics) and named scalars (update count, limiter norms, seeds).
public final class RuleState {
    /// Float32 buffers, counted in `stateBytes` and saved in checkpoints.
    public var tensors: [String: Tensor] = [:]
    /// Scalars, saved exactly (Doubles; integers up to 2^53 are exact).
    public var scalars: [String: Double] = [:]
    /// 64-bit integers such as projection seeds, saved exactly.
    public var integers: [String: UInt64] = [:]

    public init() {}

    /// The buffer `key`, created as zeros of `shape` when absent.
    public func tensor(_ key: String, shape: [Int]) -> Tensor {
        if let t = tensors[key] {
            precondition(t.shape == shape, "state \(key) has shape \(t.shape), expected \(shape)")
            return t
        }
        let t = Tensor.zeros(shape)
        tensors[key] = t
        return t
    }

    /// Bytes of persistent Float32 state (scalars are not counted, as in the memory formulas).
    public var stateBytes: Int { tensors.values.reduce(0) { $0 + $1.count * 4 } }

    /// Number of updates this state has received (the `t` of bias corrections).
    public var updates: Int {
        get { Int(scalars["step"] ?? 0) }
        set { scalars["step"] = Double(newValue) }
    }
}

/// What a rule needs to know about the step besides the gradient.
public struct StepContext {
    /// Global optimizer step, 1-based (the trainer's clock).
    public var step: Int
    /// Scheduled learning rate for this step (warm-up and decay applied).
    public var lr: Float
    public init(step: Int, lr: Float) {
        self.step = step
        self.lr = lr
    }
}

/// How one parameter is updated. Implementations are small structs holding their
/// hyperparameters; all mutable state lives in the `RuleState`.
public protocol UpdateRule {
    /// Short name shown in the start-up plan, e.g. "adamw(lr×1, β=(0.9, 0.999), ε=1e-08, wd=0)".
    var summary: String { get }
    /// Applies one update of `parameter` from `grad` (same shape) at `context`.
    func update(parameter: Tensor, grad: Tensor, state: RuleState, context: StepContext)
    /// The persistent state in bytes this rule holds for a parameter of `shape` after its
    /// first update, from the optimizer's memory formula (checked against `RuleState.stateBytes`).
    func stateBytesFormula(shape: [Int]) -> Int
}
