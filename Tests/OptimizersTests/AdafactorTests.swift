// Adafactor (optimizers-elementwise-zo.md §2, memory §9): the rank-1 identity, the §2.3 test
// vector for R, C and θ1 (PyTorch variant, HF preset, HF relative step + parameter scale), the
// vector (1-D) path with clipping, the β1 path and the m + n / mn + m + n / n state sizes.
import XCTest
import Optimizers
import Tensors

final class AdafactorTests: XCTestCase {
    // §2.3 "Vector" inputs: θ0 [2, 3] and g at t = 1.
    let theta0: [Float] = [1, -2, 0.5, 0, 3, -1]
    let grad: [Float] = [0.1, -0.2, 0.3, -0.4, 0.5, -0.6]
    let torchTheta1 = [0.99014194, -1.98490452, 0.48182263, 0.01681397, 2.98390816, -0.98449829]
    let hfTheta1 = [0.99381653, -1.99053136, 0.48859825, 0.01054656, 2.98990639, -0.99027655]

    func testRankOneGradientMovesThetaBySignTimesLr() throws {
        // g = a bᵀ: at t = 1 V̂ = g² exactly, so U = sign(g), RMS(U) = 1 and nothing is clipped.
        let a: [Float] = [1, -2], b: [Float] = [0.5, -1, 3]
        let g = a.flatMap { ai in b.map { ai * $0 } }
        let t0: [Float] = [0.3, -0.2, 0.1, 0.7, -0.5, 0.25]
        let h = try RuleHarness(Adafactor(), theta: t0, shape: [2, 3])
        let expected = zip(t0, g).map { Double($0) - 0.01 * ($1 > 0 ? 1 : -1) }
        assertClose(try h.run(g, lr: 0.01), expected, rel: 1e-6, abs: 1e-7)
        // V̂ = R Cᵀ / mean(R) = [[0.25, 1, 9], [1, 4, 36]].
        let r = h.buffer("exp_avg_sq_row"), c = h.buffer("exp_avg_sq_col")
        let meanR = Double(r[0] + r[1]) / 2
        let vhat = (0..<2).flatMap { i in (0..<3).map { j in Double(r[i]) * Double(c[j]) / meanR } }
        assertClose(vhat.map(Float.init), [0.25, 1, 9, 1, 4, 36], rel: 1e-6)
    }

    func testRowAndColumnStatisticsMatchSpecVector() throws {
        for rule in [Adafactor(), Adafactor(variant: .torch)] {
            let h = try RuleHarness(rule, theta: theta0, shape: [2, 3])
            try h.run(grad, lr: 0.01)
            assertClose(h.buffer("exp_avg_sq_row"), [0.0466666667, 0.2566666667], rel: 1e-6)
            assertClose(h.buffer("exp_avg_sq_col"), [0.085, 0.145, 0.225], rel: 1e-6)
        }
    }

    func testTorchVariantFirstStepMatchesSpecVector() throws {
        // α = max(ε2, RMS(θ0))·min(lr, 1) = 1.5942605·0.01; RMS(U) < 1, no clipping.
        let h = try RuleHarness(Adafactor(variant: .torch), theta: theta0, shape: [2, 3])
        assertClose(try h.run(grad, lr: 0.01), torchTheta1, rel: 1e-6)
    }

    func testHFPresetFirstStepMatchesSpecVector() throws {
        let h = try RuleHarness(Adafactor(), theta: theta0, shape: [2, 3])
        assertClose(try h.run(grad, lr: 1e-2), hfTheta1, rel: 1e-6)
    }

    func testHFRelativeStepWithParameterScaleEqualsTorchDefaults() throws {
        // ρ1 = min(1e-2, 1) and s = RMS(θ0): the scheduled lr is ignored entirely.
        let rule = Adafactor(relativeStep: true, scaleParameter: true)
        for lr in [1e-2, 0.5] {
            let h = try RuleHarness(rule, theta: theta0, shape: [2, 3])
            assertClose(try h.run(grad, lr: lr), torchTheta1, rel: 1e-6)
        }
    }

    func testHFWeightDecayUsesAlpha() throws {
        // θ ← θ − λ·α·θ − α·U with α = lr under the preset.
        let h = try RuleHarness(Adafactor(), theta: theta0, shape: [2, 3], weightDecay: 0.5)
        let expected = zip(theta0, hfTheta1).map { Double($0) * (1 - 0.5 * 0.01) + ($1 - Double($0)) }
        assertClose(try h.run(grad, lr: 1e-2), expected, rel: 1e-6, abs: 1e-7)
    }

