// Adafactor: factored second moments (Shazeer & Stern, arXiv 1804.04235), in the Hugging Face
// variant by default (transformers' Adafactor, the GaLore/C-Optim baseline preset) or the
// torch.optim.Adafactor variant (optimizers-elementwise-zo.md §2). A matrix [m, n] keeps a
// row statistic R [m] and a column statistic C [n], V̂_ij = R_i·C_j / mean(R); a vector keeps
// v [n]. The update g/√V̂ is clipped by its own RMS; β1 (HF only) adds a full first moment.
// State: m + n per matrix (mn + m + n with β1), n per vector.
import Foundation
import Tensors

public struct Adafactor: UpdateRule {
    public enum Variant: String, Sendable { case hf, torch }

    public var variant: Variant = .hf
    public var beta1: Double?
    public var clipThreshold: Double = 1
    public var decayRate: Double = -0.8
    public var eps1: Double = 1e-30
    public var eps2: Double = 1e-3
    public var relativeStep = false
    public var scaleParameter = false
    public var warmupInit = false

    public init(variant: Variant = .hf, beta1: Double? = nil, clipThreshold: Double = 1, decayRate: Double = -0.8,
                eps1: Double? = nil, eps2: Double = 1e-3, relativeStep: Bool = false, scaleParameter: Bool = false,
                warmupInit: Bool = false) {
        self.variant = variant
        self.beta1 = variant == .hf ? beta1 : nil
        self.clipThreshold = clipThreshold
        self.decayRate = decayRate
        self.eps1 = eps1 ?? (variant == .hf ? 1e-30 : Double(Float.ulpOfOne))
        self.eps2 = eps2
        self.relativeStep = relativeStep
        self.scaleParameter = scaleParameter
        self.warmupInit = warmupInit
    }

    public var summary: String {
        var s = "adafactor(\(variant.rawValue), decay_rate=\(decayRate), clip=\(clipThreshold), ε=(\(eps1), \(eps2))"
        if let b = beta1 { s += ", β1=\(b)" }
        if variant == .hf && relativeStep { s += ", relative step" }
        if variant == .hf && scaleParameter { s += ", parameter scale" }
        if variant == .hf && warmupInit { s += ", warm-up init" }
        return s + ")"
    }

    public func makeState(for p: ParameterInfo, state: RuleState) throws {
        if p.isMatrix {
            state.addFloat("exp_avg_sq_row", shape: [p.rows])
            state.addFloat("exp_avg_sq_col", shape: [p.cols])
        } else {
            state.addFloat("exp_avg_sq", shape: p.shape)
        }
        if beta1 != nil { state.addFloat("exp_avg", shape: p.shape) }
        state.updates = 0
    }

