// ParameterGroup: one entry of an optimizer's plan — a rule, the parameters it updates, and
// the group's own learning-rate scale and weight decay (Muon's AdamW part runs at adamw_lr;
// Adam-mini exempts the norms from decay). Plans are built by role (attention/MLP matrices,
// embedding, norms, lm_head), as the reference trainers split their models.
import LlamaModel

public struct ParameterGroup {
    /// Name shown in the start-up plan ("muon", "adamw (embedding, norms, head)").
    public var name: String
    public var rule: UpdateRule
    public var parameters: [Parameter]
    /// This group's lr = scheduled lr × lrScale (Muon's adamw_lr / lr).
    public var lrScale: Double
    /// Decoupled weight decay λ, applied by the shared step (0 for rules that decay inside
    /// their direction, such as SGD's L2 term).
    public var weightDecay: Double
    public var decayPlacement: DecayPlacement

    public init(name: String, rule: UpdateRule, parameters: [Parameter], lrScale: Double = 1,
                weightDecay: Double = 0, decayPlacement: DecayPlacement = .before) {
        self.name = name
        self.rule = rule
        self.parameters = parameters
        self.lrScale = lrScale
        self.weightDecay = weightDecay
        self.decayPlacement = decayPlacement
    }
}

public enum Plan {
    /// Splits `parameters` into the attention/MLP matrices and the rest (embedding, norms,
    /// lm_head), keeping model order in each.
    public static func splitBlockMatrices(_ parameters: [Parameter]) -> (matrices: [Parameter], rest: [Parameter]) {
        (parameters.filter { $0.role.isBlockMatrix }, parameters.filter { !$0.role.isBlockMatrix })
    }
}
