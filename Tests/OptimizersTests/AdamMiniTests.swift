// Adam-mini (optimizers-elementwise-zo.md §5, memory §9): the per-row test vector of a 3×2 MLP
// matrix, the Q per-head partition (d = 4, H = 2), blocks of size 1 against AdamW, the v1.1.1
// partition rules on the LLaMA names, and the mn + m / mn + H / n + 1 state sizes.
import XCTest
import LlamaModel
import Optimizers
import Tensors

final class AdamMiniTests: XCTestCase {
    let mlpName = "model.layers.0.mlp.up_proj.weight"
    let qName = "model.layers.0.self_attn.q_proj.weight"

    func testPerRowBlocksMatchSpecVector() throws {
        let h = try RuleHarness(AdamMini(beta1: 0.9, beta2: 0.999, eps: 1e-8, heads: 2), theta: [0, 0, 0, 0, 0, 0],
                                shape: [3, 2], name: mlpName)
        // Row 0 moves by 0.1·g/√12.5; the zero row stays; row 2 has |g| constant (AdamW's sign step).
        assertClose(try h.run([3, -4, 0, 0, 1, 1], lr: 0.1),
                    [-0.08485281, 0.11313708, 0, 0, -0.1, -0.1], rel: 1e-6)
        assertClose(h.buffer("v_block"), [0.0125, 0, 0.001], rel: 1e-6)
        assertClose(h.buffer("exp_avg"), [0.3, -0.4, 0, 0, 0.1, 0.1], rel: 1e-6)
        assertClose(try h.run([1, 0, 2, 0, -1, 1], lr: 0.1),
                    [-0.16125253, 0.18747194, -0.10523684, 0, -0.09473684, -0.2], rel: 2e-6)
        assertClose(h.buffer("v_block"), [0.0129875, 0.002, 0.001999], rel: 1e-6)
    }

    func testQueryProjectionBlocksAreConsecutiveRowsPerHead() throws {
        // d = 4, H = 2: rows {0, 1} and {2, 3}, 8 entries each; g = 0…15 row-major.
        // v = 0.001·mean(g²) per block = [0.0175, 0.1375].
        let g = (0..<16).map(Float.init)
        let h = try RuleHarness(AdamMini(heads: 2), theta: [Float](repeating: 0, count: 16), shape: [4, 4],
                                name: qName, role: .attentionQuery)
        try h.run(g, lr: 0.1)
        assertClose(h.buffer("v_block"), [0.0175, 0.1375], rel: 1e-6)
        // θ1_i = −η·g_i/√(mean_B g²).
        let meanSq = [17.5, 137.5]
        assertClose(h.theta.array, (0..<16).map { -0.1 * Double($0) / meanSq[$0 / 8].squareRoot() }, rel: 2e-6)
    }

    func testBlocksOfSizeOneAgreeWithAdamW() throws {
        // A [12, 1] MLP matrix: one block per row = one per element, so v_B is Adam's v.
        let n = 12
        let t0 = (0..<n).map { Float($0) * 0.1 - 0.6 }
        let mini = try RuleHarness(AdamMini(heads: 1), theta: t0, shape: [n, 1], weightDecay: 0.1, name: mlpName)
        let adam = try RuleHarness(AdamW(), theta: t0, shape: [n, 1], weightDecay: 0.1, name: mlpName)
        for step in 1...8 {
            let g: [Float] = (0..<n).map { (i: Int) -> Float in
                let x: Double = sin(Double(i * 3 + step))
                return Float(x) * Float(1 + i % 4)
            }
            let a = try adam.run(g, lr: 0.01), m = try mini.run(g, lr: 0.01)
            assertClose(m, a.map(Double.init), rel: 2e-6, abs: 1e-7)
            assertClose(mini.buffer("v_block"), adam.buffer("exp_avg_sq").map(Double.init), rel: 1e-6, abs: 1e-12)
        }
        assertClose(mini.buffer("exp_avg"), adam.buffer("exp_avg").map(Double.init), rel: 1e-6, abs: 1e-9)
    }

