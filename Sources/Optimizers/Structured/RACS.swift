// RACS: row and column scaled SGD (arXiv 2502.07752 §4, Algorithm 1; optimizers-lowrank.md §4).
// The second moment E[G⊙G] is estimated by its best rank-1 approximation q̂·ŝᵀ (L alternating
// least-squares steps from q̂ = 1), kept as EMAs s [n], q [m]; the step is G_ij/√(q_i·s_j),
// damped by the norm-growth limiter and scaled by α. No first moment: state m + n + 1.
import Tensors

public struct RACS: UpdateRule {
    public var beta: Double
    public var alpha: Double
    public var gamma: Double
    public var iterations: Int

    public init(beta: Double = 0.9, alpha: Double = 0.05, gamma: Double = 1.01, iterations: Int = 5) {
        self.beta = beta
        self.alpha = alpha
        self.gamma = gamma
        self.iterations = iterations
    }

    public var summary: String { "racs(β \(beta), α \(alpha), γ \(gamma), \(iterations) fixed-point iterations)" }

    public func makeState(for p: ParameterInfo, state: RuleState) throws {
        guard p.isMatrix else { throw OptimizerError("RACS updates matrices only; \(p.name) has shape \(p.shape)") }
        state.addFloat("col_scale", shape: [p.cols])
        state.addFloat("row_scale", shape: [p.rows])
        state.addFloat("nl_norm", shape: [1])
        state.updates = 0
    }

    public func stateBytesFormula(for p: ParameterInfo) -> Int { 4 * (p.rows + p.cols + 1) }

    /// The rank-1 fixed point of A = G⊙G: (ŝ [n], q̂ [m]) with q̂ŝᵀ ≈ A, q̂ scale-free.
    public static func fixedPoint(_ g: Tensor, iterations: Int) -> (s: [Double], q: [Double]) {
        let m = g.shape[0], n = g.shape[1]
        // A / max(A), so the Float products cannot underflow for tiny gradients; ŝ is rescaled after.
        let a = Tensor(uninitializedShape: [m, n])
        var amax: Float = 0
        let gp = g.pointer, ap = a.pointer
        for i in 0..<(m * n) { let x = gp[i] * gp[i]; ap[i] = x; amax = max(amax, x) }
        guard amax > 0 else { return ([Double](repeating: 0, count: n), [Double](repeating: 0, count: m)) }
        a.scaleInPlace(1 / amax)
        let q = Tensor.filled([m], with: 1), s = Tensor.zeros([n])
        for _ in 0..<max(iterations, 1) {
            let qq = q.sumOfSquares()
            if qq > 0 {  // ŝ = Aᵀq̂ / ‖q̂‖²
                BLAS.sgemm(transA: true, m: n, n: 1, k: m, alpha: Float(1 / qq), a: a.pointer, lda: n, b: q.pointer, ldb: 1, c: s.pointer, ldc: 1)
            } else { s.fillZero() }
            let ss = s.sumOfSquares()
            if ss > 0 {  // q̂ = Aŝ / ‖ŝ‖²
                BLAS.sgemm(m: m, n: 1, k: n, alpha: Float(1 / ss), a: a.pointer, lda: n, b: s.pointer, ldb: 1, c: q.pointer, ldc: 1)
            } else { q.fillZero() }
        }
        return (s.array.map { Double($0) * Double(amax) }, q.array.map(Double.init))
    }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        let m = context.parameter.rows, n = context.parameter.cols
        guard ApplyUpdate.allFinite(grad) else {
            context.metrics.event("step \(context.step), \(context.parameter.name): the gradient is not finite; this parameter was not updated")
            d.fillZero()
            return StepScale(lrFactor: 0, decayRate: 0)
        }
        state.updates += 1
        let t = state.updates
        let (sHat, qHat) = RACS.fixedPoint(grad, iterations: iterations)
        let s = state.float("col_scale"), q = state.float("row_scale"), phi = state.float("nl_norm")
        let b = Float(beta), a = Float(1 - beta)
        for j in 0..<n { s[j] = b * s[j] + a * Float(sHat[j]) }
        for i in 0..<m { q[i] = b * q[i] + a * Float(qHat[i]) }
        // G̃_ij = G_ij / √q_i / √s_j (0 where either is 0): divided twice so nothing underflows.
        let invS = (0..<n).map { s[$0] > 0 ? 1 / s[$0].squareRoot() : 0 }
        let gp = SendablePointer(grad.pointer), dp = SendablePointer(d.pointer), qp = SendablePointer(q.pointer)
        invS.withUnsafeBufferPointer { isb in
            let sp = SendablePointer(UnsafeMutablePointer(mutating: isb.baseAddress!))
            Parallel.forRanges(m, grain: max(1, 16384 / max(n, 1))) { rows in
                for i in rows {
                    let iq: Float = qp.p[i] > 0 ? 1 / qp.p[i].squareRoot() : 0
                    let g = gp.p + i * n, o = dp.p + i * n
                    for j in 0..<n { o[j] = g[j] * iq * sp.p[j] }
                }
            }
        }
        // ν = 1 at t = 1 and when φ = 0 (an all-zero first gradient), §4.3's guards.
        let (norm, limited) = NormGrowthLimiter(gamma: gamma, epsilon: 0).limit(d, previous: t > 1 && phi[0] > 0 ? Double(phi[0]) : nil)
        if limited { context.metrics.count("limiter_activations") }
        phi[0] = Float(norm)
        return StepScale(lrFactor: alpha)
    }

    public static let descriptor = OptimizerDescriptor(
        name: "racs",
        summary: "RACS: the gradient divided by a rank-1 (row × column) estimate of its second moment, limited; AdamW on the rest",
        rule: "q̂ŝᵀ = rank-1 fixed point of G⊙G; s, q EMAs; G̃ = G/√(q sᵀ); θ ← θ − η·α·ν·G̃ (ν: norm-growth limiter)",
        statePerMatrix: "m + n + 1",
        paper: "Gong et al., arXiv 2502.07752 (§4)",
        options: [
            OptimizerOption("racs_beta", .number, .number(0.9), .closedOpen(0, 1), "EMA β of the row and column scales"),
            OptimizerOption("alpha", .number, .number(0.05), .closed(0, 1e6), "scale α of the structured step"),
            OptimizerOption("gamma", .number, .number(1.01), .closed(1, 1e6), "norm-growth limiter γ"),
            OptimizerOption("racs_iterations", .integer, .number(5), .closed(1, 1000), "fixed-point iterations L"),
        ] + StructuredPlan.options
    ) { c, _, params in
        let rule = RACS(beta: c.number("racs_beta")!, alpha: c.number("alpha")!, gamma: c.number("gamma")!,
                        iterations: c.int("racs_iterations"))
        return StructuredPlan.groups("racs", rule, c, params)
    }
}
