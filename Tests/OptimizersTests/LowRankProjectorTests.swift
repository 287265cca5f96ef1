// LowRankProjector (optimizers-lowrank.md §0.2 side rule, §1.3 shapes and rank cap, §1.7.1
// orthonormal SVD projector with canonical signs, §3.3/§3.7.4–5 seeded Gaussian projector),
// plus the helpers the GaLore, Fira and APOLLO tests share.
import XCTest
import LlamaModel
import Optimizers
import Tensors

// MARK: - Shared helpers (GaLoreTests, FiraTests, APOLLOTests)

/// A low-rank core with β (0.9, 0.999), ε 1e-6. LowRankAdam has no public initializer, so the
/// core comes from the catalog's GaLore plan (over no parameters) and its public fields are set.
func lrCore(_ kind: LowRankProjector.Kind, rank: Int, gap: Int = 1000, projType: LowRankProjector.ProjType = .std,
            fixed: [Float]? = nil, bits: Int = 32) throws -> LowRankAdam {
    let config = try OptimizerConfig(descriptor: GaLore.descriptor, settings: OptimizerSettings(name: "galore"))
    let model = ModelDescription(hiddenSize: 8, heads: 2, layers: 1, vocabSize: 16, intermediateSize: 16)
    var core = (try GaLore.descriptor.plan(config, model, [])[0].rule as! GaLore).core
    core.projector = LowRankProjector(kind: kind, projType: projType, rank: rank)
    core.projector.fixed = fixed
    core.updateGap = gap
    core.beta1 = 0.9
    core.beta2 = 0.999
    core.eps = 1e-6
    core.stateBits = bits
    return core
}

/// Seeded standard normals.
func lrGaussian(_ count: Int, seed: UInt64) -> [Float] {
    var rng = RandomGenerator(seed: seed)
    var out = [Float](repeating: 0, count: count)
    out.withUnsafeMutableBufferPointer { rng.fillNormal($0) }
    return out
}

/// Row-major [m, k] · [k, n] in Double.
func lrMatmul(_ a: [Double], _ b: [Double], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m { for l in 0..<k { for j in 0..<n { c[i * n + j] += a[i * k + l] * b[l * n + j] } } }
    return c
}

func lrTransposed(_ a: [Double], _ m: Int, _ n: Int) -> [Double] {
    (0..<(n * m)).map { a[($0 % m) * n + $0 / m] }
}

func lrDouble(_ a: [Float]) -> [Double] { a.map(Double.init) }

/// A non-finite gradient leaves θ, every state buffer and the update count as they were, and
/// is reported as an event naming the parameter (no trap, no throw), even with weight decay.
func lrAssertNaNGradientSkipped(_ rule: UpdateRule, file: StaticString = #filePath, line: UInt = #line) throws {
    let name = "model.layers.0.self_attn.q_proj.weight"
    let h = try RuleHarness(rule, theta: lrGaussian(24, seed: 3), shape: [6, 4], weightDecay: 0.1, placement: .after,
                            name: name, role: .attentionQuery)
    try h.run(lrGaussian(24, seed: 4), lr: 0.01)
    let theta = h.theta.array
    let buffers = h.state.buffers.keys.sorted().map { h.buffer($0) }
    var g = lrGaussian(24, seed: 5)
    g[7] = .nan
    XCTAssertNoThrow(try h.run(g, lr: 0.01), file: file, line: line)
    XCTAssertEqual(h.theta.array, theta, "θ untouched", file: file, line: line)
    XCTAssertEqual(h.state.buffers.keys.sorted().map { h.buffer($0) }, buffers, "state untouched", file: file, line: line)
    XCTAssertEqual(h.state.updates, 1, file: file, line: line)
    XCTAssertTrue(h.optimizer.metrics.events.contains { $0.contains(name) && $0.contains("not finite") },
                  "\(h.optimizer.metrics.events)", file: file, line: line)
    // The next finite gradient updates again, as update 2.
    try h.run(lrGaussian(24, seed: 6), lr: 0.01)
    XCTAssertEqual(h.state.updates, 2, file: file, line: line)
    XCTAssertNotEqual(h.theta.array, theta, file: file, line: line)
}

