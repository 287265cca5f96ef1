// Alice and Alice-0 through the real optimizer path (optimizers-lowrank.md §5.2 orientation,
// §5.3 memory, §5.4–5.5 update and switch, tests §5.8 items 1 and 3–7, §8 items 6–9, §9.4 the
// pytorch-optimizer profile): basis, compensation, the full example, schedule, resume, NaN.
import XCTest
import Optimizers
import Tensors

private func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

/// Every state buffer, copied as a checkpoint holds it.
private func saved(_ o: Optimizer) -> [String: SavedBuffer] {
    var out: [String: SavedBuffer] = [:]
    for (name, b) in o.stateBuffers() {
        switch b {
        case .u8(let bytes): out[name] = .u8(shape: bytes.shape, bytes: bytes.array)
        case .f32(let t): out[name] = .f32(t.clone())
        }
    }
    return out
}

final class AliceTests: XCTestCase {
    private let a = 12, b = 20, r = 6, l = 2

    private func gradient(_ k: Int, scale: Float = 1) -> [Float] { lrGaussian(12 * 20, seed: UInt64(300 + k)).map { $0 * scale } }

    /// The subspace part U·Ω [a, b] from the stored basis and moments (Ω = M/(√V + ε)).
    private func subspacePart(_ h: RuleHarness, a: Int, b: Int, r: Int, eps: Double = 1e-8) -> [Double] {
        let omega = zip(h.buffer("exp_avg"), h.buffer("exp_avg_sq")).map { Double($0) / (Double($1).squareRoot() + eps) }
        return lrMatmul(lrDouble(h.buffer("basis")), omega, a, r, b)
    }

    private func refreshed(_ h: RuleHarness) -> Bool { h.optimizer.metrics.values.contains { $0.0 == "refreshes" && $0.1 == 1 } }

    func testBasisIsOrthonormalAfterEverySwitchAndLeadsWithRitzVectors() throws {
        // §5.8 test 1, 12×20, r 6, l 2, K 2: UᵀU = I; the first l columns are the top Ritz vectors
        // (in span(Q·U_prev), UᵀQU diagonal and descending there), the other r − l lie outside it.
        let (a, b, r, l) = (self.a, self.b, self.r, self.l)
        let h = try RuleHarness(Alice(rank: r, leading: l, updateGap: 2), theta: lrGaussian(a * b, seed: 1), shape: [a, b])
        for t in 1...7 {
            let g = gradient(t), gd = lrDouble(g)
            let uPrev = lrDouble(h.buffer("basis")), qtPrev = lrDouble(h.buffer("tracked"))
            try h.run(g, lr: 0.01)
            let u = lrDouble(h.buffer("basis")), ut = lrTransposed(u, a, r)
            let gram = lrMatmul(ut, u, r, a, r)
            for i in 0..<r { for j in 0..<r { XCTAssertEqual(gram[i * r + j], i == j ? 1 : 0, accuracy: 1e-5, "t \(t) (\(i), \(j))") } }
            XCTAssertEqual(refreshed(h), t == 1 || t % 2 == 0, "t \(t)")
            guard t == 1 || t % 2 == 0 else { continue }
            var q = lrMatmul(gd, lrTransposed(gd, a, b), a, b, a)  // G·Gᵀ
            let span: [Double]                                      // orthonormal [a, r]: span(U')
            if t == 1 {  // §8 item 6: the top-r left singular vectors of G₁
                let (su, _, _) = try LAPACK.svd(Tensor(shape: [a, b], values: g))
                span = (0..<(a * r)).map { Double(su[($0 / r) * a + $0 % r]) }
            } else {     // one subspace-iteration step from U_prev on Q = β3·U_p·Q̃·U_pᵀ + (1−β3)·G·Gᵀ
                let old = lrMatmul(lrMatmul(uPrev, qtPrev, a, r, r), lrTransposed(uPrev, a, r), a, r, a)
                q = (0..<(a * a)).map { 0.999 * old[$0] + 0.001 * q[$0] }
                span = lrDouble(try LAPACK.qr(Tensor(shape: [a, r], values: lrMatmul(q, uPrev, a, a, r).map(Float.init))).array)
            }
            let overlap = lrMatmul(lrTransposed(span, a, r), u, r, a, r)
            for j in 0..<r {
                let inside = (0..<r).reduce(0.0) { $0 + overlap[$1 * r + j] * overlap[$1 * r + j] }
                XCTAssertEqual(inside, j < l ? 1 : 0, accuracy: 1e-4, "t \(t): column \(j) \(j < l ? "inside" : "outside") span(U')")
            }
            if t == 1 { for j in 0..<l { XCTAssertEqual(abs(overlap[j * r + j]), 1, accuracy: 1e-5, "u\(j + 1) of G₁") } }
            let ritz = lrMatmul(lrMatmul(ut, q, r, a, a), u, r, a, r)
            for i in 0..<l {
                for j in 0..<l where i != j { XCTAssertEqual(ritz[i * r + j], 0, accuracy: 1e-4 * ritz[0], "t \(t) (\(i), \(j))") }
                if i > 0 { XCTAssertGreaterThan(ritz[(i - 1) * r + i - 1], ritz[i * r + i], "t \(t) descending") }
            }
        }
    }

