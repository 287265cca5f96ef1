// Muon: orthogonalised momentum for the hidden matrices (K. Jordan et al., 2024; Liu et al.,
// arXiv 2502.16982; torch.optim.Muon; optimizers-elementwise-zo.md §8.3). Per matrix W [m, n]:
//   B ← lerp(B, G, 1−μ);  U = nesterov ? lerp(G, B, μ) : B;  d = NS₅(U)
//   θ ← θ·(1 − η·λ) − η'·d,  η' = η·√max(1, m/n) ("original") or 0.2·η·√max(m, n) ("match_rms_adamw")
// The plan gives Muon the attention/MLP matrices and AdamW (at adamw_lr) the embedding, norms
// and lm_head, as every reference does. State: B, mn per matrix (8-bit possible).
import Tensors

public struct Muon: UpdateRule {
    public enum Adjust: String, Sendable { case original, matchRMSAdamW = "match_rms_adamw" }

    public var momentum: Double
    public var nesterov: Bool
    public var nsSteps: Int
    public var adjust: Adjust
    public var stateBits: Int
    public static let nsEps: Float = 1e-7

    public init(momentum: Double = 0.95, nesterov: Bool = true, nsSteps: Int = 5, adjust: Adjust = .original, stateBits: Int = 32) {
        self.momentum = momentum
        self.nesterov = nesterov
        self.nsSteps = nsSteps
        self.adjust = adjust
        self.stateBits = stateBits
    }

    public var summary: String {
        "muon(μ=\(momentum)\(nesterov ? ", nesterov" : ""), \(nsSteps) Newton–Schulz steps, lr adjust \(adjust.rawValue)\(stateBits == 8 ? ", 8-bit state" : ""))"
    }

    public func makeState(for p: ParameterInfo, state: RuleState) throws {
        guard p.isMatrix else { throw OptimizerError("Muon updates matrices only; \(p.name) has shape \(p.shape)") }
        state.addMoment("momentum_buffer", shape: p.shape, bits: stateBits, signed: true)
        state.updates = 0
    }

    public func stateBytesFormula(for p: ParameterInfo) -> Int { RuleState.momentBytes(count: p.count, bits: stateBits) }

    /// η'/η for a matrix [m, n].
    public func lrFactor(rows m: Int, cols n: Int) -> Double {
        switch adjust {
        case .original: return max(1, Double(m) / Double(n)).squareRoot()
        case .matchRMSAdamW: return 0.2 * Double(max(m, n)).squareRoot()
        }
    }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        state.updates += 1
        let m = context.parameter.rows, n = context.parameter.cols
        let mu = Float(momentum), a = Float(1 - momentum), nest = nesterov
        let u = Tensor(uninitializedShape: d.shape)
        let g = SendablePointer(grad.pointer), up = SendablePointer(u.pointer)
        state.withMoment("momentum_buffer") { bPointer in
            let b = SendablePointer(bPointer)
            Parallel.forRanges(d.count, grain: 1 << 15) { r in
                for i in r {
                    let gi = g.p[i]
                    let bi = b.p[i] + a * (gi - b.p[i])
                    b.p[i] = bi
                    up.p[i] = nest ? gi + mu * (bi - gi) : bi
                }
            }
        }
        NewtonSchulz.orthogonalize(u.pointer, rows: m, cols: n, steps: nsSteps, eps: Muon.nsEps, into: d.pointer)
        return StepScale(lrFactor: lrFactor(rows: m, cols: n))
    }

    /// The `muon` descriptor: Muon on the attention/MLP matrices, AdamW on the rest.
    public static let descriptor = OptimizerDescriptor(
        name: "muon",
        summary: "Muon (torch.optim.Muon) on the attention/MLP matrices, AdamW at adamw_lr on embedding, norms and lm_head",
        rule: "B ← lerp(B, G, 1−μ); O = NS₅(Nesterov U); θ ← θ(1−ηλ) − η·√max(1, m/n)·O",
        statePerMatrix: "mn (the rest AdamW: 2mn)",
        paper: "Jordan et al. 2024; Liu et al., arXiv 2502.16982",
        options: [
            OptimizerOption("momentum", .number, .number(0.95), .closedOpen(0, 1), "momentum μ"),
            OptimizerOption("nesterov", .bool, .bool(true), nil, "Nesterov momentum"),
            OptimizerOption("ns_steps", .integer, .number(5), .closed(1, 100), "Newton–Schulz iterations"),
            OptimizerOption("adjust_lr_fn", .choice(["original", "match_rms_adamw"]), .string("original"), nil,
                            "Muon lr scale: original √max(1, m/n), or match_rms_adamw 0.2·√max(m, n) (reuses AdamW's lr and decay)"),
            OptimizerOption("adamw_lr", .number, .derived("lr"), .open(0, 1e6), "peak lr of the AdamW part (scheduled like lr)"),
            .beta1(0.9, "first-moment decay β1 of the AdamW part"), .beta2(0.999, "second-moment decay β2 of the AdamW part"),
            .eps(1e-8, "ε of the AdamW part"), .weightDecay("decoupled weight decay λ of both parts (old weight)"), .stateBits,
        ]
    ) { c, _, params in
        let bits = try c.stateBits()
        let muon = Muon(momentum: c.number("momentum")!, nesterov: c.bool("nesterov"), nsSteps: c.int("ns_steps"),
                        adjust: Adjust(rawValue: c.string("adjust_lr_fn"))!, stateBits: bits)
        let adam = AdamW(beta1: c.number("beta1")!, beta2: c.number("beta2")!, eps: c.number("eps")!, stateBits: bits)
        let (matrices, rest) = Plan.splitBlockMatrices(params)
        let wd = c.number("weight_decay")!
        let scale = c.number("adamw_lr").map { $0 / c.lr } ?? 1
        return [ParameterGroup(name: "muon", rule: muon, parameters: matrices, weightDecay: wd),
                ParameterGroup(name: "adamw (embedding, norms, head)", rule: adam, parameters: rest, lrScale: scale, weightDecay: wd)]
    }
}
