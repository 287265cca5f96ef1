// Tests of the zeroth-order path (spec optimizers-elementwise-zo.md §6–§7): the forward-only
// loss, the keyed perturbation (weights bitwise unchanged, any thread count), p̂ against the
// directional derivative from backward, the update rule with Q queries, AdaZeta's schedule
// values, the adapters' identity start, and exact resume of MeZO and AdaZeta runs.
import Foundation
import LlamaModel
import Optimizers
import Tensors
import XCTest
import Training

final class ZerothOrderTests: XCTestCase {
    static let micro = LlamaConfig(vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2,
                                   numAttentionHeads: 4, maxPositionEmbeddings: 32)

    func batch(_ n: Int, seed: UInt64 = 3) -> (inputs: [Int32], targets: [Int32]) {
        var rng = RandomGenerator(seed: seed)
        let t = (0...n).map { _ in Int32(rng.int(below: 64)) }
        return (Array(t.dropLast()), Array(t.dropFirst()))
    }

    func testForwardOnlyLossEqualsTrainingLossAndRefusesATape() throws {
        let model = Llama(config: Self.micro, seed: 1)
        let b = batch(2 * 16)
        let forward = try model.forwardLoss(tokens: b.inputs, targets: b.targets, batch: 2, seqLen: 16)
        let recorded = Double(model.loss(tokens: b.inputs, targets: b.targets, batch: 2, seqLen: 16).scalar)
        XCTAssertEqual(Float(forward), Float(recorded))
        XCTAssertThrowsError(try Tape.record { try model.forwardLoss(tokens: b.inputs, targets: b.targets, batch: 2, seqLen: 16) }) {
            XCTAssertTrue("\($0)".contains("recording"), "\($0)")
        }
    }

    func testPerturbedPassesLeaveEveryWeightBitwiseUnchanged() throws {
        let model = Llama(config: Self.micro, seed: 1)
        let before = model.parameters.map { $0.tensor.array }
        let trainable = model.parameters.map(\.tensor)
        let b = batch(2 * 16)
        for scale in [Float(1e-3), -1e-3, 0.5] {
            _ = try model.forwardLoss(tokens: b.inputs, targets: b.targets, batch: 2, seqLen: 16,
                                      perturbation: Perturbation(seed: 99, scale: scale, trainable: trainable))
        }
        for (p, w) in zip(model.parameters, before) {
            XCTAssertEqual(p.tensor.array.map(\.bitPattern), w.map(\.bitPattern), p.name)
        }
    }

    func testPerturbationAndUpdateAreTheSameAtOneAndTwoThreads() throws {
        let saved = Parallel.threads
        defer { Parallel.setThreads(saved) }
        let theta = Tensor.randn([40_000], std: 0.1, rng: &RNG.shared)
        func run(_ threads: Int) -> ([UInt32], [UInt32], [UInt32]) {
            Parallel.setThreads(threads)
            let p = Perturbation(seed: 5, scale: 1e-3, trainable: [theta])
            let read = p.read(theta).array.map(\.bitPattern)
            let rows = p.rows(of: Tensor(shape: [400, 100], values: theta.array), ids: [3, 399, 3, 0]).array.map(\.bitPattern)
            let t = theta.clone()
            ZerothOrderStep.update(t, key: 0, seeds: [5, 6], steps: [1e-3, -2e-3], decay: 0.999)
            return (read, rows, t.array.map(\.bitPattern))
        }
        let one = run(1), two = run(2)
        XCTAssertEqual(one.0, two.0)
        XCTAssertEqual(one.1, two.1)
        XCTAssertEqual(one.2, two.2)
        // The rows of a table are the table's perturbed rows.
        let table = Tensor(shape: [400, 100], values: theta.array)
        let p = Perturbation(seed: 5, scale: 1e-3, trainable: [table])
        let full = p.read(table).array, rows = p.rows(of: table, ids: [7]).array
        XCTAssertEqual(rows, Array(full[700..<800]))
    }