    func testCompensationLiesInTheComplementAndIsTheNormalisedLimitedResidual() throws {
        // §5.8 test 3 over 7 steps (refreshes at 1, 3, 6; the 8× gradient at t = 5 trips the limiter):
        // C = (d − U·Ω)/α_c from the update and the state; UᵀC = 0, ‖C‖ = φ and
        // C = ν·√(a − r)·(G − UUᵀG)_j/√p_j. With η = α = 1 and θ zeroed before each step, θ = −d exactly.
        let (a, b, r) = (self.a, self.b, self.r), alphaC = 0.4
        let h = try RuleHarness(Alice(rank: r, leading: l, updateGap: 3, alpha: 1, alphaC: alphaC),
                                theta: [Float](repeating: 0, count: a * b), shape: [a, b])
        var limitedAt: [Int] = []
        for t in 1...7 {
            let g = gradient(t, scale: t == 5 ? 8 : 1), gd = lrDouble(g)
            let phiPrev = Double(h.buffer("nl_norm")[0])
            h.theta.fillZero()
            let d = try h.run(g, lr: 1).map { -Double($0) }
            let uo = subspacePart(h, a: a, b: b, r: r)
            let c = (0..<(a * b)).map { (d[$0] - uo[$0]) / alphaC }, cNorm = norm(c)
            XCTAssertEqual(cNorm, Double(h.buffer("nl_norm")[0]), accuracy: 1e-5 * cNorm, "t \(t): φ = ‖C‖")
            let u = lrDouble(h.buffer("basis")), ut = lrTransposed(u, a, r)
            XCTAssertLessThan(norm(lrMatmul(ut, c, r, a, b)), 1e-5 * cNorm, "t \(t): UᵀC = 0")
            let uug = lrMatmul(u, lrMatmul(ut, gd, r, a, b), a, r, b), p = lrDouble(h.buffer("energy"))
            let raw = (0..<(a * b)).map { Double(a - r).squareRoot() * (gd[$0] - uug[$0]) / p[$0 % b].squareRoot() }
            let nu = cNorm / norm(raw)
            if h.optimizer.metrics.values.contains(where: { $0.0 == "limiter_activations" }) {
                limitedAt.append(t)
                XCTAssertEqual(cNorm, 1.01 * phiPrev, accuracy: 1e-5 * cNorm, "t \(t): limited to γ·φ")
            } else {
                XCTAssertEqual(nu, 1, accuracy: 1e-5, "t \(t)")
            }
            assertClose(c.map(Float.init), raw.map { $0 * nu }, rel: 1e-4, abs: 1e-5)
        }
        XCTAssertEqual(limitedAt, [5])
    }

