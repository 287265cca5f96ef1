// Adam-mini: Adam with one second-moment scalar per parameter block (Zhang et al., arXiv
// 2406.16793; zyushun/Adam-mini 1.1.1; optimizers-elementwise-zo.md §5). Blocks follow the
// v1.1 partition, matched by substring of the lower-cased name: q/k projections one block
// per head (hd consecutive rows), embedding, lm_head, v/o projections and MLP matrices one
// block per row, anything else (the norms) one block for the tensor. Per block:
//   v_B ← β2·v_B + (1−β2)·mean_B(g²);  d = m · (1/bc1) / (√v_B/√bc2 + ε)
// State: m (numel) + one float per block: mn + m per-row, mn + H for Q/K, n + 1 for a norm.
import Tensors

public struct AdamMini: UpdateRule {
    /// How one tensor is cut into blocks.
    public enum Partition: Equatable, Sendable {
        case perHead(Int), perRow, whole

        /// The v1.1.1 rule for a parameter name and shape, with `heads` attention heads.
        public static func of(name: String, shape: [Int], heads: Int) -> Partition {
            let n = name.lowercased()
            guard shape.count >= 2 else { return .whole }
            if ["k_proj", "q_proj", "wq", "wk", "query", "key"].contains(where: n.contains) { return .perHead(heads) }
            let perRow = ["embed", "embd", "wte", "lm_head", "output", "final_layer", "v_proj", "wv", "value",
                          "o_proj", "wo", "attn.proj", "feed_forward", "linear", "mlp"]
            if perRow.contains(where: n.contains) { return .perRow }
            return .whole
        }

        /// Number of blocks of a tensor of `shape`.
        public func blocks(_ shape: [Int]) -> Int {
            switch self {
            case .perHead(let h): return h
            case .perRow: return shape.count >= 2 ? shape[0] : 1
            case .whole: return 1
            }
        }
    }

    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var heads: Int

    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, heads: Int) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.heads = heads
    }

    public var summary: String { "adam-mini(β=(\(beta1), \(beta2)), ε=\(eps), \(heads) heads)" }

    func partition(_ p: ParameterInfo) throws -> Partition {
        let part = Partition.of(name: p.name, shape: p.shape, heads: heads)
        if case .perHead(let h) = part, h <= 0 || p.count % h != 0 {
            throw OptimizerError("\(p.name) \(p.shape) does not split into \(h) equal head blocks; check num_attention_heads")
        }
        return part
    }

    public func makeState(for p: ParameterInfo, state: RuleState) throws {
        state.addFloat("exp_avg", shape: p.shape)
        state.addFloat("v_block", shape: [try partition(p).blocks(p.shape)])
        state.updates = 0
    }

    public func stateBytesFormula(for p: ParameterInfo) -> Int {
        4 * (p.count + ((try? partition(p).blocks(p.shape)) ?? 1))
    }

    public func direction(grad: Tensor, parameter: Tensor, state: RuleState, into d: Tensor,
                          context: RuleContext) throws -> StepScale {
        state.updates += 1
        let t = state.updates
        let m = state.float("exp_avg"), v = state.float("v_block")
        let blocks = v.count, blockSize = d.count / blocks
        let a1 = Float(1 - beta1), b2 = Float(beta2), a2 = Float(1 - beta2), e = Float(eps)
        let invBc1 = Float(1 / AdamCore.biasCorrection(beta1, t))
        let bc2Sqrt = Float(AdamCore.biasCorrection(beta2, t).squareRoot())
        let g = SendablePointer(grad.pointer), mp = SendablePointer(m.pointer)
        let vp = SendablePointer(v.pointer), dp = SendablePointer(d.pointer)
        Parallel.forRanges(blocks, grain: max(1, 16384 / max(blockSize, 1))) { r in
            for b in r {
                let lo = b * blockSize, hi = lo + blockSize
                var s = 0.0
                for i in lo..<hi { s += Double(g.p[i]) * Double(g.p[i]) }
                let vb = vp.p[b] * b2 + a2 * Float(s / Double(blockSize))
                vp.p[b] = vb
                let f = invBc1 / (vb.squareRoot() / bc2Sqrt + e)
                for i in lo..<hi {
                    let mi = mp.p[i] + a1 * (g.p[i] - mp.p[i])
                    mp.p[i] = mi
                    dp.p[i] = mi * f
                }
            }
        }
        return StepScale()
    }

    static let embeddingOption = OptimizerOption(
        "adam_mini_embedding", .choice(["per-token", "adamw"]), .string("per-token"), nil,
        "embedding and lm_head: per-token blocks (Adam-mini 1.1) or full AdamW moments (1.0.x)")

    /// The `adam-mini` descriptor: every parameter gets Adam-mini's blocks; norms are not decayed
    /// (as the reference exempts names with norm, ln or bias).
    public static let descriptor = OptimizerDescriptor(
        name: "adam-mini",
        summary: "Adam-mini 1.1: one second moment per block (Q/K per head; embedding, lm_head, V, O, MLP per row; norms whole)",
        rule: "v_B ← β2·v_B + (1−β2)·mean_B(g²); θ ← θ(1−ηλ) − η·m̂/(√v̂_B + ε)",
        statePerMatrix: "mn + m per row (mn + H for Q/K)",
        paper: "Zhang et al., arXiv 2406.16793",
        options: [.beta1(0.9), .beta2(0.999), .eps(1e-8), .weightDecay("decoupled weight decay λ (norms exempt, as in the reference)"), embeddingOption]
    ) { c, model, params in
        let rule = AdamMini(beta1: c.number("beta1")!, beta2: c.number("beta2")!, eps: c.number("eps")!, heads: model.heads)
        let wd = c.number("weight_decay")!
        let useAdamW = c.string("adam_mini_embedding") == "adamw"
        let tables = params.filter { useAdamW && ($0.role == .embedding || $0.role == .head) }
        let norms = params.filter { $0.role == .norm }
        let blocked = params.filter { !($0.role == .norm || (useAdamW && ($0.role == .embedding || $0.role == .head))) }
        var groups = [ParameterGroup(name: "adam-mini", rule: rule, parameters: blocked, weightDecay: wd)]
        if !tables.isEmpty {
            let adam = AdamW(beta1: c.number("beta1")!, beta2: c.number("beta2")!, eps: c.number("eps")!)
            groups.append(ParameterGroup(name: "adamw (embedding, head)", rule: adam, parameters: tables, weightDecay: wd))
        }
        if !norms.isEmpty { groups.append(ParameterGroup(name: "adam-mini (norms, no decay)", rule: rule, parameters: norms, weightDecay: 0)) }
        return groups
    }
}
