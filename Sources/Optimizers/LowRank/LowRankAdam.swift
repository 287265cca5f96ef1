// LowRankAdam: the part GaLore, Fira and APOLLO share (optimizers-lowrank.md §1.4 steps 1–4,
// §3.4 steps 1–3): refresh the projector when k mod T = 0 (k = updates so far), project the
// gradient to R, and run the HF Adam core on R (moments of R's shape, carried across
// refreshes, 8-bit possible). A non-finite gradient skips the parameter and is reported; a
// failed SVD keeps the previous projector and is reported; neither traps.
import Foundation
import Tensors

public struct LowRankAdam: Sendable {
    public var projector: LowRankProjector
    /// Refresh interval T (update_proj_gap).
    public var updateGap: Int
    public var beta1: Double, beta2: Double, eps: Double
    public var stateBits: Int

    public init(projector: LowRankProjector, updateGap: Int = 200, beta1: Double = 0.9, beta2: Double = 0.999,
                eps: Double = 1e-6, stateBits: Int = 32) {
        self.projector = projector
        self.updateGap = updateGap
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.stateBits = stateBits
    }

    /// What one low-rank step produced; tensors are transient workspace.
    public struct Step {
        public let g: Tensor, p: Tensor, r: Tensor, n: Tensor
        /// √(1 − β2^t) / (1 − β1^t), the HF core's step factor.
        public let ct: Double
        public let side: LowRankProjector.Side
        public let rows: Int, cols: Int
    }

    /// Whether P is a stored buffer (SVD) or regenerated from the seed (random).
    var storesProjector: Bool { projector.kind == .svd }

    public func makeState(for p: ParameterInfo, state: RuleState) throws {
        guard p.isMatrix else { throw OptimizerError("low-rank rules update matrices only; \(p.name) has shape \(p.shape)") }
        let m = p.rows, n = p.cols
        if storesProjector { state.addFloat("projector", shape: projector.projectorShape(rows: m, cols: n)) }
        let lr = projector.lowRankShape(rows: m, cols: n)
        state.addMoment("exp_avg", shape: lr, bits: stateBits, signed: true)
        state.addMoment("exp_avg_sq", shape: lr, bits: stateBits, signed: false)
        state.updates = 0
    }

    /// Bytes of P (if stored) and of the two moments.
    public func stateBytes(for p: ParameterInfo) -> Int {
        let m = p.rows, n = p.cols
        let lowRank = projector.lowRankShape(rows: m, cols: n).reduce(1, *)
        let stored = storesProjector ? 4 * projector.projectorShape(rows: m, cols: n).reduce(1, *) : 0
        return stored + 2 * RuleState.momentBytes(count: lowRank, bits: stateBits)
    }

