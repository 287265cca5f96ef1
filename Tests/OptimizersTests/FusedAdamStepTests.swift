// FusedAdamStepTests: the one-pass AdamW step (moments and weight together) against the
// two-pass path it replaces (AdamCore.update writing d, then ApplyUpdate.apply), bit for bit,
// for both Adam cores, both decay placements, with and without decay, over several threads'
// ranges and a scalar tail; and its finiteness report.
import XCTest
import LlamaModel
import Optimizers
import Tensors

final class FusedAdamStepTests: XCTestCase {
    private struct Values: Equatable { var m, v, theta: [Float] }

    private func inputs(_ count: Int, seed: UInt64) -> (g: [Float], m: [Float], v: [Float], theta: [Float]) {
        var rng = RandomGenerator(seed: seed)
        let g = Tensor.randn([count], std: 0.3, rng: &rng).array
        let m = Tensor.randn([count], std: 0.1, rng: &rng).array
        let v = Tensor.randn([count], std: 0.01, rng: &rng).array.map { $0 * $0 }
        let theta = Tensor.randn([count], std: 0.02, rng: &rng).array
        return (g, m, v, theta)
    }

    private func twoPass(_ style: AdamCore.Style, _ x: (g: [Float], m: [Float], v: [Float], theta: [Float]), t: Int,
                         step: Float, decay: Float, placement: DecayPlacement) -> Values {
        var m = x.m, v = x.v
        let d = Tensor(uninitializedShape: [x.g.count])
        AdamCore.update(style: style, grad: x.g, m: &m, v: &v, direction: d.pointer, count: x.g.count,
                        beta1: 0.9, beta2: 0.95, eps: 1e-8, t: t)
        let theta = Tensor(shape: [x.theta.count], values: x.theta)
        ApplyUpdate.apply(theta: theta, direction: d, step: step, decay: decay, placement: placement)
        return Values(m: m, v: v, theta: theta.array)
    }

    private func fused(_ style: AdamCore.Style, _ x: (g: [Float], m: [Float], v: [Float], theta: [Float]), t: Int,
                       step: Float, decay: Float, placement: DecayPlacement) -> (Values, Bool) {
        var m = x.m, v = x.v, theta = x.theta
        let finite = x.g.withUnsafeBufferPointer { g in
            m.withUnsafeMutableBufferPointer { m in
                v.withUnsafeMutableBufferPointer { v in
                    theta.withUnsafeMutableBufferPointer { th in
                        FusedAdamStep.runAll([FusedAdamStep(style: style, grad: g.baseAddress!, m: m.baseAddress!, v: v.baseAddress!,
                                      theta: th.baseAddress!, count: g.count, beta1: 0.9, beta2: 0.95, eps: 1e-8, t: t,
                                      step: step, decay: decay, placement: placement)]) == nil
                    }
                }
            }
        }
        return (Values(m: m, v: v, theta: theta), finite)
    }

    func testBitwiseEqualToDirectionThenApply() {
        let saved = Parallel.threads
        defer { Parallel.setThreads(saved) }
        // 100_003 values: several 32 Ki-value ranges on 2+ threads, and a 3-value scalar tail.
        let x = inputs(100_003, seed: 7)
        for threads in [1, 2, 3] {
            Parallel.setThreads(threads)
            for style in [AdamCore.Style.torch, .hf] {
                for placement in [DecayPlacement.before, .after] {
                    for decay: Float in [0, 1e-3] {
                        for t in [1, 7] {
                            let want = twoPass(style, x, t: t, step: 3e-3, decay: decay, placement: placement)
                            let (got, finite) = fused(style, x, t: t, step: 3e-3, decay: decay, placement: placement)
                            XCTAssertTrue(finite)
                            XCTAssertTrue(got == want, "\(style) \(placement) decay \(decay) t \(t) threads \(threads): differs from the two-pass step")
                            XCTAssertNotEqual(got.theta, x.theta, "the weight moved")
                        }
                    }
                }
            }
        }
    }