    public func stateBytesFormula(for p: ParameterInfo) -> Int {
        4 * ((p.isMatrix ? p.rows + p.cols : p.count) + (beta1 != nil ? p.count : 0))
    }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        state.updates += 1
        let t = Double(state.updates)
        let info = context.parameter
        let rmsTheta = (parameter.sumOfSquares() / Double(max(parameter.count, 1))).squareRoot()
        let alpha: Double
        switch variant {
        case .hf:
            let rho = min(warmupInit ? 1e-6 * t : 1e-2, 1 / t.squareRoot())
            alpha = (scaleParameter ? max(eps2, rmsTheta) : 1) * (relativeStep ? rho : context.lr)
        case .torch:
            alpha = max(eps2, rmsTheta) * min(context.lr, 1 / t.squareRoot())
        }
        let rate = Foundation.pow(t, decayRate)  // 1 − β̂2_t
        if info.isMatrix {
            factoredDirection(grad: grad, state: state, rows: info.rows, cols: info.cols, rate: rate, into: d)
        } else {
            vectorDirection(grad: grad, state: state, rate: rate, into: d)
        }
        // Clip by the update's own RMS.
        let rmsU = (d.sumOfSquares() / Double(max(d.count, 1))).squareRoot()
        let clip = max(1, rmsU / clipThreshold)
        if clip > 1 { context.metrics.count("adafactor_clipped") }
        switch variant {
        case .torch:
            return StepScale(absoluteStep: alpha / clip)
        case .hf:
            if clip > 1 { d.scaleInPlace(Float(1 / clip)) }
            guard let b1 = beta1 else { return StepScale(absoluteStep: alpha, decayRate: alpha) }
            // M ← β1·M + (1−β1)·α·U: the momentum averages the scaled, clipped update.
            let m = state.float("exp_avg")
            let mp = SendablePointer(m.pointer), dp = SendablePointer(d.pointer)
            let fb1 = Float(b1), a = Float((1 - b1)), fa = Float(alpha)
            Parallel.forRanges(d.count, grain: 1 << 15) { r in
                for i in r {
                    let mi = mp.p[i] * fb1 + a * (fa * dp.p[i])
                    mp.p[i] = mi
                    dp.p[i] = mi
                }
            }
            return StepScale(absoluteStep: 1, decayRate: alpha)
        }
    }

    /// Updates R, C from g and writes U = g / √V̂ (unclipped) into d.
    private func factoredDirection(grad: Tensor, state: RuleState, rows: Int, cols: Int, rate: Double, into d: Tensor) {
        let r = state.float("exp_avg_sq_row"), c = state.float("exp_avg_sq_col")
        let e1 = variant == .hf ? eps1 : 0
        var rowMean = [Double](repeating: 0, count: rows), colSum = [Double](repeating: 0, count: cols)
        let g = grad.pointer
        for i in 0..<rows {
            var s = 0.0
            let row = g + i * cols
            for j in 0..<cols {
                let x = Double(row[j]) * Double(row[j]) + e1
                s += x
                colSum[j] += x
            }
            rowMean[i] = s / Double(cols)
        }
        let keep = Float(1 - rate), add = Float(rate)
        for i in 0..<rows { r[i] = r[i] * keep + add * Float(rowMean[i]) }
        for j in 0..<cols { c[j] = c[j] * keep + add * Float(colSum[j] / Double(rows)) }
        var meanR = 0.0
        for i in 0..<rows { meanR += Double(r[i]) }
        meanR /= Double(rows)
        let gp = SendablePointer(g), dp = SendablePointer(d.pointer)
        let rp = SendablePointer(r.pointer), cp = SendablePointer(c.pointer)
        switch variant {
        case .hf:
            // U_ij = g_ij · (R_i / mean R)^(−1/2) · C_j^(−1/2)
            let mr = Float(meanR)
            Parallel.forRanges(rows, grain: max(1, 8192 / max(cols, 1))) { range in
                for i in range {
                    let rf = 1 / (rp.p[i] / mr).squareRoot()
                    for j in 0..<cols { dp.p[i * cols + j] = gp.p[i * cols + j] * (rf * (1 / cp.p[j].squareRoot())) }
                }
            }
        case .torch:
            // V̂ = R Cᵀ / max(mean R, ε1); U = g / √max(V̂, ε1²)
            let denom = Float(max(meanR, eps1)), floor = Float(eps1 * eps1)
            Parallel.forRanges(rows, grain: max(1, 8192 / max(cols, 1))) { range in
                for i in range {
                    for j in 0..<cols {
                        let v = max(rp.p[i] * cp.p[j] / denom, floor)
                        dp.p[i * cols + j] = gp.p[i * cols + j] * (1 / v.squareRoot())
                    }
                }
            }
        }
    }

    /// Updates v from g and writes U = g / √v into d.
    private func vectorDirection(grad: Tensor, state: RuleState, rate: Double, into d: Tensor) {
        let v = state.float("exp_avg_sq")
        let keep = Float(1 - rate), add = Float(rate)
        let e1 = Float(variant == .hf ? eps1 : 0), floor = Float(eps1 * eps1)
        let torch = variant == .torch
        for i in 0..<d.count {
            let g = grad[i]
            v[i] = v[i] * keep + add * (g * g + e1)
            d[i] = g * (1 / (torch ? max(v[i], floor) : v[i]).squareRoot())
        }
    }

    /// The `adafactor` descriptor: every parameter gets Adafactor (GaLore/C-Optim preset by default).
    public static let descriptor = OptimizerDescriptor(
        name: "adafactor",
        summary: "Adafactor, transformers' implementation with the external-lr preset (or torch.optim.Adafactor)",
        rule: "R, C row/column EMAs of g²; U = g/√(R Cᵀ/mean R), clipped by RMS(U)/d; θ ← θ(1−λα) − α·U",
        statePerMatrix: "m + n (mn + m + n with β1)",
        paper: "Shazeer & Stern, arXiv 1804.04235",
        options: [
            OptimizerOption("adafactor_variant", .choice(["hf", "torch"]), .string("hf"), nil,
                            "hf: transformers' Adafactor (ε1 added to g², decay by α); torch: torch.optim.Adafactor (relative step and parameter scale always on, ε1 clamps V̂, decay by lr)"),
            OptimizerOption("beta1", .number, .derived("none"), .closedOpen(0, 1), "first-moment decay β1 (hf only; unset or 0 = no first moment)"),
            .weightDecay("weight decay λ (hf: θ ← θ − λ·α·θ; torch: θ ← θ·(1 − η·λ)), applied to the old weight"),
            OptimizerOption("clip_threshold", .number, .number(1), .open(0, 1e6), "update clipping threshold d: U ← U / max(1, RMS(U)/d)"),
            OptimizerOption("decay_rate", .number, .number(-0.8), .open(-1, 0), "c of the second-moment decay β̂2 = 1 − t^c"),
            OptimizerOption("eps1", .number, .derived("1e-30 hf / 1.1920929e-07 torch"), .open(0, 1), "regulariser ε1 of the squared gradient"),
            OptimizerOption("eps2", .number, .number(1e-3), .open(0, 1), "floor ε2 of the parameter RMS in the relative step"),
            OptimizerOption("relative_step", .bool, .bool(false), nil, "hf: step ρ_t = min(1e-2, 1/√t) instead of the scheduled lr"),
            OptimizerOption("scale_parameter", .bool, .bool(false), nil, "hf: multiply the step by max(ε2, RMS(θ))"),
            OptimizerOption("warmup_init", .bool, .bool(false), nil, "hf: ρ_t = min(1e-6·t, 1/√t) (needs relative_step)"),
        ]
    ) { c, _, params in
        let variant = Variant(rawValue: c.string("adafactor_variant"))!
        if variant == .torch, let bad = ["beta1", "relative_step", "scale_parameter", "warmup_init"].first(where: c.isSet) {
            throw OptimizerError("\"\(bad)\" applies to the hf variant only; torch.optim.Adafactor has no such switch (drop it or set adafactor_variant hf)")
        }
        if c.bool("warmup_init") && !c.bool("relative_step") {
            throw OptimizerError("\"warmup_init\" needs \"relative_step\": true (as in transformers' Adafactor)")
        }
        let b1 = c.number("beta1").flatMap { $0 > 0 ? $0 : nil }
        let rule = Adafactor(variant: variant, beta1: b1, clipThreshold: c.number("clip_threshold")!,
                             decayRate: c.number("decay_rate")!, eps1: c.number("eps1"), eps2: c.number("eps2")!,
                             relativeStep: c.bool("relative_step"), scaleParameter: c.bool("scale_parameter"),
                             warmupInit: c.bool("warmup_init"))
        return [ParameterGroup(name: "adafactor", rule: rule, parameters: params, weightDecay: c.number("weight_decay")!)]
    }
}
