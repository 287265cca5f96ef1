// Cautious masks (optimizers-elementwise-zo.md §4): C-AdamW with an all-agreeing mask is
// bit-identical to AdamW, the §4 C-AdamW and C-Lion vectors (mean and legacy normalisation),
// the mask leaves the moments and the weight decay alone, and an all-disagree tensor is safe.
import XCTest
import Optimizers
import Tensors

final class CautiousTests: XCTestCase {
    // §4 C-AdamW inputs.
    let adamG1: [Float] = [0.5, -0.2, 0.3, 1], adamG2: [Float] = [-0.3, -0.1, 0.2, 1]
    // §4 C-Lion inputs.
    let lionG1: [Float] = [1, 1, -1], lionG2: [Float] = [-0.05, 1, -1]

    func testAllAgreeingMaskIsBitIdenticalToAdamW() throws {
        // Every gradient coordinate keeps its sign over the steps, so m·g > 0 everywhere and the
        // mean scale is 1/max(1, 1e-3) = 1 exactly: same bits as AdamW, including decay.
        let n = 37
        let t0 = (0..<n).map { Float($0) * 0.03 - 0.5 }
        let sign = (0..<n).map { $0 % 3 == 0 ? Float(-1) : 1 }
        let adam = try RuleHarness(AdamW(), theta: t0, shape: [37], weightDecay: 0.1)
        let cautious = try RuleHarness(Cautious(AdamW()), theta: t0, shape: [37], weightDecay: 0.1)
        for step in 1...6 {
            let g = (0..<n).map { sign[$0] * (0.01 + Float(($0 * 13 + step * 5) % 11) * 0.1) }
            let a = try adam.run(g, lr: 0.01), c = try cautious.run(g, lr: 0.01)
            XCTAssertEqual(c, a, "step \(step)")
            XCTAssertEqual(cautious.optimizer.metrics.values.first { $0.0 == "caution_kept" }?.1, 1)
        }
        XCTAssertEqual(cautious.buffer("exp_avg"), adam.buffer("exp_avg"))
        XCTAssertEqual(cautious.buffer("exp_avg_sq"), adam.buffer("exp_avg_sq"))
    }

    func testAdamWReferenceForTheCautiousVector() throws {
        let h = try RuleHarness(AdamW(), theta: [0, 0, 0, 0], shape: [4])
        assertClose(try h.run(adamG1, lr: 0.1), [-0.1, 0.1, -0.1, -0.1], rel: 1e-6)
        assertClose(try h.run(adamG2, lr: 0.1), [-0.1191498, 0.19321795, -0.19703521, -0.2], rel: 2e-6)
    }

    func testCAdamWMeanNormalisationMatchesSpecVector() throws {
        // Step 2: φ = [0, 1, 1, 1], s = [0, 4/3, 4/3, 4/3].
        let h = try RuleHarness(Cautious(AdamW(), normalisation: .mean), theta: [0, 0, 0, 0], shape: [4])
        assertClose(try h.run(adamG1, lr: 0.1), [-0.1, 0.1, -0.1, -0.1], rel: 1e-6)
        assertClose(try h.run(adamG2, lr: 0.1), [-0.1, 0.22429061, -0.22938028, -0.23333333], rel: 2e-6)
        XCTAssertEqual(h.optimizer.metrics.values.first { $0.0 == "caution_kept" }?.1 ?? -1, 0.75, accuracy: 1e-12)
    }

    func testCAdamWLegacyNormalisationMatchesSpecVector() throws {
        // φ·d/(nnz + 1): step 1 scales by 4/5, step 2 by 4/4.
        let h = try RuleHarness(Cautious(AdamW(), normalisation: .legacy), theta: [0, 0, 0, 0], shape: [4])
        assertClose(try h.run(adamG1, lr: 0.1), [-0.08, 0.08, -0.08, -0.08], rel: 1e-6)
        assertClose(try h.run(adamG2, lr: 0.1), [-0.08, 0.17321795, -0.17703521, -0.18], rel: 2e-6)
    }

    func testCLionMeanNormalisationMatchesSpecVector() throws {
        let lion = try RuleHarness(Lion(beta1: 0.9, beta2: 0.99), theta: [0, 0, 0], shape: [3])
        try lion.run(lionG1, lr: 0.1)
        assertClose(try lion.run(lionG2, lr: 0.1), [-0.2, -0.2, 0.2], rel: 1e-6)
        // Step 2: u = [+1, −1, +1], coordinate 0 disagrees with g = −0.05; s = [0, 1.5, 1.5].
        let h = try RuleHarness(Cautious(Lion(beta1: 0.9, beta2: 0.99)), theta: [0, 0, 0], shape: [3])
        assertClose(try h.run(lionG1, lr: 0.1), [-0.1, -0.1, 0.1], rel: 1e-6)
        assertClose(try h.run(lionG2, lr: 0.1), [-0.1, -0.25, 0.25], rel: 1e-6)
    }

