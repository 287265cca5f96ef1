// The zeroth-order branch of TrainingStep (MeZO §6, AdaZeta §7.3 of
// optimizers-elementwise-zo.md): for q = 1…Q, with seed s_q = H(run seed, step, q),
//   L₊ = L(θ + εz_q; B), L₋ = L(θ − εz_q; B), c_q = (L₊ − L₋)/(2ε)   (in Double),
// both passes forward-only on the same batch, reading θ ± εz through a Perturbation (θ is
// never written by a pass, so nothing needs restoring); then every trainable tensor moves
// θ ← θ·(1 − ηλ) − Σ_q (η/Q)·c_q·z_q in one pass, z regenerated from s_q in stack chunks.
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
        let trainable = optimizer.assignments.map(\.parameter.tensor)
        let eps = Float(rule.eps)
        var coefficients: [Float] = [], seeds: [UInt64] = []
        var lastPlus = 0.0, finite = true
        for q in 1...queries {
            let s = Perturbation.directionSeed(runSeed: seed, step: step, query: q)
            let plus = try model.forwardLoss(tokens: b.inputs, targets: b.targets, batch: batchSize, seqLen: seqLen,
                                             perturbation: Perturbation(seed: s, scale: eps, trainable: trainable))
            let minus = try model.forwardLoss(tokens: b.inputs, targets: b.targets, batch: batchSize, seqLen: seqLen,
                                              perturbation: Perturbation(seed: s, scale: -eps, trainable: trainable))
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
        r.trainingPhaseMemory = trainingPeak
        r.optimizerPhaseMemory = BufferPool.shared.peakSnapshot
        r.memory = trainingPeak
        r.memory.peakHeld = max(trainingPeak.peakHeld, r.optimizerPhaseMemory.peakHeld)
        return r
    }
}

public enum ZerothOrderStep {
    /// θ ← θ·decay − Σ_q steps[q]·z_q with z_q = Z(seeds[q], key), element by element in the
    /// same order at any thread count (z regenerated in 1,024-value stack chunks).
    public static func update(_ theta: Tensor, key: UInt64, seeds: [UInt64], steps: [Float], decay: Float) {
        precondition(seeds.count == steps.count)
        let p = SendablePointer(theta.pointer)
        seeds.withUnsafeBufferPointer { sp in
            steps.withUnsafeBufferPointer { stp in
                Parallel.forRanges(theta.count, grain: 1 << 13) { r in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: 1024) { z in
                        var i = r.lowerBound
                        while i < r.upperBound {
                            let n = min(1024, r.upperBound - i)
                            let x = p.p + i
                            if decay != 1 { for j in 0..<n { x[j] *= decay } }
                            for q in 0..<sp.count {
                                GaussianFill.fill(UnsafeMutableBufferPointer(rebasing: z[0..<n]), seed: sp[q], key: key,
                                                  offset: i, threaded: false)
                                let a = stp[q]
                                for j in 0..<n { x[j] -= a * z[j] }
                            }
                            i += n
                        }
                    }
                }
            }
        }
    }
}
