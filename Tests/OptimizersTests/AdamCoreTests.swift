// AdamCoreTests: the two Adam kernels of AdamCore — torch (optimizers-elementwise-zo.md §1.1,
// ε after the bias correction, lrFactor 1/bc1) and hf (optimizers-lowrank.md §0.3, ε on the raw
// √v, lrFactor c_t = √bc2/bc1) — against hand formulas, and the SIMD path against the scalar tail.
import XCTest
import Optimizers
import Tensors

final class AdamCoreTests: XCTestCase {
    /// Runs AdamCore.update on copies; returns (m, v, d).
    private func run(_ style: AdamCore.Style, g: [Float], m: [Float], v: [Float], beta1: Double = 0.9,
                     beta2: Double = 0.999, eps: Double = 1e-8, t: Int) -> ([Float], [Float], [Float]) {
        var m = m, v = v, d = [Float](repeating: .nan, count: g.count)
        AdamCore.update(style: style, grad: g, m: &m, v: &v, direction: &d, count: g.count,
                        beta1: beta1, beta2: beta2, eps: eps, t: t)
        return (m, v, d)
    }

    func testHFLrFactorIsCtOfSection03() {
        let expected: [(Int, Double)] = [(1, 0.3162278), (2, 0.2353167), (3, 0.2020106), (10, 0.1531891),
                                         (100, 0.3085659), (1000, 0.7951758), (5000, 0.9966338)]
        for (t, c) in expected {
            XCTAssertEqual(AdamCore.lrFactor(style: .hf, beta1: 0.9, beta2: 0.999, t: t), c, accuracy: 1e-7, "t = \(t)")
        }
    }

    func testTorchLrFactorIsInverseOfFirstBiasCorrection() {
        XCTAssertEqual(AdamCore.lrFactor(style: .torch, beta1: 0.9, beta2: 0.999, t: 1), 10, accuracy: 1e-12)
        XCTAssertEqual(AdamCore.lrFactor(style: .torch, beta1: 0.9, beta2: 0.999, t: 2), 1 / 0.19, accuracy: 1e-12)
        for t in [3, 10, 100, 1000] {
            XCTAssertEqual(AdamCore.lrFactor(style: .torch, beta1: 0.9, beta2: 0.95, t: t), 1 / (1 - pow(0.9, Double(t))), accuracy: 1e-12)
        }
        XCTAssertEqual(AdamCore.biasCorrection(0.999, 1000), 0.6323045752290363, accuracy: 1e-12)
    }

    func testEpsilonPlacementFirstStepValues() {
        // g = 1e-3, ε = 1e-3, t = 1: m = 1e-4, v = 1e-9.
        // torch: d = m/(√v/√bc2 + ε) = 1e-4/2e-3 = 0.05, times 1/bc1 = 10 → 0.5.
        let torch = run(.torch, g: [1e-3], m: [0], v: [0], eps: 1e-3, t: 1)
        assertClose(torch.0, [1e-4], rel: 1e-6)
        assertClose(torch.1, [1e-9], rel: 1e-5)
        assertClose(torch.2, [0.05], rel: 1e-5)
        // hf: d = m/(√v + ε) = 1e-4/(3.1622777e-5 + 1e-3) = 0.09693465, times c_1 → 0.03065343.
        let hf = run(.hf, g: [1e-3], m: [0], v: [0], eps: 1e-3, t: 1)
        assertClose(hf.2, [0.09693465], rel: 1e-5)
        XCTAssertEqual(Double(hf.2[0]) * AdamCore.lrFactor(style: .hf, beta1: 0.9, beta2: 0.999, t: 1), 0.03065343, accuracy: 1e-7)
    }

