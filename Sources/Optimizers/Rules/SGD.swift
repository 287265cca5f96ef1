// SGD with momentum, dampening and Nesterov, torch.optim.SGD semantics
// (optimizers-elementwise-zo.md §1.2): L2 weight decay added to the gradient inside the
// direction (so the shared step's decoupled decay is 0), the momentum buffer created as a
// copy of the first (undamped) direction. State: numel with momentum (8-bit possible), 0 without.
import Tensors

public struct SGD: UpdateRule {
    public var momentum: Double
    public var dampening: Double
    public var weightDecay: Double
    public var nesterov: Bool
    public var stateBits: Int

    /// Throws when Nesterov is asked for without momentum or with dampening (PyTorch rejects it too).
    public init(momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false, stateBits: Int = 32) throws {
        if nesterov && (momentum <= 0 || dampening != 0) {
            throw OptimizerError("nesterov needs momentum > 0 and dampening = 0 (got momentum \(momentum), dampening \(dampening))")
        }
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.stateBits = stateBits
    }

    public var summary: String {
        "sgd(momentum=\(momentum), dampening=\(dampening), L2 wd=\(weightDecay)\(nesterov ? ", nesterov" : "")\(stateBits == 8 && momentum != 0 ? ", 8-bit state" : ""))"
    }

    public func makeState(for p: ParameterInfo, state: RuleState) throws {
        if momentum != 0 { state.addMoment("momentum_buffer", shape: p.shape, bits: stateBits, signed: true) }
        state.updates = 0
    }

    public func stateBytesFormula(for p: ParameterInfo) -> Int {
        momentum == 0 ? 0 : RuleState.momentBytes(count: p.count, bits: stateBits)
    }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        let first = state.updates == 0
        state.updates += 1
        let n = parameter.count
        let wd = Float(weightDecay), mu = Float(momentum), damp = Float(1 - dampening), nest = nesterov
        let th = SendablePointer(parameter.pointer), g = SendablePointer(grad.pointer), out = SendablePointer(d.pointer)
        // x = g + λθ; with momentum b = first ? x : μb + (1−τ)x, then x = nesterov ? x + μb : b.
        // One pass per formula over each thread's range, no per-element branches.
        func run(_ buffer: UnsafeMutablePointer<Float>?) {
            let buf = buffer.map(SendablePointer.init)
            Parallel.forRanges(n, grain: 1 << 15) { r in
                let lo = r.lowerBound, count = r.count
                let gp = g.p + lo, tp = th.p + lo, op = out.p + lo
                if wd != 0 { for i in 0..<count { op[i] = gp[i] + wd * tp[i] } } else { op.update(from: gp, count: count) }
                guard let b = buf.map({ $0.p + lo }) else { return }
                if first { b.update(from: op, count: count) } else { for i in 0..<count { b[i] = mu * b[i] + damp * op[i] } }
                if nest { for i in 0..<count { op[i] = op[i] + mu * b[i] } } else { op.update(from: b, count: count) }
            }
        }
        if momentum == 0 { run(nil) } else { state.withMoment("momentum_buffer") { run($0) } }
        return StepScale()
    }

    /// The `sgd` descriptor: every parameter gets SGD.
    public static let descriptor = OptimizerDescriptor(
        name: "sgd",
        summary: "SGD with optional momentum / dampening / Nesterov, torch.optim.SGD semantics (L2 weight decay)",
        rule: "torch.optim.SGD: buffer b ← μb + (1−τ)(g + λθ); θ ← θ − η·b",
        statePerMatrix: "mn with momentum, 0 without",
        paper: "Sutskever et al., ICML 2013 (momentum)",
        options: [
            OptimizerOption("momentum", .number, .number(0), .closedOpen(0, 1), "momentum μ"),
            OptimizerOption("dampening", .number, .number(0), .closed(0, 1), "dampening τ"),
            OptimizerOption("nesterov", .bool, .bool(false), nil, "Nesterov momentum (needs momentum > 0, dampening 0)"),
            .weightDecay("L2 weight decay λ, added to the gradient"),
            .stateBits,
        ]
    ) { c, _, params in
        let rule = try SGD(momentum: c.number("momentum")!, dampening: c.number("dampening")!,
                           weightDecay: c.number("weight_decay")!, nesterov: c.bool("nesterov"), stateBits: try c.stateBits())
        return [ParameterGroup(name: "sgd", rule: rule, parameters: params, weightDecay: 0)]
    }
}