    func testPartitionRulesForLlamaNames() {
        let d = 64, inter = 172, vocab = 100, heads = 4
        func part(_ name: String, _ shape: [Int]) -> AdamMini.Partition { .of(name: name, shape: shape, heads: heads) }
        let l = "model.layers.3."
        XCTAssertEqual(part(l + "self_attn.q_proj.weight", [d, d]), .perHead(heads))
        XCTAssertEqual(part(l + "self_attn.k_proj.weight", [d / 2, d]), .perHead(heads))
        XCTAssertEqual(part(l + "self_attn.v_proj.weight", [d, d]), .perRow)
        XCTAssertEqual(part(l + "self_attn.o_proj.weight", [d, d]), .perRow)
        XCTAssertEqual(part(l + "mlp.gate_proj.weight", [inter, d]), .perRow)
        XCTAssertEqual(part(l + "mlp.up_proj.weight", [inter, d]), .perRow)
        XCTAssertEqual(part(l + "mlp.down_proj.weight", [d, inter]), .perRow)
        XCTAssertEqual(part("model.embed_tokens.weight", [vocab, d]), .perRow)
        XCTAssertEqual(part("lm_head.weight", [vocab, d]), .perRow)
        XCTAssertEqual(part(l + "input_layernorm.weight", [d]), .whole)
        XCTAssertEqual(part(l + "post_attention_layernorm.weight", [d]), .whole)
        XCTAssertEqual(part("model.norm.weight", [d]), .whole)
        // Matching is by lower-cased substring; a 1-D tensor is always one block.
        XCTAssertEqual(part("Model.Layers.0.Self_Attn.Q_Proj.Weight", [d, d]), .perHead(heads))
        XCTAssertEqual(part(l + "self_attn.q_proj.weight", [d]), .whole)
        // Block counts.
        XCTAssertEqual(AdamMini.Partition.perHead(heads).blocks([d, d]), heads)
        XCTAssertEqual(AdamMini.Partition.perRow.blocks([inter, d]), inter)
        XCTAssertEqual(AdamMini.Partition.whole.blocks([d]), 1)
    }

    func testStateBytesFormulas() throws {
        let m = 12, n = 8, heads = 4
        let rule = AdamMini(heads: heads)
        XCTAssertEqual(rule.stateBytesFormula(for: info(mlpName, [m, n])), 4 * (m * n + m))
        XCTAssertEqual(rule.stateBytesFormula(for: info(qName, [m, n], .attentionQuery)), 4 * (m * n + heads))
        XCTAssertEqual(rule.stateBytesFormula(for: info("model.norm.weight", [n], .norm)), 4 * (n + 1))
        let cases: [(String, [Int], ParameterRole, Int)] = [
            (mlpName, [m, n], .mlpUp, m * n + m),
            (qName, [m, n], .attentionQuery, m * n + heads),
            ("model.layers.0.input_layernorm.weight", [n], .norm, n + 1),
        ]
        for (name, shape, role, floats) in cases {
            let count = shape.reduce(1, *)
            let h = try RuleHarness(rule, theta: [Float](repeating: 0.1, count: count), shape: shape, name: name, role: role)
            try h.run([Float](repeating: 0.2, count: count), lr: 0.01)
            XCTAssertEqual(h.optimizer.stateBytes, 4 * floats, name)
            XCTAssertEqual(h.optimizer.stateBytesFormula, 4 * floats, name)
        }
    }

    func testHeadCountThatDoesNotDivideTheMatrixIsRejected() {
        XCTAssertThrowsError(try RuleHarness(AdamMini(heads: 3), theta: [Float](repeating: 0, count: 16), shape: [4, 4],
                                             name: qName, role: .attentionQuery))
    }
}
