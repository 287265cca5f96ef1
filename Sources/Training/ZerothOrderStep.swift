// The zeroth-order branch of TrainingStep (MeZO §6, AdaZeta §7.3 of
// optimizers-elementwise-zo.md): for q = 1…Q, with seed s_q = H(run seed, step, q),
//   L₊ = L(θ + εz_q; B), L₋ = L(θ − εz_q; B), c_q = (L₊ − L₋)/(2ε)   (in Double),
// both passes forward-only on the same batch, reading θ ± εz through a Perturbation (θ is
// never written by a pass, so nothing needs restoring); then every trainable tensor moves
// θ ← θ·(1 − ηλ) − Σ_q (η/Q)·c_q·z_q, z regenerated from s_q as it is added.
// The reported loss is the last query's L₊; p̂ is the mean of the c_q.
import Foundation
import LlamaModel
import Optimizers
import Tensors

extension TrainingStep {
    /// One zeroth-order step `step` (1-based) at lr `lr` with `queries` directions on batch `b`.
    func runZerothOrder(_ rule: ZerothOrderRule, queries: Int, step: Int, lr: Double,
                        batch b: (inputs: [Int32], targets: [Int32])) throws -> StepReport {
        let start = BenchClock.now()
        let eps = Float(rule.eps)
        let directions = Perturbation(seed: 0, scale: 0, trainable: optimizer.assignments.map(\.parameter.tensor))
        var coefficients: [Float] = [], seeds: [UInt64] = []
        var lastPlus = 0.0, finite = true
        for q in 1...queries {
            let s = Perturbation.directionSeed(runSeed: seed, step: step, query: q)
            let plus = try model.forwardLoss(tokens: b.inputs, targets: b.targets, batch: batchSize, seqLen: seqLen,
                                             perturbation: directions.with(seed: s, scale: eps))
            let minus = try model.forwardLoss(tokens: b.inputs, targets: b.targets, batch: batchSize, seqLen: seqLen,
                                              perturbation: directions.with(seed: s, scale: -eps))
            let c = (plus - minus) / (2 * Double(eps))
            finite = finite && plus.isFinite && minus.isFinite && Float(c).isFinite
            coefficients.append(Float(c))
            seeds.append(s)
            lastPlus = plus
        }
        let t1 = BenchClock.now()
        let trainingPeak = BufferPool.shared.peakSnapshot
        BufferPool.shared.resetPeak()
        if finite {
            for a in optimizer.assignments {
                let group = optimizer.groups[a.group]
                let eta = lr * group.lrScale
                let steps = coefficients.map { Float(eta * Double($0) / Double(queries)) }
                ZerothOrderStep.update(a.parameter.tensor, key: UInt64(a.info.index), seeds: seeds, steps: steps,
                                       decay: Float(1 - eta * group.weightDecay))
            }
        }
        let t2 = BenchClock.now()
        let mean = coefficients.reduce(0.0) { $0 + Double($1) } / Double(queries)
        var r = StepReport(loss: lastPlus, gradNorm: abs(mean), skipped: !finite)
        if !finite { r.firstNonFinite = "the loss of a perturbed forward pass" }
        r.projectedGradient = mean
        r.queries = queries
        r.forwardSeconds = t1 - start
        r.optimizerSeconds = t2 - t1
        r.totalSeconds = t2 - start
        r.recordPhases(training: trainingPeak, update: BufferPool.shared.peakSnapshot)
        return r
    }
}

public enum ZerothOrderStep {
    /// θ ← θ·decay − Σ_q steps[q]·z_q with z_q = Z(seeds[q], key): the decay pass, then one
    /// GaussianFill.add per query (z never stored; the same bits at any thread count).
    public static func update(_ theta: Tensor, key: UInt64, seeds: [UInt64], steps: [Float], decay: Float) {
        precondition(seeds.count == steps.count)
        if decay != 1 { theta.scaleInPlace(decay) }
        for (s, a) in zip(seeds, steps) { GaussianFill.add(theta.buffer, seed: s, key: key, std: -a) }
    }
}
