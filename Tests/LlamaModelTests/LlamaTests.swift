// Llama: the whole model's gradient against finite differences, the loss at initialisation,
// and that it can learn (overfit one batch).
import Foundation
import XCTest
import LlamaModel
import Tensors

final class LlamaTests: XCTestCase {
    let micro = LlamaConfig(vocabSize: 11, hiddenSize: 8, intermediateSize: 12, numHiddenLayers: 2,
                            numAttentionHeads: 2, maxPositionEmbeddings: 16)

    func batch(_ seed: UInt64, b: Int, t: Int, v: Int) -> (x: [Int32], y: [Int32]) {
        var rng = RandomGenerator(seed: seed)
        let x = (0..<(b * t)).map { _ in Int32(rng.int(below: v)) }
        let y = (0..<(b * t)).map { _ in Int32(rng.int(below: v)) }
        return (x, y)
    }

    func testParametersHaveHuggingFaceNamesAndShapes() {
        let m = Llama(config: micro, seed: 1)
        XCTAssertEqual(m.parameters.count, 2 + 9 * 2 + 1)
        XCTAssertEqual(m.parameter(named: "model.embed_tokens.weight")?.shape, [11, 8])
        XCTAssertEqual(m.parameter(named: "model.layers.1.mlp.down_proj.weight")?.shape, [8, 12])
        XCTAssertEqual(m.parameter(named: "model.layers.0.mlp.gate_proj.weight")?.shape, [12, 8])
        XCTAssertEqual(m.parameter(named: "lm_head.weight")?.shape, [11, 8])
        XCTAssertEqual(m.parameters.reduce(0) { $0 + $1.tensor.count }, micro.parameterCount)
        XCTAssertEqual(m.parameter(named: "model.norm.weight")?.tensor.array, [Float](repeating: 1, count: 8))
    }

    /// Central differences on every parameter element. Weights are drawn with std 0.5 so
    /// gradients are O(0.1); the Float32 loss (≈2.4) has rounding ≈1e-7, so with h = 1e-2 the
    /// quotient is good to ≈1e-5 absolute and truncation O(h²) ≈ 1e-4: a bound of 2e-2 of the
    /// largest gradient of each tensor leaves room for both while a wrong backward gives O(1).
    func testWholeModelGradientMatchesFiniteDifferences() {
        var rng = RandomGenerator(seed: 3)
        let model = Llama(config: micro) { shape, role in
            role == .norm ? Tensor.randn(shape, std: 0.3, mean: 1, rng: &rng) : Tensor.randn(shape, std: 0.5, rng: &rng)
        }
        let (x, y) = batch(4, b: 2, t: 5, v: 11)
        let (loss, tape) = Tape.record { model.loss(tokens: x, targets: y, batch: 2, seqLen: 5) }
        tape.backward(from: loss)
        let h: Float = 1e-2
        for p in model.parameters {
            let analytic = p.tensor.grad!.array
            var maxDiff: Float = 0, scale: Float = 1e-6
            for i in 0..<p.tensor.count {
                let saved = p.tensor[i]
                p.tensor[i] = saved + h
                let lp = Double(model.loss(tokens: x, targets: y, batch: 2, seqLen: 5).scalar)
                p.tensor[i] = saved - h
                let lm = Double(model.loss(tokens: x, targets: y, batch: 2, seqLen: 5).scalar)
                p.tensor[i] = saved
                let numeric = Float((lp - lm) / (2 * Double(h)))
                maxDiff = max(maxDiff, abs(numeric - analytic[i]))
                scale = max(scale, abs(numeric), abs(analytic[i]))
            }
            XCTAssertLessThan(maxDiff / scale, 2e-2, "\(p.name): max diff \(maxDiff), scale \(scale)")
        }
    }

    func testLossAtInitialisationIsNearLogVocab() {
        let config = LlamaConfig(vocabSize: 512, hiddenSize: 64, intermediateSize: 96, numHiddenLayers: 2,
                                 numAttentionHeads: 4, maxPositionEmbeddings: 64)
        let model = Llama(config: config, seed: 0)
        let (x, y) = batch(9, b: 4, t: 32, v: 512)
        let loss = Double(model.loss(tokens: x, targets: y, batch: 4, seqLen: 32).scalar)
        XCTAssertEqual(loss, log(512.0), accuracy: 0.02 * log(512.0))
    }

    func testMicroModelOverfitsOneRepeatedBatch() {
        let config = LlamaConfig(vocabSize: 32, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                 numAttentionHeads: 4, maxPositionEmbeddings: 32)
        let model = Llama(config: config, seed: 5)
        let (x, y) = batch(6, b: 2, t: 16, v: 32)
        // Plain Adam written out here so the test depends only on the model.
        var m = model.parameters.map { Tensor.zeros($0.shape) }, v = model.parameters.map { Tensor.zeros($0.shape) }
        var last: Float = .infinity
        for step in 1...150 {
            model.zeroGrad()
            let (loss, tape) = Tape.record { model.loss(tokens: x, targets: y, batch: 2, seqLen: 16) }
            last = loss.scalar
            tape.backward(from: loss)
            let bc1 = 1 - pow(0.9, Float(step)), bc2 = 1 - pow(0.999, Float(step))
            for (i, p) in model.parameters.enumerated() {
                let g = p.tensor.grad!
                for j in 0..<p.tensor.count {
                    m[i][j] = 0.9 * m[i][j] + 0.1 * g[j]
                    v[i][j] = 0.999 * v[i][j] + 0.001 * g[j] * g[j]
                    p.tensor[j] -= 0.01 * (m[i][j] / bc1) / ((v[i][j] / bc2).squareRoot() + 1e-8)
                }
            }
            if last < 0.05 { break }
        }
        _ = (m, v)
        XCTAssertLessThan(last, 0.1)
    }
}
