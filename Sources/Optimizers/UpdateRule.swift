// UpdateRule: the per-parameter half of an optimizer. A rule computes an update *direction*
// d from the gradient and its state; the shared `ApplyUpdate` then writes the weight:
//   θ ← θ·(1 − decayStep·λ) − step·d   (decay of the old weight, or after the step),
// with step = η·lrFactor unless the rule gives an absolute step. Keeping "what direction"
// apart from "how θ is written" is what lets `Cautious` wrap any momentum rule, and makes
// C-AdamW with an all-true mask the very same code as AdamW.
import LlamaModel
import Tensors

/// What a rule knows about the parameter it updates.
public struct ParameterInfo: Sendable {
    public let name: String
    /// Position in the model's parameter list (stable; keys seeded draws).
    public let index: Int
    public let role: ParameterRole
    public let shape: [Int]
    public let layer: Int?

    public init(name: String, index: Int, role: ParameterRole, shape: [Int], layer: Int? = nil) {
        self.name = name
        self.index = index
        self.role = role
        self.shape = shape
        self.layer = layer
    }

    public var count: Int { shape.reduce(1, *) }
    /// Rows and columns of the [out, in] matrix view (a vector is one row).
    public var rows: Int { shape.count >= 2 ? shape[0] : 1 }
    public var cols: Int { shape.count >= 2 ? count / max(shape[0], 1) : count }
    public var isMatrix: Bool { shape.count >= 2 }
}

/// Everything a rule may read besides the gradient and its own state.
public struct RuleContext {
    public let parameter: ParameterInfo
    /// Global optimizer step, 1-based (the trainer's one clock).
    public let step: Int
    /// This parameter group's scheduled learning rate η (warm-up, decay and group scale applied).
    public let lr: Double
    /// The run seed: seeded draws are keyed by (seed, optimizer, parameter, refresh), never stored.
    public let seed: UInt64
    /// Per-step optimizer metrics (reach metrics.jsonl).
    public let metrics: OptimizerMetrics
}

/// How the shared step scales a rule's direction.
public struct StepScale: Equatable {
    /// θ moves by η·lrFactor·d (AdamW: 1/bc1; Muon: √max(1, m/n)).
    public var lrFactor: Double = 1
    /// Replaces η·lrFactor entirely when set (Adafactor's relative step, its β1 path).
    public var absoluteStep: Double?
    /// The rate decay multiplies λ by, instead of η (HF Adafactor decays by α_t).
    public var decayRate: Double?

    public init(lrFactor: Double = 1, absoluteStep: Double? = nil, decayRate: Double? = nil) {
        self.lrFactor = lrFactor
        self.absoluteStep = absoluteStep
        self.decayRate = decayRate
    }
}

/// One optimizer's per-parameter update. Implementations are small structs holding their
/// hyperparameters; all mutable state lives in the `RuleState`.
public protocol UpdateRule {
    /// Short description for the start-up plan, e.g. "adamw(β=(0.9, 0.999), ε=1e-08)".
    var summary: String { get }
    /// Declares the parameter's state buffers and scalars (zero-filled).
    func makeState(for parameter: ParameterInfo, state: RuleState) throws
    /// Persistent state bytes the optimizer's memory formula gives for this parameter.
    func stateBytesFormula(for parameter: ParameterInfo) -> Int
    /// Updates the state from `grad` and writes the direction d into `direction` (same shape
    /// as the parameter). May read `parameter` (Adafactor's RMS, SGD's L2 term) but must not
    /// write it. Throws on a numerical failure it cannot recover from.
    func direction(grad: Tensor, parameter: Tensor, state: RuleState, into direction: Tensor,
                   context: RuleContext) throws -> StepScale
}

/// A rule that can also update its state and write the weight in one pass over memory, with
/// the same arithmetic per element as `direction` followed by `ApplyUpdate.apply` (so the
/// results are bitwise those of the two-pass path; only the memory traffic differs).
public protocol FusedUpdateRule: UpdateRule {
    /// Advances the state's counters for this step and returns the one-pass kernel that then
    /// updates the moments and writes the weight (the optimizer runs it, alone or with the
    /// other parameters' kernels in one parallel region); or returns nil without touching
    /// anything when this state cannot take the one-pass path (the caller then runs
    /// `direction` and `ApplyUpdate`). `write` turns the rule's step scale into the step
    /// size and decay that ApplyUpdate would use.
    func fusedStep(grad: Tensor, parameter: Tensor, state: RuleState, placement: DecayPlacement,
                   write: (StepScale) -> (step: Float, decay: Float)) -> FusedAdamStep?
}

/// Where decoupled weight decay acts.
public enum DecayPlacement: String, Sendable {
    /// θ·(1 − η·λ) on the old weight, then the step (torch.optim.AdamW, Lion, Muon).
    case before
    /// The step first, then θ − η·λ·θ on the updated weight (GaLore/Fira/APOLLO, bitsandbytes' CUDA Adam).
    case after
}
