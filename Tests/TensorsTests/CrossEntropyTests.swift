import XCTest
import Foundation
import GradientCheck
import Tensors

final class CrossEntropyTests: XCTestCase {
    /// Two classes: with Δ = logit[target] − logit[other], −log softmax[target] = log(1 + e^−Δ)
    /// and the gradient is (softmax − onehot)/N = ∓σ(−Δ)/N. Rows: [2, 0.5] → target 0 (Δ = 1.5),
    /// [−1, 3] → target 1 (Δ = 4). FastMath.exp (≤ 2e-7) and Float32 rounding keep the loss
    /// and gradient within 1e-6 relative of the closed forms, the target entry included: it is
    /// formed as −(Σ_{j≠t} e_j)/(Σ e·N) in Double, not by cancelling p/N − 1/N in Float.
    /// 16-float exps (AVX-512) give the 8-float loop's bits: loss and gradient, vocabularies
    /// with a tail (1000 = 62·16 + 8, and a second 512-wide piece of 488) and without (4096).
    func testLossIsBitwiseTheSameOnEightAndSixteenLanes() throws {
        for vocab in [1000, 4096] {
            let logits = randomInput([64, vocab], std: 3, seed: UInt64(310 + vocab))
            var rng = RandomGenerator(seed: 311)
            let targets = (0..<64).map { _ in Int32(rng.int(below: vocab)) }
            try assertSameOnEightAndSixteenLanes([logits], seed: Tensor(shape: [], values: [0.7])) {
                crossEntropy($0[0], targets: targets)
            }
        }
    }

    func testTwoClassCaseMatchesClosedForm() {
        let logits = Tensor(shape: [2, 2], values: [2, 0.5, -1, 3], requiresGrad: true)
        let (loss, tape) = Tape.record { crossEntropy(logits, targets: [0, 1]) }
        XCTAssertEqual(loss.shape, [])
        let l0 = log(1 + exp(-1.5)), l1 = log(1 + exp(-4.0))
        XCTAssertEqual(Double(loss.scalar), (l0 + l1) / 2, accuracy: 1e-6 * (l0 + l1) / 2)
        tape.backward(from: loss)
        let s0 = 1 / (1 + exp(1.5)), s1 = 1 / (1 + exp(4.0))  // σ(−Δ)
        let expected = [-s0 / 2, s0 / 2, s1 / 2, -s1 / 2]
        for (got, want) in zip(logits.grad!.array, expected) {
            XCTAssertEqual(Double(got), want, accuracy: 1e-6 * abs(want))
        }
    }

    /// Huge logits must not overflow (the row max is subtracted first): [1000, 0] against
    /// target 1 costs 1000 + log(1 + e^−1000) = 1000; equal logits cost log 2.
    func testLargeLogitsAreStable() {
        let logits = Tensor(shape: [2, 2], values: [1000, 0, 100, 100])
        let loss = crossEntropy(logits, targets: [1, 0]).scalar
        XCTAssertEqual(Double(loss), (1000 + log(2.0)) / 2, accuracy: 1e-4)
        XCTAssertTrue(loss.isFinite)
    }

    /// A wide row (V = 1037: two 512-element pieces, SIMD vectors and a ragged tail) against a
    /// Double log-sum-exp; the Float sums per piece keep the loss within 1e-5 absolute.
    func testWideRowsMatchDoubleReference() {
        let (n, v) = (3, 1037)
        let logits = randomInput([n, v], std: 3, seed: 71)
        let targets: [Int32] = [0, 1036, 517]
        var reference = 0.0
        for r in 0..<n {
            var m = -Double.infinity
            for j in 0..<v { m = max(m, Double(logits[r * v + j])) }
            var s = 0.0
            for j in 0..<v { s += exp(Double(logits[r * v + j]) - m) }
            reference += log(s) + m - Double(logits[r * v + Int(targets[r])])
        }
        let loss = crossEntropy(logits, targets: targets)
        XCTAssertEqual(Double(loss.scalar), reference / Double(n), accuracy: 1e-5)
    }
}

final class CrossEntropyGradTests: XCTestCase {
    /// log-softmax is smooth with third derivatives below 1 in size, so truncation with
    /// h = 1e-2 is ≈ 2e-5; Float32 rounding of the O(1) loss over 2h ≈ 1e-5. Gradients are
    /// (softmax − onehot)/N ≈ 0.1 here, so the relative bound 3e-3 leaves margin; a missing
    /// 1/N or onehot term gives O(1). Logits [2, 3, 37]: N = 6 rows, V = 37 (vectors + tail).
    func testBackwardMatchesFiniteDifferences() {
        let logits = randomInput([2, 3, 37], std: 2, seed: 72)
        let targets: [Int32] = [0, 36, 5, 5, 17, 32]
        let result = gradCheck([logits]) { crossEntropy($0[0], targets: targets) }
        XCTAssertLessThan(result.worst, 3e-3, "errors \(result.relativeErrors)")
    }

    /// An upstream gradient other than 1, into an existing gradient and into none.
    func testUpstreamScaleAndAccumulation() {
        let logits = randomInput([5, 19], seed: 73)
        let targets: [Int32] = [1, 2, 18, 0, 9]
        for e in accumulationErrors([logits], { crossEntropy($0[0], targets: targets) }) { XCTAssertLessThan(e, 1e-6) }
        let unit = recordedRun([logits], seed: Tensor(shape: [], values: [1])) { crossEntropy($0[0], targets: targets) }
        let scaled = recordedRun([logits], seed: Tensor(shape: [], values: [-2.5])) { crossEntropy($0[0], targets: targets) }
        for (a, b) in zip(unit.grads[0], scaled.grads[0]) { XCTAssertEqual(b, -2.5 * a) }
        XCTAssertEqual(logits.grad?.shape, [5, 19])
    }
}
