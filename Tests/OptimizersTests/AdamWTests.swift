// AdamW against the hand-computed vectors of optimizers-elementwise-zo.md §1.1 (float64
// values; Float32 code agrees to ~1e-6 relative, so 2e-6 is the bound).
import XCTest
import Optimizers
import Tensors

final class AdamWTests: XCTestCase {
    func assertClose(_ a: [Float], _ b: [Double], tol: Double = 2e-6, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertLessThanOrEqual(abs(Double(x) - y), tol * max(1, abs(y)), "\(a) vs \(b)", file: file, line: line)
        }
    }

    func step(_ rule: UpdateRule, _ theta: Tensor, _ g: [Float], _ state: RuleState, lr: Float, step: Int) {
        rule.update(parameter: theta, grad: Tensor(shape: theta.shape, values: g), state: state,
                    context: StepContext(step: step, lr: lr))
    }

    func testTwoStepsMatchHandComputedVectorWithBiasCorrectionAndDecay() {
        let rule = AdamW(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01)
        let theta = Tensor(shape: [3], values: [1, -2, 0.5])
        let state = RuleState()
        step(rule, theta, [0.5, -1, 0], state, lr: 0.1, step: 1)
        assertClose(theta.array, [0.899000002, -1.898000001, 0.4995])
        assertClose(state.tensors["exp_avg"]!.array, [0.05, -0.1, 0])
        assertClose(state.tensors["exp_avg_sq"]!.array, [2.5e-4, 1e-3, 0])
        step(rule, theta, [0.1, 0.2, -0.3], state, lr: 0.1, step: 2)
        assertClose(theta.array, [0.8177969064, -1.844999394, 0.5734141788])
    }

    func testFirstStepMovesBySignOfGradientTimesLr() {
        // With ε → 0 the bias correction makes m̂ = g and v̂ = g², so θ1 = θ0(1 − ηλ) − η·sign(g).
        let rule = AdamW(beta1: 0.5, beta2: 0.9, eps: 1e-12, weightDecay: 0.1)
        var values: [Float] = [], g: [Float] = []
        for i in 0..<18 {
            values.append(Float(i) * 0.1 - 0.9)
            g.append(i % 3 == 0 ? -Float(i + 1) : Float(i) * 0.01 + 0.001)
        }
        let theta = Tensor(shape: [2, 9], values: values)
        step(rule, theta, g, RuleState(), lr: 0.01, step: 1)
        var expected: [Double] = []
        for i in 0..<18 {
            let sign: Double = g[i] > 0 ? 1 : -1
            expected.append(Double(values[i]) * (1 - 0.01 * 0.1) - 0.01 * sign)
        }
        assertClose(theta.array, expected, tol: 1e-6)
    }

    func testEpsilonIsAddedAfterBiasCorrection() {
        // θ0 = 0, g = 1e-3, η = 1, λ = 0, ε = 1e-3: PyTorch style gives −0.5.
        let rule = AdamW(beta1: 0.9, beta2: 0.999, eps: 1e-3, weightDecay: 0)
        let theta = Tensor(shape: [1], values: [0])
        step(rule, theta, [1e-3], RuleState(), lr: 1, step: 1)
        assertClose(theta.array, [-0.5], tol: 1e-6)
    }

    func testZeroGradientCoordinatesStayFinite() {
        let rule = AdamW()
        let theta = Tensor(shape: [17], values: [Float](repeating: 1, count: 17))
        step(rule, theta, [Float](repeating: 0, count: 17), RuleState(), lr: 0.1, step: 1)
        XCTAssertTrue(theta.array.allSatisfy { $0.isFinite })
    }

    func testStateBytesEqualFormula() {
        let rule = AdamW()
        let theta = Tensor.zeros([5, 7])
        let state = RuleState()
        step(rule, theta, [Float](repeating: 0.1, count: 35), state, lr: 0.1, step: 1)
        XCTAssertEqual(state.stateBytes, 2 * 35 * 4)
        XCTAssertEqual(state.stateBytes, rule.stateBytesFormula(shape: [5, 7]))
    }
}
