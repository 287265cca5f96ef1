// AdamW against the hand-computed vectors of optimizers-elementwise-zo.md §1.1 (float64
// values; Float32 code agrees to ~1e-6 relative).
import XCTest
import Optimizers
import Tensors

final class AdamWTests: XCTestCase {
    func testTwoStepsMatchHandComputedVectorWithBiasCorrectionAndDecay() throws {
        let h = try RuleHarness(AdamW(beta1: 0.9, beta2: 0.999, eps: 1e-8), theta: [1, -2, 0.5], shape: [3], weightDecay: 0.01)
        assertClose(try h.run([0.5, -1, 0], lr: 0.1), [0.899000002, -1.898000001, 0.4995], rel: 2e-6)
        assertClose(h.buffer("exp_avg"), [0.05, -0.1, 0], rel: 2e-6)
        assertClose(h.buffer("exp_avg_sq"), [2.5e-4, 1e-3, 0], rel: 2e-6)
        assertClose(try h.run([0.1, 0.2, -0.3], lr: 0.1), [0.8177969064, -1.844999394, 0.5734141788], rel: 2e-6)
    }

    func testFirstStepMovesBySignOfGradientTimesLr() throws {
        // With ε → 0 the bias correction makes m̂ = g and v̂ = g², so θ1 = θ0(1 − ηλ) − η·sign(g).
        var values: [Float] = [], g: [Float] = []
        for i in 0..<18 {
            values.append(Float(i) * 0.1 - 0.9)
            g.append(i % 3 == 0 ? -Float(i + 1) : Float(i) * 0.01 + 0.001)
        }
        let h = try RuleHarness(AdamW(beta1: 0.5, beta2: 0.9, eps: 1e-12), theta: values, shape: [2, 9], weightDecay: 0.1)
        let expected = (0..<18).map { Double(values[$0]) * (1 - 0.01 * 0.1) - 0.01 * (g[$0] > 0 ? 1 : -1) }
        assertClose(try h.run(g, lr: 0.01), expected, rel: 1e-6, abs: 1e-6)
    }

    func testEpsilonIsAddedAfterBiasCorrection() throws {
        // θ0 = 0, g = 1e-3, η = 1, λ = 0, ε = 1e-3: PyTorch style gives −0.5, the HF core −0.03065343.
        let torch = try RuleHarness(AdamW(eps: 1e-3), theta: [0], shape: [1])
        assertClose(try torch.run([1e-3], lr: 1), [-0.5], rel: 1e-6)
        let hf = try RuleHarness(AdamW(eps: 1e-3, style: .hf), theta: [0], shape: [1])
        assertClose(try hf.run([1e-3], lr: 1), [-0.03065343], rel: 1e-6)
    }

    func testZeroGradientCoordinatesStayFinite() throws {
        let h = try RuleHarness(AdamW(), theta: [Float](repeating: 1, count: 17), shape: [17])
        XCTAssertTrue(try h.run([Float](repeating: 0, count: 17), lr: 0.1).allSatisfy { $0.isFinite })
    }

    func testDecayAfterTheStepMultipliesTheUpdatedWeight() throws {
        // HF/GaLore order: θ ← (θ − η·u)·(1 − ηλ); with θ0 = 1, g = 1 at step 1 u = 1.
        let h = try RuleHarness(AdamW(eps: 1e-12), theta: [1], shape: [1], weightDecay: 0.5, placement: .after)
        assertClose(try h.run([1], lr: 0.1), [(1 - 0.1) * (1 - 0.05)], rel: 1e-6)
    }

    func testStateBytesEqualFormula() throws {
        let h = try RuleHarness(AdamW(), theta: [Float](repeating: 0, count: 35), shape: [5, 7])
        try h.run([Float](repeating: 0.1, count: 35), lr: 0.1)
        XCTAssertEqual(h.state.stateBytes, 2 * 35 * 4)
        XCTAssertEqual(h.optimizer.stateBytes, h.optimizer.stateBytesFormula)
    }
}