    func testTorchAndHFDirectionsMatchHandFormulas() {
        // Non-zero starting moments at t = 3, β = (0.8, 0.99), ε = 1e-3 so the placement matters.
        let g: [Float] = [0.5, -1, 0.25, 0, 2, -0.003]
        let m0: [Float] = [0.1, 0.2, -0.3, 0.05, 0, -0.001]
        let v0: [Float] = [0.01, 0.04, 0.09, 0.0025, 0, 1e-6]
        let b1 = 0.8, b2 = 0.99, eps = 1e-3, t = 3
        let bc2 = 1 - pow(b2, Double(t))
        let m = zip(m0, g).map { b1 * Double($0) + (1 - b1) * Double($1) }
        let v = zip(v0, g).map { b2 * Double($0) + (1 - b2) * Double($1) * Double($1) }
        let dTorch = zip(m, v).map { $0 / ($1.squareRoot() / bc2.squareRoot() + eps) }
        let dHF = zip(m, v).map { $0 / ($1.squareRoot() + eps) }
        for (style, expected) in [(AdamCore.Style.torch, dTorch), (.hf, dHF)] {
            let r = run(style, g: g, m: m0, v: v0, beta1: b1, beta2: b2, eps: eps, t: t)
            assertClose(r.0, m, rel: 1e-6, abs: 1e-9)
            assertClose(r.1, v, rel: 1e-6, abs: 1e-12)
            assertClose(r.2, expected, rel: 2e-6, abs: 1e-9)
        }
        // Spot values (hand-computed, up to the Float inputs): element 0 has m = 0.18, v = 0.0124.
        XCTAssertEqual(m[0], 0.18, accuracy: 1e-7)
        XCTAssertEqual(v[0], 0.0124, accuracy: 1e-8)
        XCTAssertEqual(dHF[0], 0.18 / (0.0124.squareRoot() + 1e-3), accuracy: 1e-6)
        // Element 4 starts from zero state: torch divides √v by √bc2 (0.172), so its d is ≈ 5.8× smaller.
        XCTAssertEqual(dHF[4] / dTorch[4], (0.2 / bc2.squareRoot() + 1e-3) / 0.201, accuracy: 1e-9)
        XCTAssertGreaterThan(dHF[4] / dTorch[4], 5)
    }

    func testSIMDPathAndScalarTailAgree() {
        // 64 values run entirely in 8-lane blocks; element-by-element (count 1) runs the scalar
        // tail; 13 mixes both (8 + 5). All three give bit-identical m, v and d.
        var g = [Float](repeating: 0, count: 64), m0 = g, v0 = g
        g.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: 1, key: 1) }
        m0.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: 1, key: 2, std: 0.1) }
        v0.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: 1, key: 3) }
        v0 = v0.map { $0 * $0 * 0.01 }
        for style in [AdamCore.Style.torch, .hf] {
            let all = run(style, g: g, m: m0, v: v0, eps: 1e-6, t: 7)
            let head = run(style, g: Array(g[..<13]), m: Array(m0[..<13]), v: Array(v0[..<13]), eps: 1e-6, t: 7)
            for i in 0..<64 {
                let one = run(style, g: [g[i]], m: [m0[i]], v: [v0[i]], eps: 1e-6, t: 7)
                XCTAssertEqual(all.0[i], one.0[0], "\(style) m[\(i)]")
                XCTAssertEqual(all.1[i], one.1[0], "\(style) v[\(i)]")
                XCTAssertEqual(all.2[i], one.2[0], "\(style) d[\(i)]")
                if i < 13 {
                    XCTAssertEqual(head.2[i], one.2[0], "\(style) d[\(i)] of 13")
                    XCTAssertEqual(head.0[i], one.0[0], "\(style) m[\(i)] of 13")
                }
            }
        }
    }

    func testZeroGradientAndZeroStateGiveZeroDirection() {
        for style in [AdamCore.Style.torch, .hf] {
            let r = run(style, g: [Float](repeating: 0, count: 13), m: [Float](repeating: 0, count: 13),
                        v: [Float](repeating: 0, count: 13), t: 1)
            XCTAssertEqual(r.2, [Float](repeating: 0, count: 13))
        }
    }
}
