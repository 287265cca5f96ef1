// Alice and Alice-0 (arXiv 2502.07752 §5, Algorithms 2–4; optimizers-lowrank.md §5): Adam in a
// tracked rank-r subspace U of the gradient's row space, refreshed every K updates by one
// subspace-iteration + Rayleigh–Ritz step that keeps the top-l Ritz vectors and switches the
// rest for sampled complement directions, plus the out-of-subspace gradient column-normalised
// by an EMA of its energy (compensation) under the norm-growth limiter:
//   σ = UᵀX; Q̃ ← β3·Q̃ + (1−β3)σσᵀ; M, V EMAs of σ; Ω = M/(√V + ε)
//   C = √(a−r)·(X − Uσ)/√p (per column), limited;  θ ← θ − η·α·(U·Ω + α_c·C)
// X is G, or Gᵀ when G has more rows than columns (a ≤ b). Alice-0: β3 = 0, no Q̃.
// State: a·r + r² (Alice) + 2r·b + b + 1.
import Foundation
import Tensors

public struct Alice: UpdateRule {
    public enum Tracking: String, Sendable { case literal, reproject }
    /// `pytorchOptimizer` switches the five differences of pytorch-optimizer 4.1.0 (spec §9.4).
    public enum Compat: String, Sendable { case paper, pytorchOptimizer = "pytorch-optimizer" }

    public var rank: Int
    public var leading: Int
    public var updateGap: Int
    public var alpha: Double, alphaC: Double
    public var beta1: Double, beta2: Double, beta3: Double
    public var eps: Double
    public var limiter: NormGrowthLimiter
    public var tracking: Tracking
    public var compat: Compat
    /// Alice-0: no tracked Q̃ (β3 = 0).
    public var trackless: Bool { beta3 == 0 }

    public init(rank: Int, leading: Int, updateGap: Int = 200, alpha: Double = 0.3, alphaC: Double = 0.4,
                beta1: Double = 0.9, beta2: Double = 0.9, beta3: Double = 0.999, eps: Double = 1e-8, gamma: Double = 1.01,
                tracking: Tracking = .literal, compat: Compat = .paper) {
        self.rank = rank
        self.leading = leading
        self.updateGap = updateGap
        self.alpha = alpha
        self.alphaC = alphaC
        self.beta1 = beta1
        self.beta2 = beta2
        self.beta3 = beta3
        self.eps = eps
        self.limiter = NormGrowthLimiter(gamma: gamma, epsilon: 0)
        self.tracking = tracking
        self.compat = compat
    }

    public var summary: String {
        "\(trackless ? "alice-0" : "alice")(rank \(rank), leading \(leading), K \(updateGap), α \(alpha), α_c \(alphaC), β=(\(beta1), \(beta2), \(beta3)), ε \(eps), γ \(limiter.gamma)\(tracking == .reproject ? ", reprojected tracking" : "")\(compat == .paper ? "" : ", pytorch-optimizer compat"))"
    }

    /// (a, b, transposed, r, l) for a parameter: a ≤ b after orientation (paper mode).
    func layout(_ p: ParameterInfo) -> (a: Int, b: Int, transposed: Bool, r: Int, l: Int) {
        let transposed = compat == .paper && p.rows > p.cols
        let a = transposed ? p.cols : p.rows, b = transposed ? p.rows : p.cols
        let r = min(rank, a)
        return (a, b, transposed, r, max(1, min(leading, r)))
    }

    public func makeState(for p: ParameterInfo, state: RuleState) throws {
        guard p.isMatrix else { throw OptimizerError("Alice updates matrices only; \(p.name) has shape \(p.shape)") }
        let (a, b, _, r, _) = layout(p)
        state.addFloat("basis", shape: [a, r])
        if !trackless { state.addFloat("tracked", shape: [r, r]) }
        state.addFloat("exp_avg", shape: [r, b])
        state.addFloat("exp_avg_sq", shape: [r, b])
        state.addFloat("energy", shape: [b])
        state.addFloat("nl_norm", shape: [1])
        state.updates = 0
    }

