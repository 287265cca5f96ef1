// SGD against the hand-computed sequences of optimizers-elementwise-zo.md §1.2
// (θ0 = 0, constant g = 1, η = 0.1, μ = 0.9 unless stated).
import XCTest
import Optimizers
import Tensors

final class SGDTests: XCTestCase {
    func run(_ rule: SGD, steps: Int, theta0: Float = 0, g: Float = 1) -> [Float] {
        let theta = Tensor(shape: [1], values: [theta0])
        let state = RuleState()
        var out: [Float] = []
        for s in 1...steps {
            rule.update(parameter: theta, grad: Tensor(shape: [1], values: [g]), state: state, context: StepContext(step: s, lr: 0.1))
            out.append(theta[0])
        }
        return out
    }

    func assertSequence(_ a: [Float], _ b: [Float], file: StaticString = #filePath, line: UInt = #line) {
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-6, "\(a) vs \(b)", file: file, line: line) }
    }

    func testMomentumSequence() throws {
        assertSequence(run(try SGD(momentum: 0.9), steps: 3), [-0.1, -0.29, -0.561])
    }

    func testNesterovSequence() throws {
        assertSequence(run(try SGD(momentum: 0.9, nesterov: true), steps: 3), [-0.19, -0.461, -0.8049])
    }

    func testFirstBufferIsUndampened() throws {
        assertSequence(run(try SGD(momentum: 0.9, dampening: 0.5), steps: 3), [-0.1, -0.24, -0.416])
    }

    func testWeightDecayIsL2OnTheGradient() throws {
        assertSequence(run(try SGD(weightDecay: 0.1), steps: 2, theta0: 1, g: 0), [0.99, 0.9801])
    }

    func testNesterovWithoutMomentumIsRejected() {
        XCTAssertThrowsError(try SGD(momentum: 0, nesterov: true))
        XCTAssertThrowsError(try SGD(momentum: 0.9, dampening: 0.1, nesterov: true))
    }

    func testStateBytes() throws {
        let plain = try SGD()
        XCTAssertEqual(plain.stateBytesFormula(shape: [4, 4]), 0)
        let m = try SGD(momentum: 0.9)
        let theta = Tensor.zeros([4, 4]), state = RuleState()
        m.update(parameter: theta, grad: Tensor.filled([4, 4], with: 1), state: state, context: StepContext(step: 1, lr: 0.1))
        XCTAssertEqual(state.stateBytes, m.stateBytesFormula(shape: [4, 4]))
        XCTAssertEqual(state.stateBytes, 16 * 4)
    }
}
