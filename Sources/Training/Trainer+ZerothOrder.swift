// The trainer's zeroth-order parts (MeZO, AdaZeta; spec optimizers-elementwise-zo.md §6–§7):
// resolving AdaZeta's query schedule (steps per epoch from the training shard unless set, β
// derived from the run's length unless set, both kept from the checkpoint on resume), and
// the metrics fields that replace the gradient norm by the projected gradient p̂.
import Distributed
import Foundation
import LlamaModel
import Optimizers

extension Trainer {
    /// The adaptive query schedule of an AdaZeta run (nil for other optimizers). On resume
    /// the saved steps per epoch and β are kept, so the schedule, and the curve, do not move.
    static func querySchedule(_ config: RunConfig, optimizer: Optimizer, trainTokens: Int,
                              saved: ZerothOrderProgress?) throws -> QuerySchedule? {
        guard case .adaptive(let alpha, let target, let lo, let hi, let beta, let given)? = optimizer.zerothOrder?.queries else {
            return nil
        }
        let perEpoch = saved?.epochSteps ?? (given > 0 ? given : max(1, trainTokens / max(1, config.batchSize * config.seqLen)))
        do {
            return try QuerySchedule(alpha: alpha, target: target, minimum: lo, maximum: hi, epochSteps: perEpoch,
                                     totalSteps: config.steps, beta: saved?.beta ?? beta)
        } catch let e as OptimizerError {
            throw ConfigError("optimizer \(optimizer.name): \(e.description)")
        }
    }

    /// Attaches the run's adapters to `model` (when the config asks for them) and builds its
    /// optimizer over the trainable parameters and the step function; `trainTokens` sizes
    /// AdaZeta's epochs unless the config sets them.
    /// Under mpirun (`share` given), the optimizer holds only this rank's ZeRO-1 share.
    static func makeStepper(_ config: RunConfig, model: Llama, batchSize: Int, seqLen: Int, gradAccum: Int,
                            trainTokens: Int, saved: ZerothOrderProgress? = nil,
                            communicator: Communicator = .single, share: RankShare? = nil) throws -> TrainingStep {
        if model.adapters == nil, let adapters = try config.adapterConfig() { try model.attachAdapters(adapters, seed: config.seed) }
        var dataParallel: DataParallel?
        if let share {
            let full = try makeOptimizer(config, model: model, materialized: false)
            dataParallel = DataParallel(communicator: communicator, share: share, fullPlan: full)
        }
        let optimizer = try makeOptimizer(config, model: model, owned: dataParallel.map { $0.plan.owned(by: communicator.rank) })
        let schedule = try querySchedule(config, optimizer: optimizer, trainTokens: trainTokens, saved: saved)
        var step = TrainingStep(model: model, optimizer: optimizer, batchSize: batchSize, seqLen: seqLen, gradAccum: gradAccum,
                            gradClip: config.bool("per_layer_update") ? 0 : config.double("grad_clip"), seed: config.seed,
                            perLayerUpdate: config.bool("per_layer_update"), querySchedule: schedule)
        step.dataParallel = dataParallel
        return step
    }

    /// The gradient fields of a metrics line: grad_norm for a gradient step; for a
    /// zeroth-order step the projected gradient p̂ (mean over the step's queries), the queries
    /// and the forward passes so far.
    func gradientFields(_ report: StepReport) -> [(String, MetricValue)] {
        guard let p = report.projectedGradient else { return [("grad_norm", .double(report.gradNorm))] }
        var fields: [(String, MetricValue)] = [("projected_grad", .double(p)), ("zo_queries", .int(report.queries)),
                                               ("zo_forward_passes", .int(state.zerothOrder?.forwardPasses ?? 0))]
        if let e = state.zerothOrder?.epoch { fields.append(("zo_epoch", .int(e))) }
        return fields
    }
}
