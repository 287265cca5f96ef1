// SGD against the hand-computed sequences of optimizers-elementwise-zo.md §1.2
// (θ0 = 0, constant g = 1, η = 0.1, μ = 0.9 unless stated).
import XCTest
import Optimizers
import Tensors

final class SGDTests: XCTestCase {
    func run(_ rule: SGD, steps: Int, theta0: Float = 0, g: Float = 1) -> [Float] {
        let h = try! RuleHarness(rule, theta: [theta0], shape: [1])
        return (1...steps).map { _ in try! h.run([g], lr: 0.1)[0] }
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
        XCTAssertEqual(plain.stateBytesFormula(for: info("w", [4, 4])), 0)
        let h = try RuleHarness(try SGD(momentum: 0.9), theta: [Float](repeating: 0, count: 16), shape: [4, 4])
        try h.run([Float](repeating: 1, count: 16), lr: 0.1)
        XCTAssertEqual(h.state.stateBytes, 16 * 4)
        XCTAssertEqual(h.optimizer.stateBytes, h.optimizer.stateBytesFormula)
    }
}
