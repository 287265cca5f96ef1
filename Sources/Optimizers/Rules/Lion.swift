// Lion: sign of an interpolated momentum (Chen et al., "Symbolic Discovery of Optimization
// Algorithms", arXiv 2302.06675; lucidrains/lion-pytorch; optimizers-elementwise-zo.md §3):
//   d = sign(β1·m + (1−β1)·g)   (sign(0) = 0),   then   m ← β2·m + (1−β2)·g
// with decoupled decay of the old weight by the shared step. State m: numel (8-bit possible).
import Tensors

public struct Lion: UpdateRule {
    public var beta1: Double
    public var beta2: Double
    public var stateBits: Int

    public init(beta1: Double = 0.9, beta2: Double = 0.99, stateBits: Int = 32) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.stateBits = stateBits
    }

    public var summary: String { "lion(β=(\(beta1), \(beta2))\(stateBits == 8 ? ", 8-bit state" : ""))" }

    public func makeState(for p: ParameterInfo, state: RuleState) throws {
        state.addMoment("exp_avg", shape: p.shape, bits: stateBits, signed: true)
        state.updates = 0
    }

    public func stateBytesFormula(for p: ParameterInfo) -> Int { RuleState.momentBytes(count: p.count, bits: stateBits) }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        state.updates += 1
        let b1 = Float(beta1), a1 = Float(1 - beta1), b2 = Float(beta2), a2 = Float(1 - beta2)
        let g = SendablePointer(grad.pointer), out = SendablePointer(d.pointer)
        let n = d.count
        state.withMoment("exp_avg") { mPointer in
            let m = SendablePointer(mPointer)
            Parallel.forRanges(n, grain: 1 << 15) { r in
                for i in r {
                    let gi = g.p[i], mi = m.p[i]
                    let c = mi * b1 + a1 * gi
                    out.p[i] = c > 0 ? 1 : (c < 0 ? -1 : 0)  // three-way sign: Float.sign says .plus for +0
                    m.p[i] = mi * b2 + a2 * gi
                }
            }
        }
        return StepScale()
    }

    /// The `lion` descriptor: every parameter gets Lion.
    public static let descriptor = OptimizerDescriptor(
        name: "lion",
        summary: "Lion, lion-pytorch semantics: sign of β1-interpolated momentum, momentum EMA with β2",
        rule: "u = sign(β1·m + (1−β1)g); θ ← θ(1−ηλ) − η·u; m ← β2·m + (1−β2)g",
        statePerMatrix: "mn",
        paper: "Chen et al., arXiv 2302.06675",
        options: [.beta1(0.9, "interpolation β1 of the update's sign"), .beta2(0.99, "momentum decay β2"), .weightDecay(), .stateBits]
    ) { c, _, params in
        let rule = Lion(beta1: c.number("beta1")!, beta2: c.number("beta2")!, stateBits: try c.stateBits())
        return [ParameterGroup(name: "lion", rule: rule, parameters: params, weightDecay: c.number("weight_decay")!)]
    }
}