    func testCLionLegacyNormalisationMatchesSpecVector() throws {
        let h = try RuleHarness(Cautious(Lion(beta1: 0.9, beta2: 0.99), normalisation: .legacy), theta: [0, 0, 0], shape: [3])
        assertClose(try h.run(lionG1, lr: 0.1), [-0.075, -0.075, 0.075], rel: 1e-6)
        assertClose(try h.run(lionG2, lr: 0.1), [-0.075, -0.175, 0.175], rel: 1e-6)
    }

    func testMaskDoesNotTouchMoments() throws {
        // Sign-flipping gradients make the masks partial; the moments must still be AdamW's bit for bit.
        let n = 24
        let adam = try RuleHarness(AdamW(), theta: [Float](repeating: 0.2, count: n), shape: [4, 6])
        let cautious = try RuleHarness(Cautious(AdamW()), theta: [Float](repeating: 0.2, count: n), shape: [4, 6])
        var partial = false
        for step in 1...5 {
            let g = (0..<n).map { i in Float((i * 5 + step * 7) % 9) * 0.1 - 0.4 }
            let a = try adam.run(g, lr: 0.01), c = try cautious.run(g, lr: 0.01)
            if a != c { partial = true }
            XCTAssertEqual(cautious.buffer("exp_avg"), adam.buffer("exp_avg"), "step \(step)")
            XCTAssertEqual(cautious.buffer("exp_avg_sq"), adam.buffer("exp_avg_sq"), "step \(step)")
        }
        XCTAssertTrue(partial, "the sequence should make the mask bite")
        // Lion's momentum likewise.
        let lion = try RuleHarness(Lion(), theta: [0, 0, 0], shape: [3])
        let clion = try RuleHarness(Cautious(Lion()), theta: [0, 0, 0], shape: [3])
        for g in [lionG1, lionG2, [0.3, -2, 0.5]] {
            try lion.run(g, lr: 0.1)
            try clion.run(g, lr: 0.1)
            XCTAssertEqual(clion.buffer("exp_avg"), lion.buffer("exp_avg"))
        }
    }

    func testAllDisagreeTensorGivesZeroUpdateButFiniteAndKeepsDecay() throws {
        // m2 = 0.09 > 0 while g2 < 0 everywhere: mean φ = 0, the clamp keeps the scale finite,
        // and only the decay θ ← θ(1 − ηλ) acts.
        for norm in [Cautious.Normalisation.mean, .legacy] {
            for inner in [AdamW() as UpdateRule, Lion()] {
                let h = try RuleHarness(Cautious(inner, normalisation: norm), theta: [0.5, -1, 2], shape: [3], weightDecay: 0.2)
                let t1 = try h.run([1, 1, 1], lr: 0.1)
                let t2 = try h.run([-0.01, -0.01, -0.01], lr: 0.1)
                XCTAssertTrue(t2.allSatisfy { $0.isFinite })
                assertClose(t2, t1.map { Double($0) * (1 - 0.1 * 0.2) }, rel: 1e-6)
                XCTAssertEqual(h.optimizer.metrics.values.first { $0.0 == "caution_kept" }?.1, 0, "\(norm) \(inner.summary)")
            }
        }
    }

    func testKeptFractionIsExactOnTensorSpanningSeveralChunks() throws {
        // 100 003 entries (several 2^15 chunks); at step 2 every 7th coordinate disagrees
        // (u = sign(0.009 − 0.005) = +1 against g = −0.05): mean φ = 85 716/100 003.
        let n = 100_003, disagree = (n + 6) / 7
        let h = try RuleHarness(Cautious(Lion()), theta: [Float](repeating: 0, count: n), shape: [n])
        try h.run([Float](repeating: 1, count: n), lr: 0.1)
        let t2 = try h.run((0..<n).map { $0 % 7 == 0 ? -0.05 : 1 }, lr: 0.1)
        let kept = Double(n - disagree) / Double(n)
        XCTAssertEqual(h.optimizer.metrics.values.first { $0.0 == "caution_kept" }?.1 ?? -1, kept, accuracy: 1e-12)
        XCTAssertEqual(Double(t2[0]), -0.1, accuracy: 1e-7)
        XCTAssertEqual(Double(t2[1]), -0.1 - 0.1 / kept, accuracy: 1e-6)
        XCTAssertEqual(Double(t2[n - 1]), -0.1, accuracy: 1e-7)  // 100 002 = 7·14 286: masked
    }

    func testStateIsTheInnerRulesState() throws {
        let p = info("w", [5, 7])
        XCTAssertEqual(Cautious(AdamW()).stateBytesFormula(for: p), 2 * 4 * 35)
        XCTAssertEqual(Cautious(Lion()).stateBytesFormula(for: p), 4 * 35)
        let h = try RuleHarness(Cautious(AdamW()), theta: [Float](repeating: 0, count: 35), shape: [5, 7])
        try h.run([Float](repeating: 0.1, count: 35), lr: 0.1)
        XCTAssertEqual(h.optimizer.stateBytes, 2 * 4 * 35)
        XCTAssertEqual(h.optimizer.stateBytes, h.optimizer.stateBytesFormula)
    }
}