    func testProjectedGradientMatchesTheDirectionalDerivative() throws {
        let model = Llama(config: Self.micro, seed: 2)
        let b = batch(4 * 16, seed: 8)
        let (loss, tape) = Tape.record { model.loss(tokens: b.inputs, targets: b.targets, batch: 4, seqLen: 16) }
        tape.backward(from: loss)
        let trainable = model.parameters.map(\.tensor)
        let seed = Perturbation.directionSeed(runSeed: 7, step: 1, query: 1)
        var directional = 0.0
        for (k, t) in trainable.enumerated() {
            var z = [Float](repeating: 0, count: t.count)
            z.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: seed, key: UInt64(k)) }
            for i in 0..<t.count { directional += Double(t.grad![i]) * Double(z[i]) }
        }
        let eps: Float = 1e-3
        let plus = try model.forwardLoss(tokens: b.inputs, targets: b.targets, batch: 4, seqLen: 16,
                                         perturbation: Perturbation(seed: seed, scale: eps, trainable: trainable))
        let minus = try model.forwardLoss(tokens: b.inputs, targets: b.targets, batch: 4, seqLen: 16,
                                          perturbation: Perturbation(seed: seed, scale: -eps, trainable: trainable))
        let p = (plus - minus) / (2 * Double(eps))
        // Central difference: O(ε²) truncation plus Float32 forward rounding (~1e-7·L/ε).
        XCTAssertEqual(p, directional, accuracy: 0.01 * abs(directional) + 1e-3, "p̂ \(p), ∇L·z \(directional)")
    }

    func testUpdateAveragesTheQueries() {
        let theta = Tensor.randn([3000], std: 0.5, rng: &RNG.shared)
        let t = theta.clone()
        let eta = 0.1, c: [Double] = [0.7, -1.3], lambda = 0.01
        ZerothOrderStep.update(t, key: 4, seeds: [11, 12], steps: c.map { Float(eta * $0 / 2) }, decay: Float(1 - eta * lambda))
        var z1 = [Float](repeating: 0, count: 3000), z2 = z1
        z1.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: 11, key: 4) }
        z2.withUnsafeMutableBufferPointer { GaussianFill.fill($0, seed: 12, key: 4) }
        for i in 0..<3000 {
            let th = Double(theta[i])
            let expected = th - eta * ((c[0] * Double(z1[i]) + c[1] * Double(z2[i])) / 2 + lambda * th)
            XCTAssertEqual(Double(t[i]), expected, accuracy: 1e-6 * max(1, abs(expected)))
        }
    }

    func testQueryScheduleValuesOfTheReference() throws {
        // α 0.85, N 20, Q_max 15, E = 160 epochs (spec §7.9).
        let s = try QuerySchedule(alpha: 0.85, target: 20, minimum: 1, maximum: 15, epochSteps: 10, totalSteps: 1600)
        XCTAssertEqual(s.beta, 0.62229, accuracy: 1e-5)
        for (e, q) in [(0, 1), (1, 1), (2, 1), (3, 1), (4, 2), (8, 3), (53, 10), (100, 14), (101, 15), (159, 15)] {
            XCTAssertEqual(s.queries(epoch: e), q, "Q(\(e))")
        }
        XCTAssertEqual(s.queries(step: 1), 1)
        XCTAssertEqual(s.queries(step: 41), 2)  // 40 completed steps: epoch 4
        XCTAssertThrowsError(try QuerySchedule(minimum: 3, maximum: 2, epochSteps: 1, totalSteps: 10))
    }

    func testIdentityAdaptersStartAtTheBaseModelsLoss() throws {
        let base = Llama(config: Self.micro, seed: 4)
        let b = batch(2 * 16)
        let before = try base.forwardLoss(tokens: b.inputs, targets: b.targets, batch: 2, seqLen: 16)
        for placement in AdapterPlacement.allCases {
            let adapted = Llama(config: Self.micro, seed: 4)
            try adapted.attachAdapters(AdapterConfig(rank: 2, bottleneck: 8, placement: placement, initialization: .identity), seed: 1)
            XCTAssertEqual(try adapted.forwardLoss(tokens: b.inputs, targets: b.targets, batch: 2, seqLen: 16), before, "\(placement)")
            XCTAssertTrue(adapted.parameters.allSatisfy { !$0.tensor.requiresGrad })
            XCTAssertEqual(adapted.trainableParameters.count, (placement == .mlp3 ? 3 : 2) * 14 * 2)  // per adapter: 6 + 6 cores, 2 biases; 2 blocks
            let reference = Llama(config: Self.micro, seed: 4)
            try reference.attachAdapters(AdapterConfig(rank: 2, bottleneck: 8, placement: placement), seed: 1)
            XCTAssertNotEqual(try reference.forwardLoss(tokens: b.inputs, targets: b.targets, batch: 2, seqLen: 16), before)
        }
    }
}

/// A shared generator for test data.
enum RNG { nonisolated(unsafe) static var shared = RandomGenerator(seed: 2024) }