    func testCompensationColumnNormsAtFirstStep() throws {
        // §5.8 test 4: with α_c = 1, each column of C = d − U·Ω has norm √((a − r)/(1 − β1)) = √60,
        // the limiter is inactive and φ = √(20·60).
        let (a, b, r) = (self.a, self.b, self.r)
        let h = try RuleHarness(Alice(rank: r, leading: l, updateGap: 200, alpha: 1, alphaC: 1),
                                theta: [Float](repeating: 0, count: a * b), shape: [a, b])
        let d = try h.run(gradient(1), lr: 1).map { -Double($0) }
        let uo = subspacePart(h, a: a, b: b, r: r)
        for j in 0..<b {
            let col = (0..<a).map { d[$0 * b + j] - uo[$0 * b + j] }
            XCTAssertEqual(norm(col), Double(60).squareRoot(), accuracy: 1e-4, "column \(j)")
        }
        XCTAssertFalse(h.optimizer.metrics.values.contains { $0.0 == "limiter_activations" })
        assertClose(h.buffer("nl_norm"), [Double(1200).squareRoot()], rel: 1e-5)
    }

    func testFullExampleAtFirstStepPaperAndPytorchOptimizerProfiles() throws {
        // §5.8 test 5: G = [[2, 1, 2], [1, −1, 0]], r = l = 1, β 0.9/0.9/0.999, α_c 0.4, η 0.02, α 0.3.
        let g: [Float] = [2, 1, 2, 1, -1, 0], zero = [Float](repeating: 0, count: 6)
        let rule = Alice(rank: 1, leading: 1, alpha: 0.3, alphaC: 0.4, beta1: 0.9, beta2: 0.9, beta3: 0.999)
        let h = try RuleHarness(rule, theta: zero, shape: [2, 3])
        let theta = try h.run(g, lr: 0.02)
        let sigma = [2.1193698, 0.8516331, 1.9806685]
        assertClose(h.buffer("basis"), [0.9903343, 0.1387012], rel: 1e-6)
        assertClose(h.buffer("tracked"), [0.0091401], rel: 1e-5)
        assertClose(h.buffer("exp_avg"), sigma.map { 0.1 * $0 }, rel: 1e-6)
        assertClose(h.buffer("exp_avg_sq"), sigma.map { 0.1 * $0 * $0 }, rel: 1e-5)
        assertClose(h.buffer("energy"), [0.0508272, 0.1274721, 0.0076952], rel: 2e-5)
        assertClose(h.buffer("nl_norm"), [5.4772256], rel: 1e-5)
        let update = [0.1377265, 0.4886159, 0.4886159, 1.2965460, -1.2088236, -1.2088236]
        assertClose(theta, update.map { -0.006 * $0 }, rel: 3e-6)
        // §9.4: the port starts from U = 0 → U = (1, 0)ᵀ, p floored at 1e-8 (column 3 has no residual).
        var port = rule
        port.compat = .pytorchOptimizer
        let hp = try RuleHarness(port, theta: zero, shape: [2, 3], placement: .before)
        let thetaPort = try hp.run(g, lr: 0.02)
        assertClose(hp.buffer("basis").map { abs($0) }, [1, 0], rel: 0, abs: 1e-7)
        assertClose(hp.buffer("tracked"), [0.009], rel: 1e-5)
        assertClose(hp.buffer("energy"), [0.1, 0.1, 1e-8], rel: 1e-5)
        let portUpdate = [0.3162278, 0.3162278, 0.3162278, 1.2649111, -1.2649111, 0]
        assertClose(thetaPort, portUpdate.map { -0.006 * $0 }, rel: 2e-6, abs: 1e-12)
    }