    /// Steps 1–4, or nil when the gradient is not finite (the parameter is left as it is).
    public func step(grad: Tensor, state: RuleState, context: RuleContext) throws -> Step? {
        let info = context.parameter
        let m = info.rows, n = info.cols
        let g = grad  // [m, n], the parameter's shape
        guard ApplyUpdate.allFinite(g) else {
            context.metrics.event("step \(context.step), \(info.name): the gradient is not finite; this parameter was not updated")
            return nil
        }
        let k = state.updates
        let p: Tensor
        if storesProjector {
            p = state.float("projector")
            if k % updateGap == 0 {
                let start = DispatchTime.now().uptimeNanoseconds
                do {
                    try projector.svdProjector(of: g, into: p)
                } catch {
                    guard k > 0 else {
                        throw OptimizerError("the SVD of the first gradient failed (\(error)); no projector to fall back on")
                    }
                    context.metrics.count("svd_failures")
                    context.metrics.event("step \(context.step), \(info.name): SVD failed (\(error)); kept the previous projector")
                }
                context.metrics.count("refresh_ms", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                context.metrics.count("refreshes")
            }
        } else {
            p = Tensor(uninitializedShape: projector.projectorShape(rows: m, cols: n))
            projector.randomProjector(seed: context.seed, parameter: info.index, refresh: k / updateGap, into: p)
            if k % updateGap == 0 { context.metrics.count("refreshes") }
        }
        let r = Tensor(uninitializedShape: projector.lowRankShape(rows: m, cols: n))
        projector.project(g, p, into: r)
        state.updates = k + 1
        let t = k + 1
        let nOut = Tensor(uninitializedShape: r.shape)
        state.withMoment("exp_avg") { mm in
            state.withMoment("exp_avg_sq") { vv in
                AdamCore.update(style: .hf, grad: r.pointer, m: mm, v: vv, direction: nOut.pointer, count: r.count,
                                beta1: beta1, beta2: beta2, eps: eps, t: t)
            }
        }
        return Step(g: g, p: p, r: r, n: nOut, ct: AdamCore.lrFactor(style: .hf, beta1: beta1, beta2: beta2, t: t),
                    side: projector.side(rows: m, cols: n), rows: m, cols: n)
    }

    /// Per-channel ‖N_c‖ / (‖R_c‖ + 1e-8): rows of R, N for a right projection, columns for left.
    public static func channelRatios(_ s: Step) -> [Double] {
        let rs = s.r.shape
        if s.side == .right {
            let a = MatrixOps.rowNorms(s.n.pointer, rows: rs[0], cols: rs[1])
            let b = MatrixOps.rowNorms(s.r.pointer, rows: rs[0], cols: rs[1])
            return zip(a, b).map { $0 / ($1 + 1e-8) }
        }
        let a = MatrixOps.columnNorms(s.n.pointer, rows: rs[0], cols: rs[1])
        let b = MatrixOps.columnNorms(s.r.pointer, rows: rs[0], cols: rs[1])
        return zip(a, b).map { $0 / ($1 + 1e-8) }
    }

    /// ‖N‖_F / (‖R‖_F + 1e-8).
    public static func tensorRatio(_ s: Step) -> Double {
        s.n.sumOfSquares().squareRoot() / (s.r.sumOfSquares().squareRoot() + 1e-8)
    }

    /// Multiplies the channels of x [m, n] by `factors`: rows (right side) or columns (left).
    public static func scaleChannels(_ x: Tensor, _ factors: [Double], side: LowRankProjector.Side) {
        let m = x.shape[0], n = x.shape[1]
        let f = factors.map { Float($0) }
        let p = SendablePointer(x.pointer)
        f.withUnsafeBufferPointer { fb in
            let fp = SendablePointer(UnsafeMutablePointer(mutating: fb.baseAddress!))
            Parallel.forRanges(m, grain: max(1, 8192 / max(n, 1))) { range in
                for i in range {
                    let row = p.p + i * n
                    if side == .right {
                        let s = fp.p[i]
                        for j in 0..<n { row[j] *= s }
                    } else {
                        for j in 0..<n { row[j] *= fp.p[j] }
                    }
                }
            }
        }
    }

    /// The limiter's previous norm φ, kept in the 1-float buffer "nl_norm" (−1 = unset).
    public static func addLimiterState(_ state: RuleState) {
        state.addFloat("nl_norm", shape: [1])[0] = -1
    }

    public static func limit(_ d: Tensor, state: RuleState, limiter: NormGrowthLimiter, context: RuleContext) {
        let buffer = state.float("nl_norm")
        let previous = buffer[0] < 0 ? nil : Double(buffer[0])
        let (norm, limited) = limiter.limit(d, previous: previous)
        buffer[0] = Float(norm)
        if limited { context.metrics.count("limiter_activations") }
        if previous == nil && norm == 0 {
            context.metrics.event("step \(context.step), \(context.parameter.name): the first limited norm is 0; the norm-growth limiter will hold this matrix back (reference behaviour)")
        }
    }
}