    public func stateBytesFormula(for p: ParameterInfo) -> Int {
        let (a, b, _, r, _) = layout(p)
        return 4 * (a * r + (trackless ? 0 : r * r) + 2 * r * b + b + 1)
    }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        let info = context.parameter
        let (a, b, transposed, r, l) = layout(info)
        let g = grad  // [m, n], the parameter's shape
        guard ApplyUpdate.allFinite(g) else {
            context.metrics.event("step \(context.step), \(info.name): the gradient is not finite; this parameter was not updated")
            d.fillZero()
            return StepScale(lrFactor: 0, decayRate: 0)
        }
        let x = transposed ? MatrixOps.transposed(g) : g            // [a, b]
        let t = state.updates + 1
        let u = state.float("basis")
        let qTilde: Tensor? = trackless ? nil : state.float("tracked")
        var reprojected = false
        if t == 1 || t % updateGap == 0 {
            let start = DispatchTime.now().uptimeNanoseconds
            var rng = RandomGenerator(seed: context.seed).derived(stream: 0xA11C_E000_0000 ^ (UInt64(info.index) << 24) ^ UInt64(t / updateGap))
            do {
                let ritz: Tensor
                if t == 1 {
                    if compat == .paper {
                        ritz = try AliceBasis.leadingSingularVectors(x, rank: r)
                    } else {  // the port starts from U = 0: the QR of 0 gives the first r axes
                        let axes = Tensor.zeros([a, r])
                        for i in 0..<r { axes[i * r + i] = 1 }
                        ritz = try AliceBasis.ritzVectors(x: x, previous: nil, qTilde: nil, beta3: beta3, start: axes, iterate: false)
                    }
                } else {
                    ritz = try AliceBasis.ritzVectors(x: x, previous: u, qTilde: qTilde, beta3: beta3, start: u, iterate: true)
                }
                let next = try AliceBasis.switchBasis(ritz: ritz, leading: l, rng: &rng, unionShortfall: compat != .paper)
                if tracking == .reproject, let qt = qTilde, t > 1 {
                    // Q̃ ← Uᵀ Q U in the new basis (it already holds this step's σσᵀ term).
                    let cross = AliceBasis.mul(next, u, transA: true)                    // U_newᵀ U_prev
                    let old = AliceBasis.mul(AliceBasis.mul(cross, qt), cross, transB: true)
                    let xu = AliceBasis.mul(next, x, transA: true)                       // U_newᵀ X
                    let fresh = AliceBasis.mul(xu, xu, transB: true)
                    for i in 0..<qt.count { qt[i] = Float(beta3) * old[i] + Float(1 - beta3) * fresh[i] }
                    reprojected = true
                }
                u.copy(from: next)
            } catch {
                guard t > 1 else { throw OptimizerError("the first Alice basis could not be computed (\(error))") }
                context.metrics.count("basis_failures")
                context.metrics.event("step \(context.step), \(info.name): Alice refresh failed (\(error)); kept the previous basis")
            }
            context.metrics.count("refresh_ms", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            context.metrics.count("refreshes")
        }
        state.updates = t
        let sigma = AliceBasis.mul(u, x, transA: true)                               // [r, b]
        if let qt = qTilde, !reprojected {
            let ss = AliceBasis.mul(sigma, sigma, transB: true)
            for i in 0..<qt.count { qt[i] = Float(beta3) * qt[i] + Float(1 - beta3) * ss[i] }
        }
        // Adam in the subspace, no bias correction: Ω = M / (√V + ε).
        let omega = Tensor(uninitializedShape: [r, b])
        let m = state.float("exp_avg"), v = state.float("exp_avg_sq")
        let b1 = Float(beta1), b2 = Float(beta2), e = Float(eps)
        let sp = sigma.pointer, mp = m.pointer, vp = v.pointer, op = omega.pointer
        for i in 0..<omega.count {
            let s = sp[i]
            mp[i] = b1 * mp[i] + (1 - b1) * s
            vp[i] = b2 * vp[i] + (1 - b2) * s * s
            op[i] = mp[i] / (vp[i].squareRoot() + e)
        }
        // Compensation: the residual X − Uσ, column-normalised by the EMA p of its energy
        // (built in d itself unless the update has to be transposed back).
        let residual = transposed ? Tensor(uninitializedShape: [a, b]) : d
        residual.copy(from: x)
        BLAS.sgemm(m: a, n: b, k: r, alpha: -1, a: u.pointer, lda: r, b: sigma.pointer, ldb: b, beta: 1, c: residual.pointer, ldc: b)
        let p = state.float("energy")
        let colX = MatrixOps.columnNorms(x.pointer, rows: a, cols: b), colS = MatrixOps.columnNorms(sp, rows: r, cols: b)
        let root = Float(Double(a - r).squareRoot())
        for j in 0..<b {
            let dj = Float(max(0, colX[j] * colX[j] - colS[j] * colS[j]))
            p[j] = b1 * p[j] + (1 - b1) * dj
            if compat != .paper { p[j] = max(p[j], 1e-8) }
        }
        let scale = (0..<b).map { j in p[j] > 0 ? root / p[j].squareRoot() : 0 }  // 0 where p_j = 0
        LowRankAdam.scaleChannels(residual, scale.map(Double.init), side: .left)
        let phi = state.float("nl_norm")
        let (norm, limited) = limiter.limit(residual, previous: phi[0] > 0 ? Double(phi[0]) : nil)  // ν = 1 while φ = 0
        if limited { context.metrics.count("limiter_activations") }
        phi[0] = Float(norm)
        // update = U·Ω + α_c·C, in the parameter's layout.
        BLAS.sgemm(m: a, n: b, k: r, a: u.pointer, lda: r, b: omega.pointer, ldb: b, beta: Float(alphaC), c: residual.pointer, ldc: b)
        if transposed { MatrixOps.transpose(residual.pointer, rows: a, cols: b, into: d.pointer) }
        return StepScale(lrFactor: alpha)
    }
}