    func testAliceZeroHoldsNoTrackedStateAndDiffersOnlyFromTheFirstRefreshAtK() throws {
        // §5.8 test 6 / §5.3: β3 = 0 is Alice-0 (no Q̃, a·r + 2r·b + b + 1). Q̃ only enters the
        // refresh, so the updates equal Alice's (β3 0.999) bit for bit until t = K = 3.
        let (a, b, r, l) = (self.a, self.b, self.r, self.l)
        let zero = Alice(rank: r, leading: l, updateGap: 3, beta3: 0), full = Alice(rank: r, leading: l, updateGap: 3)
        XCTAssertTrue(zero.trackless)
        XCTAssertFalse(full.trackless)
        XCTAssertTrue(zero.summary.hasPrefix("alice-0("))
        let h0 = try RuleHarness(zero, theta: lrGaussian(a * b, seed: 1), shape: [a, b])
        let h1 = try RuleHarness(full, theta: lrGaussian(a * b, seed: 1), shape: [a, b])
        XCTAssertEqual(Set(h0.state.buffers.keys), ["basis", "exp_avg", "exp_avg_sq", "energy", "nl_norm"])
        XCTAssertEqual(Set(h1.state.buffers.keys), ["basis", "tracked", "exp_avg", "exp_avg_sq", "energy", "nl_norm"])
        XCTAssertEqual(h0.optimizer.stateBytes, 4 * (a * r + 2 * r * b + b + 1))
        XCTAssertEqual(h1.optimizer.stateBytes, 4 * (a * r + r * r + 2 * r * b + b + 1))
        for t in 1...4 {
            let x = try h0.run(gradient(t), lr: 0.01), y = try h1.run(gradient(t), lr: 0.01)
            if t < 3 {
                XCTAssertEqual(x, y, "t \(t)")
                XCTAssertEqual(h0.buffer("basis"), h1.buffer("basis"), "t \(t)")
            } else {
                XCTAssertGreaterThan(zip(h0.buffer("basis"), h1.buffer("basis")).map { abs($0 - $1) }.max()!, 1e-3, "t \(t)")
                XCTAssertNotEqual(x, y, "t \(t)")
            }
        }
    }

    func testRefreshScheduleIsOneKAndTwoK() throws {
        // §5.8 test 7 / §5.4 step 1: K = 3 over 8 updates → the basis changes at t = 1, 3, 6 only.
        let (a, b) = (self.a, self.b)
        let h = try RuleHarness(Alice(rank: r, leading: l, updateGap: 3), theta: lrGaussian(a * b, seed: 2), shape: [a, b])
        var previous = h.buffer("basis"), changedAt: [Int] = [], countedAt: [Int] = []
        XCTAssertTrue(previous.allSatisfy { $0 == 0 })
        for t in 1...8 {
            try h.run(gradient(t), lr: 0.01)
            if h.buffer("basis") != previous { changedAt.append(t) }
            if refreshed(h) { countedAt.append(t) }
            previous = h.buffer("basis")
        }
        XCTAssertEqual(changedAt, [1, 3, 6])
        XCTAssertEqual(countedAt, [1, 3, 6])
        XCTAssertEqual(h.state.updates, 8)
    }

    func testTallMatrixRunsOnItsTransposeAndTransposesTheUpdateBack() throws {
        // §5.2 / §8 item 8: G [20, 12] is projected on its 12-column side (basis [12, r]), and its
        // updates are exactly the transposes of a [12, 20] parameter fed Gᵀ (same seed, same index).
        let (a, b, r) = (self.a, self.b, self.r)
        let theta0 = lrGaussian(a * b, seed: 3)
        let wide = try RuleHarness(Alice(rank: r, leading: l, updateGap: 2), theta: theta0, shape: [a, b])
        let tall = try RuleHarness(Alice(rank: r, leading: l, updateGap: 2), theta: lrTransposed(lrDouble(theta0), a, b).map(Float.init), shape: [b, a])
        XCTAssertEqual(tall.state.buffers["basis"]?.shape, [a, r])
        XCTAssertEqual(tall.state.buffers["exp_avg"]?.shape, [r, b])
        XCTAssertEqual(tall.state.buffers["energy"]?.shape, [b])
        for t in 1...5 {
            let g = gradient(t)
            let x = try wide.run(g, lr: 0.01)
            let y = try tall.run(lrTransposed(lrDouble(g), a, b).map(Float.init), lr: 0.01)
            XCTAssertEqual(y, lrTransposed(lrDouble(x), a, b).map(Float.init), "t \(t)")
        }
        for key in ["basis", "tracked", "exp_avg", "exp_avg_sq", "energy", "nl_norm"] { XCTAssertEqual(tall.buffer(key), wide.buffer(key), key) }
    }