    func testReportsANonFiniteDirection() {
        var x = inputs(40_000, seed: 9)
        x.g[39_999] = .infinity   // in the last range's SIMD part or tail, whatever the split
        XCTAssertFalse(fused(.torch, x, t: 1, step: 1e-3, decay: 0, placement: .before).1)
        x = inputs(13, seed: 9)
        x.g[12] = .nan            // the scalar tail
        XCTAssertFalse(fused(.hf, x, t: 2, step: 1e-3, decay: 0.1, placement: .after).1)
        XCTAssertTrue(fused(.hf, inputs(13, seed: 9), t: 2, step: 1e-3, decay: 0.1, placement: .after).1)
    }

    /// A whole `Optimizer` step of 32-bit AdamW (which takes the one-pass path) equals
    /// AdamCore's direction followed by ApplyUpdate with the step and decay the optimizer uses.
    func testOptimizerStepEqualsTheTwoPassArithmetic() throws {
        let x = inputs(5_000, seed: 11)
        let p = Tensor(shape: [50, 100], values: x.theta, requiresGrad: true)
        p.grad = Tensor(shape: [50, 100], values: x.g)
        let param = Parameter(name: "w", role: .attentionQuery, layer: 0, tensor: p)
        let rule = AdamW(beta1: 0.9, beta2: 0.95, eps: 1e-8)
        let opt = try Optimizer(name: "adamw", groups: [ParameterGroup(name: "adamw", rule: rule, parameters: [param],
                                                                        weightDecay: 0.1)],
                                modelParameters: [param])
        let zeros = [Float](repeating: 0, count: 5_000)
        let want = twoPass(.torch, (x.g, zeros, zeros, x.theta), t: 1, step: Float(1e-3 * 10.0), decay: Float(0.1 * 1e-3),
                           placement: .before)
        try opt.step(1, lr: 1e-3, seed: 0)
        XCTAssertEqual(p.array, want.theta)
    }

    /// Several parameters, large (split over the threads) and small (dealt out whole), updated
    /// together in one parallel region by `Optimizer.step`: each equals its own two-pass step,
    /// for 1 to 3 threads; a non-finite one is named in the error.
    func testOneRegionOverManyParametersMatchesEachAlone() throws {
        let saved = Parallel.threads
        defer { Parallel.setThreads(saved) }
        let sizes = [100_003, 17, 5_000, 70_000, 8]
        for threads in [1, 2, 3] {
            Parallel.setThreads(threads)
            var params: [Parameter] = [], wants: [[Float]] = []
            for (j, n) in sizes.enumerated() {
                let x = inputs(n, seed: UInt64(20 + j))
                let p = Tensor(shape: [n], values: x.theta, requiresGrad: true)
                p.grad = Tensor(shape: [n], values: x.g)
                params.append(Parameter(name: "p\(j)", role: .norm, layer: nil, tensor: p))
                let zeros = [Float](repeating: 0, count: n)
                wants.append(twoPass(.torch, (x.g, zeros, zeros, x.theta), t: 1, step: Float(2e-3 * 10.0),
                                     decay: Float(0.01 * 2e-3), placement: .before).theta)
            }
            let opt = try Optimizer(name: "adamw", groups: [ParameterGroup(name: "adamw", rule: AdamW(beta1: 0.9, beta2: 0.95, eps: 1e-8),
                                                                            parameters: params, weightDecay: 0.01)],
                                    modelParameters: params)
            try opt.step(1, lr: 2e-3, seed: 0)
            for (p, want) in zip(params, wants) { XCTAssertEqual(p.tensor.array, want, "\(p.name), \(threads) threads") }
            params[3].tensor.grad!.pointer[69_999] = .nan
            XCTAssertThrowsError(try opt.step(2, lr: 2e-3, seed: 0)) { e in
                XCTAssertTrue("\(e)".contains("p3: the adamw update is not finite"), "\(e)")
            }
        }
    }
}
