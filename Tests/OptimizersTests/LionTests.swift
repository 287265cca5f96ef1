// Lion (optimizers-elementwise-zo.md §3, memory §9): the two-step test vector (θ1, θ2, m2),
// every update entry in {−η, 0, +η} before decay, the three-way sign with sign(0) = 0, and the
// momentum updated with β2 after the sign is taken.
import XCTest
import Optimizers
import Tensors

final class LionTests: XCTestCase {
    func testTwoStepsMatchSpecVector() throws {
        let h = try RuleHarness(Lion(beta1: 0.9, beta2: 0.99), theta: [1, 1, 1, 1], shape: [4], weightDecay: 0.1)
        // Coordinate 2 has g = 0: u = 0, only the decay acts.
        assertClose(try h.run([0.5, -0.2, 0, 1], lr: 0.1), [0.89, 1.09, 0.99, 0.89], rel: 1e-6)
        assertClose(h.buffer("exp_avg"), [0.005, -0.002, 0, 0.01], rel: 1e-6)
        assertClose(try h.run([-0.3, -0.1, 0.2, 1], lr: 0.1), [0.9811, 1.1791, 0.8801, 0.7811], rel: 1e-6)
        assertClose(h.buffer("exp_avg"), [0.00195, -0.00298, 0.002, 0.0199], rel: 1e-5)
    }

    func testEveryUpdateEntryIsPlusOrMinusLrOrZero() throws {
        // Gradients spanning six orders of magnitude, 5 steps, no decay: |Δθ| ∈ {0, η}.
        let n = 40, lr = 0.01
        let t0 = (0..<n).map { Float($0) * 0.05 - 1 }
        let h = try RuleHarness(Lion(), theta: t0, shape: [5, 8])
        var before = t0
        var seen = Set<Int>()
        for step in 0..<5 {
            let g = (0..<n).map { i -> Float in
                let mag = Float(pow(10.0, Double((i + step) % 7) - 4))
                return (i * 7 + step * 3) % 5 == 0 ? 0 : ((i + step) % 3 == 0 ? -mag : mag)
            }
            let after = try h.run(g, lr: lr)
            for i in 0..<n {
                let delta = Double(before[i]) - Double(after[i])
                let k = Int((delta / lr).rounded())
                XCTAssertTrue([-1, 0, 1].contains(k), "step \(step + 1) element \(i): Δ = \(delta)")
                XCTAssertEqual(delta, Double(k) * lr, accuracy: 1e-6, "step \(step + 1) element \(i)")
                seen.insert(k)
            }
            before = after
        }
        XCTAssertEqual(seen, [-1, 0, 1], "the sequence should exercise all three signs")
    }

    func testZeroInterpolationGivesZeroUpdate() throws {
        // β = (0.5, 0.5): m1 = 0.5·g1; at step 2 c = 0.5·m1 + 0.5·g2 = 0 exactly for g2 = −0.5·g1,
        // so sign(c) = 0 (Float.sign would say .plus for +0) and θ does not move.
        let h = try RuleHarness(Lion(beta1: 0.5, beta2: 0.5), theta: [0, 0, 0], shape: [3])
        XCTAssertEqual(try h.run([1, -1, 0], lr: 0.1), [-0.1, 0.1, 0])
        XCTAssertEqual(h.buffer("exp_avg"), [0.5, -0.5, 0])
        XCTAssertEqual(try h.run([-0.5, 0.5, 0], lr: 0.1), [-0.1, 0.1, 0])
        XCTAssertEqual(h.buffer("exp_avg"), [0, 0, 0])
    }

    func testDecayActsOnOldWeightBeforeTheSignStep() throws {
        // θ1 = θ0(1 − ηλ) − η·sign(g) for any gradient scale (m0 = 0).
        let t0: [Float] = [2, -3, 0.5, 4]
        let g: [Float] = [1e-6, -1e3, 5, -0.01]
        let h = try RuleHarness(Lion(), theta: t0, shape: [2, 2], weightDecay: 0.3)
        let expected: [Double] = zip(t0, g).map { (t: Float, gi: Float) -> Double in
            let s: Double = gi > 0 ? 1 : -1
            return Double(t) * (1 - 0.05 * 0.3) - 0.05 * s
        }
        assertClose(try h.run(g, lr: 0.05), expected, rel: 1e-6)
    }

    func testStateBytesAreOneMomentOfNumel() throws {
        XCTAssertEqual(Lion().stateBytesFormula(for: info("w", [6, 10])), 4 * 60)
        XCTAssertEqual(Lion().stateBytesFormula(for: info("norm", [10], .norm)), 4 * 10)
        let h = try RuleHarness(Lion(), theta: [Float](repeating: 0, count: 60), shape: [6, 10])
        try h.run([Float](repeating: 0.1, count: 60), lr: 0.01)
        XCTAssertEqual(h.optimizer.stateBytes, 4 * 60)
        XCTAssertEqual(h.optimizer.stateBytes, h.optimizer.stateBytesFormula)
    }
}