    func testRestoreAfterFourStepsContinuesBitIdenticallyAcrossASeededRefresh() throws {
        // §5.7: the switch draws are keyed by (seed, parameter, refresh), not stored: a restore after
        // t = 4 continues exactly through the refresh at t = 6 (K = 3, l < r: sampled columns).
        let (a, b, r) = (self.a, self.b, self.r)
        let rule = Alice(rank: r, leading: l, updateGap: 3)
        let h = try RuleHarness(rule, theta: lrGaussian(a * b, seed: 4), shape: [b, a])
        for t in 1...4 { try h.run(gradient(t), lr: 0.01) }
        let resumed = try RuleHarness(rule, theta: h.theta.array, shape: [b, a])
        try resumed.optimizer.restoreState(buffers: saved(h.optimizer), metadata: h.optimizer.stateMetadata, scalars: h.optimizer.stateScalars())
        resumed.step = 4
        XCTAssertEqual(resumed.state.updates, 4)
        let basis4 = h.buffer("basis")
        for t in 5...8 {
            XCTAssertEqual(try resumed.run(gradient(t), lr: 0.01), try h.run(gradient(t), lr: 0.01), "t \(t)")
        }
        XCTAssertNotEqual(h.buffer("basis"), basis4, "the refresh at t = 6 switched the basis")
        for key in h.state.buffers.keys.sorted() { XCTAssertEqual(resumed.buffer(key), h.buffer(key), key) }
        XCTAssertEqual(resumed.optimizer.stateScalars(), h.optimizer.stateScalars())
    }

    func testStateBytesMatchTheMemoryFormula() throws {
        // §5.3: a·r + r² + 2r·b + b + 1 after orientation (Alice-0 without r²); r capped at a; the
        // port profile does not orient (§9.4 difference 2). LLaMA-60M block, r = 128: 2,160,679 floats.
        let port: Alice = { var x = Alice(rank: 6, leading: 2); x.compat = .pytorchOptimizer; return x }()
        let cases: [(Alice, [Int], Int)] = [
            (Alice(rank: 6, leading: 2), [12, 20], 72 + 36 + 240 + 20 + 1),
            (Alice(rank: 6, leading: 2), [20, 12], 72 + 36 + 240 + 20 + 1),
            (Alice(rank: 6, leading: 2), [8, 8], 48 + 36 + 96 + 8 + 1),
            (Alice(rank: 30, leading: 5), [12, 20], 144 + 144 + 480 + 20 + 1),
            (Alice(rank: 6, leading: 2, beta3: 0), [20, 12], 72 + 240 + 20 + 1),
            (port, [20, 12], 120 + 36 + 144 + 12 + 1),
        ]
        for (rule, shape, floats) in cases {
            XCTAssertEqual(rule.stateBytesFormula(for: info("w", shape)), 4 * floats, "\(rule.summary) \(shape)")
            let h = try RuleHarness(rule, theta: lrGaussian(shape[0] * shape[1], seed: 1), shape: shape)
            try h.run(lrGaussian(shape[0] * shape[1], seed: 2), lr: 0.01)
            XCTAssertEqual(h.optimizer.stateBytes, 4 * floats, "\(rule.summary) \(shape)")
        }
        let block = [[512, 512], [512, 512], [512, 512], [512, 512], [1376, 512], [1376, 512], [512, 1376]]
        let rule = Alice(rank: 128, leading: 40)
        XCTAssertEqual(block.reduce(0) { $0 + rule.stateBytesFormula(for: info("w", $1)) }, 4 * 2_160_679)
    }

    func testNonFiniteGradientIsSkippedAndReported() throws {
        try lrAssertNaNGradientSkipped(Alice(rank: 2, leading: 1, updateGap: 3))
        try lrAssertNaNGradientSkipped(Alice(rank: 2, leading: 1, updateGap: 3, beta3: 0))
    }
}