// MARK: - Projector tests

final class LowRankProjectorTests: XCTestCase {
    func testSideRuleForEachProjType() {
        func sides(_ t: LowRankProjector.ProjType) -> [LowRankProjector.Side] {
            let p = LowRankProjector(kind: .svd, projType: t, rank: 2)
            return [p.side(rows: 6, cols: 4), p.side(rows: 4, cols: 6), p.side(rows: 5, cols: 5)]
        }
        XCTAssertEqual(sides(.std), [.right, .left, .right], "tall, wide, square (square → right)")
        XCTAssertEqual(sides(.reverseStd), [.left, .right, .left])
        XCTAssertEqual(sides(.right), [.right, .right, .right])
        XCTAssertEqual(sides(.left), [.left, .left, .left])
        XCTAssertEqual(LowRankProjector.ProjType(rawValue: "reverse_std"), .reverseStd)
    }

    func testShapesAndRankCapForSVDButNotRandom() {
        let svd = LowRankProjector(kind: .svd, rank: 2)
        XCTAssertEqual(svd.projectorShape(rows: 6, cols: 4), [2, 4])   // right: P [r, n]
        XCTAssertEqual(svd.lowRankShape(rows: 6, cols: 4), [6, 2])     // R [m, r]
        XCTAssertEqual(svd.projectorShape(rows: 4, cols: 6), [4, 2])   // left: P [m, r]
        XCTAssertEqual(svd.lowRankShape(rows: 4, cols: 6), [2, 6])     // R [r, n]
        let big = LowRankProjector(kind: .svd, rank: 10)
        XCTAssertEqual(big.effectiveRank(rows: 6, cols: 4), 4)
        XCTAssertEqual(big.effectiveRank(rows: 4, cols: 6), 4)
        XCTAssertEqual(big.projectorShape(rows: 6, cols: 4), [4, 4])
        XCTAssertEqual(LowRankProjector(kind: .svd, projType: .reverseStd, rank: 10).effectiveRank(rows: 6, cols: 4), 6,
                       "capped by the compressed dimension, here m")
        let random = LowRankProjector(kind: .random, rank: 10)
        XCTAssertEqual(random.effectiveRank(rows: 6, cols: 4), 10)
        XCTAssertEqual(random.projectorShape(rows: 6, cols: 4), [10, 4])
        XCTAssertEqual(random.lowRankShape(rows: 4, cols: 6), [10, 6])
    }

    private func svdP(_ proj: LowRankProjector, _ g: [Float], _ m: Int, _ n: Int) throws -> Tensor {
        let p = Tensor(uninitializedShape: proj.projectorShape(rows: m, cols: n))
        try proj.svdProjector(of: Tensor(shape: [m, n], values: g), into: p)
        return p
    }

    func testSVDProjectorIsOrthonormalWithCanonicalSigns() throws {
        let proj = LowRankProjector(kind: .svd, rank: 4)
        for (m, n) in [(12, 7), (7, 12)] {
            let g = lrGaussian(m * n, seed: UInt64(m))
            let p = try svdP(proj, g, m, n)
            let right = m >= n
            let d = right ? n : m  // length of each singular vector
            let pd = lrDouble(p.array)
            // Vectors as rows: right P [4, n] itself, left Pᵀ.
            let vecs = right ? pd : lrTransposed(pd, m, 4)
            let gram = lrMatmul(vecs, lrTransposed(vecs, 4, d), 4, d, 4)
            for i in 0..<4 { for j in 0..<4 { XCTAssertEqual(gram[i * 4 + j], i == j ? 1 : 0, accuracy: 1e-5, "\(m)×\(n) (\(i), \(j))") } }
            for i in 0..<4 {
                let v = vecs[(i * d)..<((i + 1) * d)]
                XCTAssertGreaterThan(v.max(by: { abs($0) < abs($1) })!, 0, "largest-magnitude entry of vector \(i) positive")
            }
            // −G has the same singular vectors up to sign: the canonical P is the same.
            assertClose(try svdP(proj, g.map { -$0 }, m, n).array, pd, rel: 0, abs: 1e-6)
        }
    }

