// The data-parallel form of TrainingStep.run: this rank's micro-batches (its RankShare of
// the step's global batch), the gradient all-reduce, the agreed loss and stop flag, the
// norm and clipping on the summed gradient (the same on every rank), the update of this
// rank's ZeRO-1 share, and the weights shared back. A stop asked for on any rank before the
// update abandons the step on every rank, so the weights stay those of the step before and
// the checkpoint written next is exact.
import Foundation
import LlamaModel
import Optimizers
import Tensors

extension TrainingStep {
    func runDataParallel(_ dp: DataParallel, step: Int, lr: Double, stopRequested: () -> Bool,
                         batch: (Int) -> (inputs: [Int32], targets: [Int32])) throws -> StepReport {
        let start = BenchClock.now()
        let parameters = model.trainableParameters
        readyGradients()
        let share = dp.share
        let weight = share.lossWeight
        let lossSeed = Tensor(shape: [], values: [Float(weight)])
        var lossPart = 0.0, fw = 0.0, bw = 0.0
        for j in 0..<share.microCount {
            let (k, rows) = share.micro(j)
            let full = batch(k)
            let span = (rows.lowerBound * seqLen)..<(rows.upperBound * seqLen)
            let inputs = rows.count == batchSize ? full.inputs : Array(full.inputs[span])
            let targets = rows.count == batchSize ? full.targets : Array(full.targets[span])
            let pass = forwardBackward(inputs: inputs, targets: targets, batch: share.microSize, seed: lossSeed)
            lossPart += pass.loss * weight
            fw += pass.forwardSeconds
            bw += pass.backwardSeconds
        }
        let t2 = BenchClock.now()
        try dp.reduceGradients(parameters)
        let (loss, stop) = try dp.agree(loss: lossPart, stop: stopRequested())
        let t3 = BenchClock.now()
        var r = StepReport(loss: loss, gradNorm: .nan, skipped: false)
        r.forwardSeconds = fw
        r.backwardSeconds = bw
        r.communicationSeconds = t3 - t2
        if stop {
            r.abandoned = true
            r.totalSeconds = t3 - start
            return r
        }
        let (norm, skipped) = normAndClip()
        let t4 = BenchClock.now()
        let trainingPeak = BufferPool.shared.peakSnapshot
        BufferPool.shared.resetPeak()
        optimizer.beginStep()
        if !skipped { try optimizer.step(step, lr: lr, seed: seed) }
        let t5 = BenchClock.now()
        if !skipped { try dp.shareWeights(parameters) }
        try dp.mergeMetrics(optimizer.metrics)
        let t6 = BenchClock.now()
        r.gradNorm = norm
        r.skipped = skipped
        if skipped { r.firstNonFinite = parameters.first { !($0.tensor.grad?.sumOfSquares().isFinite ?? true) }?.name }
        r.gradNormSeconds = t4 - t3
        r.optimizerSeconds = t5 - t4
        r.communicationSeconds += t6 - t5
        r.totalSeconds = t6 - start
        r.optimizerMetrics = optimizer.metrics.values
        r.optimizerEvents = optimizer.metrics.events
        r.recordPhases(training: trainingPeak, update: BufferPool.shared.peakSnapshot)
        return r
    }
}