    func testVectorParameterKeepsFullSecondMomentAndClips() throws {
        // 1-D: v = g² at t = 1 (U = sign g); at t = 2 RMS(U) = 1.0562 so the update is clipped.
        let t0: [Float] = [1, -2, 0.5, 0.25]
        let h = try RuleHarness(Adafactor(), theta: t0, shape: [4], name: "model.norm.weight", role: .norm)
        assertClose(try h.run([0.1, -0.2, 0.3, 0.05], lr: 0.01), [0.99, -1.99, 0.49, 0.24], rel: 1e-6)
        assertClose(h.buffer("exp_avg_sq"), [0.01, 0.04, 0.09, 0.0025], rel: 1e-6)
        assertClose(try h.run([0.4, 0.1, -0.2, 0.3], lr: 0.01),
                    [0.9777862277, -1.9962746984, 0.4976494719, 0.2276332095], rel: 1e-6)
        assertClose(h.buffer("exp_avg_sq"), [0.0961523766, 0.0227695247, 0.0612825411, 0.0527555530], rel: 1e-5)
        XCTAssertEqual(h.optimizer.metrics.values.first { $0.0 == "adafactor_clipped" }?.1, 1)
    }

    func testTorchVectorPathFirstStepIsRelativeSignStep() throws {
        // torch, 1-D, t = 1: U = sign(g), α = RMS(θ0)·lr.
        let t0: [Float] = [1, -2, 0.5, 0.25]
        let rms = (t0.map { Double($0 * $0) }.reduce(0, +) / 4).squareRoot()
        let g: [Float] = [0.1, -0.2, 0.3, 0.05]
        let h = try RuleHarness(Adafactor(variant: .torch), theta: t0, shape: [4], name: "model.norm.weight", role: .norm)
        assertClose(try h.run(g, lr: 0.01), zip(t0, g).map { Double($0) - rms * 0.01 * ($1 > 0 ? 1 : -1) }, rel: 1e-6)
    }

    func testBeta1AveragesTheScaledClippedUpdate() throws {
        // M ← 0.9·M + 0.1·α·U; θ ← θ(1 − λα) − M. λ = 0.1, lr = 0.01; numpy float64 values.
        let h = try RuleHarness(Adafactor(beta1: 0.9), theta: theta0, shape: [2, 3], weightDecay: 0.1)
        assertClose(try h.run(grad, lr: 0.01),
                    [0.9983816531, -1.9970531358, 0.4983598246, 0.0010546561, 2.9959906394, -0.9980276551], rel: 1e-6, abs: 1e-8)
        assertClose(h.buffer("exp_avg"),
                    [6.183469424e-4, -9.468641529e-4, 1.140175425e-3, -1.054656089e-3, 1.009360578e-3, -9.723448696e-4], rel: 1e-5)
        assertClose(try h.run([0.2, 0.1, -0.3, 0.05, -0.5, 0.4], lr: 0.01),
                    [0.9953843533, -1.9946334721, 0.4979979419, 0.0018232383, 2.9931556918, -0.9969263953], rel: 1e-6, abs: 1e-8)
        assertClose(h.buffer("exp_avg"),
                    [1.998918094e-3, -4.226106473e-4, -1.364771913e-4, -7.696368959e-4, -1.610430050e-4, -1.032322236e-4], rel: 2e-5, abs: 1e-9)
    }

    func testTorchVariantIgnoresBeta1() throws {
        let rule = Adafactor(variant: .torch, beta1: 0.9)
        XCTAssertNil(rule.beta1)
        let h = try RuleHarness(rule, theta: theta0, shape: [2, 3])
        assertClose(try h.run(grad, lr: 0.01), torchTheta1, rel: 1e-6)
        XCTAssertNil(h.state.buffers["exp_avg"])
    }

    func testStateBytesAreRowsPlusColumnsOrWithBeta1FullMatrix() throws {
        let m = 6, n = 10
        XCTAssertEqual(Adafactor().stateBytesFormula(for: info("w", [m, n])), 4 * (m + n))
        XCTAssertEqual(Adafactor(beta1: 0.9).stateBytesFormula(for: info("w", [m, n])), 4 * (m * n + m + n))
        XCTAssertEqual(Adafactor().stateBytesFormula(for: info("norm", [n], .norm)), 4 * n)
        XCTAssertEqual(Adafactor(beta1: 0.9).stateBytesFormula(for: info("norm", [n], .norm)), 4 * 2 * n)
        for (rule, bytes) in [(Adafactor(), 4 * (m + n)), (Adafactor(beta1: 0.9), 4 * (m * n + m + n))] {
            let h = try RuleHarness(rule, theta: [Float](repeating: 0.1, count: m * n), shape: [m, n])
            try h.run((0..<(m * n)).map { Float($0 % 7) - 3 }, lr: 0.01)
            XCTAssertEqual(h.optimizer.stateBytes, bytes)
            XCTAssertEqual(h.optimizer.stateBytesFormula, bytes)
        }
    }
}