    func testExactRankRMatrixIsReconstructedBySVDProjector() throws {
        for (m, n, r) in [(10, 6, 2), (6, 10, 3), (8, 8, 3)] {
            let a = lrDouble(lrGaussian(m * r, seed: 1)), b = lrDouble(lrGaussian(r * n, seed: 2))
            let gd = lrMatmul(a, b, m, r, n)
            let g = Tensor(shape: [m, n], values: gd.map(Float.init))
            let proj = LowRankProjector(kind: .svd, rank: r)
            let p = try svdP(proj, g.array, m, n)
            let low = Tensor(uninitializedShape: proj.lowRankShape(rows: m, cols: n))
            proj.project(g, p, into: low)
            let back = Tensor(uninitializedShape: [m, n])
            proj.back(low, p, rows: m, cols: n, into: back)
            assertClose(back.array, g.array.map(Double.init), rel: 1e-5, abs: 1e-5)
            // One rank less does not reconstruct it.
            let short = LowRankProjector(kind: .svd, rank: r - 1)
            let p1 = try svdP(short, g.array, m, n)
            let low1 = Tensor(uninitializedShape: short.lowRankShape(rows: m, cols: n)), back1 = Tensor(uninitializedShape: [m, n])
            short.project(g, p1, into: low1)
            short.back(low1, p1, rows: m, cols: n, into: back1)
            XCTAssertGreaterThan(zip(back1.array, g.array).map { abs($0 - $1) }.max()!, 0.01)
        }
    }

    private func randomP(_ proj: LowRankProjector, seed: UInt64, parameter: Int, refresh: Int, m: Int = 40, n: Int = 30) -> [Float] {
        let p = Tensor(uninitializedShape: proj.projectorShape(rows: m, cols: n))
        proj.randomProjector(seed: seed, parameter: parameter, refresh: refresh, into: p)
        return p.array
    }

    func testRandomProjectorIsKeyedBySeedParameterAndRefresh() {
        let proj = LowRankProjector(kind: .random, rank: 3)
        let base = randomP(proj, seed: 7, parameter: 2, refresh: 5)
        XCTAssertEqual(base.count, 90)
        XCTAssertEqual(randomP(proj, seed: 7, parameter: 2, refresh: 5), base, "regenerated bit-identically")
        XCTAssertTrue(base.allSatisfy { $0.isFinite } && Set(base).count == 90)
        for (label, other) in [("refresh", randomP(proj, seed: 7, parameter: 2, refresh: 6)),
                               ("parameter", randomP(proj, seed: 7, parameter: 3, refresh: 5)),
                               ("seed", randomP(proj, seed: 8, parameter: 2, refresh: 5))] {
            XCTAssertEqual(zip(other, base).filter { $0 == $1 }.count, 0, "another \(label) gives another P")
        }
        // An injected P replaces the draw.
        var fixed = proj
        fixed.fixed = (0..<90).map { Float($0) }
        XCTAssertEqual(randomP(fixed, seed: 7, parameter: 2, refresh: 5), (0..<90).map { Float($0) })
    }

    func testRandomProjectionStatistics() {
        // §3.7.4: ≥ 10⁴ entries of N(0, 1/r): mean within 3/√(count·r), variance within 5% of 1/r.
        for (r, seed, refresh) in [(8, UInt64(0), 0), (4, UInt64(123), 3)] {
            let proj = LowRankProjector(kind: .random, rank: r)
            let p = randomP(proj, seed: seed, parameter: 1, refresh: refresh, m: 4096, n: 3000)
            XCTAssertEqual(p.count, r * 3000)
            let count = Double(p.count)
            let mean = p.reduce(0.0) { $0 + Double($1) } / count
            let variance = p.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (count - 1)
            XCTAssertLessThan(abs(mean), 3 / (count * Double(r)).squareRoot(), "r \(r)")
            XCTAssertEqual(variance, 1 / Double(r), accuracy: 0.05 / Double(r), "r \(r)")
        }
    }
}
