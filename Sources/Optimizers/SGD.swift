// SGD with momentum, dampening and Nesterov, torch.optim.SGD semantics
// (optimizers-elementwise-zo.md §1.2): L2 weight decay added to the gradient, the momentum
// buffer created as a copy of the first (undamped) direction. State: numel with momentum, 0 without.
import Tensors

public struct SGD: UpdateRule {
    public var momentum: Double
    public var dampening: Double
    public var weightDecay: Double
    public var nesterov: Bool

    /// Throws when Nesterov is asked for without momentum or with dampening (PyTorch rejects it too).
    public init(momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) throws {
        if nesterov && (momentum <= 0 || dampening != 0) {
            throw OptimizerError("nesterov needs momentum > 0 and dampening = 0 (got momentum \(momentum), dampening \(dampening))")
        }
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public var summary: String {
        "sgd(momentum=\(momentum), dampening=\(dampening), wd=\(weightDecay)\(nesterov ? ", nesterov" : ""))"
    }

    public func stateBytesFormula(shape: [Int]) -> Int { momentum == 0 ? 0 : shape.reduce(1, *) * 4 }

    public func update(parameter: Tensor, grad: Tensor, state: RuleState, context: StepContext) {
        let first = state.tensors["momentum_buffer"] == nil
        state.updates += 1
        let n = parameter.count
        let lr = context.lr, wd = Float(weightDecay), mu = Float(momentum)
        let damp = Float(1 - dampening), nest = nesterov
        let th = SendablePointer(parameter.pointer), g = SendablePointer(grad.pointer)
        let buf = momentum == 0 ? nil : SendablePointer(state.tensor("momentum_buffer", shape: parameter.shape).pointer)
        Parallel.forRanges(n, grain: 1 << 15) { r in
            for i in r {
                var d = g.p[i]
                if wd != 0 { d += wd * th.p[i] }
                if let b = buf?.p {
                    b[i] = first ? d : mu * b[i] + damp * d
                    d = nest ? d + mu * b[i] : b[i]
                }
                th.p[i] -= lr * d
            }
        }
    }
}
