// Trainer: the training loop. Step s (1-based) trains on micro-batches
// k = (s−1)·grad_accum ..< s·grad_accum of the deterministic order, logs the mean loss of
// those batches before the update, clips, and updates with lr = schedule(s). Everything a
// step depends on (weights, optimizer state, step, data position, RNG) is in a checkpoint,
// so a resumed run continues on exactly the same loss curve.
import Distributed
import Foundation
import LlamaModel
import Optimizers
import Tensors
import TextData

public final class Trainer {
    public let config: RunConfig
    public let model: Llama
    public let optimizer: Optimizer
    public let schedule: LRSchedule
    public let data: TrainingData
    public let outURL: URL
    public internal(set) var state: TrainerState
    /// The metrics log (rank 0 of a data-parallel run writes it; the other ranks have none).
    let metrics: MetricsLog?
    let progress: Progress
    /// Notes from resolving the optimizer keys (settings of another optimizer left out).
    let optimizerNotes: [String]
    let stepper: TrainingStep
    /// The locked output folder (held for the trainer's lifetime; rank 0 only).
    let folder: RunFolder?
    /// The ranks of an mpirun job (one rank, and no MPI, otherwise).
    public let communicator: Communicator
    /// This rank's part of a data-parallel run (nil in one process).
    var dataParallel: DataParallel? { stepper.dataParallel }
    var isRankZero: Bool { communicator.rank == 0 }

    /// Sets up a new run from `config`, or continues the checkpoint `resume` (whose saved
    /// run config is used; `config` may change only resumable keys such as `steps`).
    /// Under mpirun, `communicator` holds the ranks: each trains its share of every step's
    /// batch and holds its share of the optimizer state (see DataParallel).
    public init(config given: RunConfig, resume: URL? = nil, communicator: Communicator = .single) throws {
        self.communicator = communicator
        var config = given
        var resumeState: TrainerState?
        var checkpoint: URL?
        var notes: [String] = []
        if let resume {
            let ckpt = try Checkpoint.resolve(resume)
            let saved = try Checkpoint.readState(ckpt)
            config = try RunConfig.resumed(saved: saved.runConfig, overrides: given)
            if !given.isSet("out") {  // .../OUT/checkpoints/step-N → OUT
                config.values["out"] = .string(ckpt.deletingLastPathComponent().deletingLastPathComponent().path)
            }
            if config.steps < saved.step {
                throw ConfigError("--steps \(config.steps) is below the checkpoint's step \(saved.step) (\(ckpt.path)); a resumed run continues to --steps, so give at least \(saved.step)")
            }
            if let was = (try? RunConfig.resumed(saved: saved.runConfig, overrides: RunConfig()))?.steps, was != config.steps,
               config.string("schedule") != "constant" || config.int("warmup_steps") > saved.step {
                notes.append("steps \(config.steps) (the run was started with \(was)): the lr schedule now ends at step \(config.steps), so from step \(saved.step + 1) on the lr, and the curve, differ from the \(was)-step run's")
            }
            resumeState = saved
            checkpoint = ckpt
        }
        try config.validateForTraining()
        if let saved = resumeState, let note = Trainer.rankChangeNote(saved: saved.ranks ?? 1, now: communicator.size) { notes.append(note) }
        if let note = Trainer.threadsNote(config.int("threads"), communicator) { notes.append(note) }
        optimizerNotes = try config.resolveOptimizerKeys() + config.validateZerothOrder() + notes
        let share = try communicator.isDistributed ? config.validateDataParallel(communicator) : nil
        self.config = config
        let threads = config.int("threads")  // 0: all cores, or under mpirun this rank's cores
        Parallel.setThreads(threads == 0 && communicator.isDistributed ? Trainer.threadsPerRank(communicator) : threads)
        let modelConfig = try config.modelConfig()
        outURL = URL(fileURLWithPath: config.out)
        // The data is checked before the out folder is touched (nothing is written for a bad run).
        data = try TrainingData(folder: URL(fileURLWithPath: config.data), batch: config.batchSize,
                                seqLen: config.seqLen, shuffleSeed: config.bool("shuffle") ? config.seed : nil,
                                model: modelConfig)
        folder = communicator.rank == 0 ? try RunFolder(outURL, resuming: resume != nil, overwrite: config.bool("overwrite")) : nil
        model = Llama(config: modelConfig, seed: config.seed)
        model.activationCheckpointing = config.bool("activation_checkpointing")
        stepper = try Trainer.makeStepper(config, model: model, batchSize: config.batchSize, seqLen: config.seqLen,
                                          gradAccum: config.gradAccum, trainTokens: data.train.tokenCount,
                                          saved: resumeState?.zerothOrder, communicator: communicator, share: share)
        optimizer = stepper.optimizer
        let querySchedule = stepper.querySchedule
        schedule = LRSchedule(peak: config.double("lr"), shape: LRSchedule.Shape(rawValue: config.string("schedule")) ?? .cosine,
                              warmupSteps: config.int("warmup_steps"), totalSteps: config.steps,
                              minRatio: config.double("min_lr_ratio"))
        progress = Progress(total: config.steps, silent: communicator.rank != 0)
        if let saved = resumeState, let ckpt = checkpoint {
            try Checkpoint.loadWeights(ckpt.appendingPathComponent("model.safetensors"), into: model)
            if model.adapters != nil { try Checkpoint.loadAdapters(ckpt.appendingPathComponent(Checkpoint.adapterFile), into: model) }
            if let was = saved.dataFingerprint, was != data.fingerprint {
                throw ConfigError("the data folder \(data.folder.path) is not the data this run trained on (checkpoint: \(was); now: \(data.fingerprint)); it was re-prepared or replaced. Resume with the original data, or start a new run (--init-from \(ckpt.appendingPathComponent("model.safetensors").path) keeps the weights)")
            }
            try Checkpoint.loadOptimizer(ckpt, into: optimizer, state: saved)
            state = saved
            state.threads = Parallel.threads
            state.dataFingerprint = data.fingerprint
            state.runConfig = config.json
        } else {
            let initFrom = config.string("init_from")
            if !initFrom.isEmpty { try Checkpoint.loadWeights(URL(fileURLWithPath: initFrom), into: model) }
            state = TrainerState(step: 0, nextBatch: 0, tokensSeen: 0,
                                 rng: RandomGenerator(seed: config.seed).derived(stream: 0x7EA1),
                                 optimizer: optimizer.name, optimizerScalars: [:], runConfig: config.json,
                                 elapsedSeconds: 0, threads: Parallel.threads, dataFingerprint: data.fingerprint)
        }
        if optimizer.zerothOrder != nil && state.zerothOrder == nil {
            state.zerothOrder = ZerothOrderProgress(queries: 0, forwardPasses: 0, epoch: querySchedule.map { _ in 0 },
                                                    epochSteps: querySchedule?.epochSteps, beta: querySchedule?.beta)
        }
        metrics = communicator.rank == 0 ? try MetricsLog(url: outURL.appendingPathComponent("metrics.jsonl"),
                                                          keepThrough: resumeState.map { $0.step }) : nil
        if communicator.isDistributed {
            state.ranks = communicator.size
            try checkRanksAgree(data: data)
        }
    }

    /// The run's optimizer for `model`; errors name the optimizer and the key at fault.
    /// `materialized` false builds the plan only to count it; `owned` builds one rank's share.
    static func makeOptimizer(_ config: RunConfig, model: Llama, materialized: Bool = true, owned: Set<String>? = nil) throws -> Optimizer {
        let settings = config.optimizerSettings
        do {
            return try OptimizerCatalog.make(settings, model: ModelDescription(model.config), parameters: model.trainableParameters,
                                             materialized: materialized, owned: owned)
        } catch let e as OptimizerError {
            throw ConfigError("optimizer \(settings.name): \(e.description)")
        }
    }

    /// Rule counters that are also summed over the steps between two metrics lines.
    static let summedMetrics: Set<String> = ["refreshes", "refresh_ms", "svd_failures", "basis_failures", "limiter_activations"]

    /// What a finished (or interrupted) run reports.
    public struct Summary {
        public var steps: Int
        public var finalLoss: Double
        public var finalValLoss: Double?
        public var tokensPerSecond: Double
        public var optimizerStateBytes: Int
        public var peakRSSBytes: Int
        /// The memory account of the step with the largest accounted peak.
        public var memory: MemoryAccount
        public var interrupted: Bool
        public var checkpoint: URL?
    }

    /// Prints the start-up facts: model size, plan (parameter → rule), data, threads.
    public func printHeader() {
        let mc = model.config
        progress.print("model: d \(mc.hiddenSize), \(mc.numHiddenLayers) layers, \(mc.numAttentionHeads) heads, I \(mc.intermediateSize), vocab \(mc.vocabSize): \(mc.parameterCount) parameters")
        progress.print("data: \(data.folder.path) — train \(data.train.tokenCount) tokens, val \(data.val?.tokenCount ?? 0) tokens; batch \(config.batchSize)×\(config.seqLen)×\(config.gradAccum) = \(tokensPerStep) tokens/step")
        progress.print("optimizer \(optimizer.name), lr \(config.double("lr")) (\(schedule.shape.rawValue), warm-up \(schedule.warmupSteps), min ratio \(schedule.minRatio)); plan\(dataParallel == nil ? "" : " (rank 0's share)"):\n\(optimizer.planDescription)")
        for note in optimizerNotes { progress.print("note: \(note)") }
        if let dp = dataParallel {
            let shares = dp.plan.stateBytes
            progress.print("data-parallel: \(communicator.size) ranks, each \(dp.share.microCount) micro-batch(es) of \(dp.share.microSize) sequences per step; gradients all-reduced in model order; optimizer state sharded (ZeRO-1): \(shares.map(String.init).joined(separator: " / ")) bytes per rank (\(shares.reduce(0, +)) in all); mpi_timeout \(Int(communicator.timeout)) s; Open MPI's runtime \(String(format: "%.1f", Double(communicator.runtimeBytes) / 1_048_576)) MiB on rank 0")
        } else {
            progress.print("optimizer state: \(optimizer.stateBytes) bytes (formula \(optimizer.stateBytesFormula))")
        }
        progress.print("threads: \(Parallel.threads)\(communicator.isDistributed ? " per rank" : ""); starting at step \(state.step + 1) of \(config.steps); out: \(outURL.path)")
    }

    var tokensPerStep: Int { config.batchSize * config.seqLen * config.gradAccum }

    /// One optimizer step (the shared TrainingStep) on the next micro-batches, at lr = schedule(s).
    public func trainStep() throws -> StepReport {
        let s = state.step + 1
        let first = state.nextBatch
        let report = try stepper.run(step: s, lr: schedule.lr(step: s), stopRequested: { Interrupt.signal != nil }) { micro in
            let b = data.train.batch(first + micro)
            return (b.inputs, b.targets)
        }
        if report.abandoned { return report }
        state.step = s
        state.nextBatch += config.gradAccum
        if report.queries > 0, var zo = state.zerothOrder {
            zo.queries += report.queries
            zo.forwardPasses += 2 * report.queries
            zo.epoch = stepper.querySchedule?.epoch(completedSteps: s)
            state.zerothOrder = zo
        }
        state.tokensSeen += tokensPerStep
        BufferPool.shared.endEpoch()  // give back what this step no longer needs
        return report
    }

    /// Mean loss over the first `eval_batches` validation batches (equal sizes, so this is
    /// the mean over tokens). Nil without a validation shard.
    public func evaluate(batches: Int? = nil) -> Double? {
        guard let val = data.val, isRankZero else { return nil }
        let n = batches ?? config.int("eval_batches")
        guard n > 0 else { return nil }
        var total = 0.0
        for k in 0..<n {
            // Ctrl-C or a polite kill during a long evaluation: drop it, so the run can
            // checkpoint and stop now rather than after every batch.
            if Interrupt.signal != nil { BufferPool.shared.endEpoch(); return nil }
            let b = val.batch(k)
            total += (try? model.forwardLoss(tokens: b.inputs, targets: b.targets, batch: config.batchSize, seqLen: config.seqLen)) ?? .nan
        }
        BufferPool.shared.endEpoch()
        return total / Double(n)
    }

    /// Appends a metrics line; when that fails (a full disk), tries to checkpoint the run so
    /// far before stopping, and says whether it could.
    func log(_ fields: [(String, MetricValue)]) throws {
        guard let metrics else { return }
        do { try metrics.write(fields) } catch let e as ConfigError where communicator.isDistributed {
            throw ConfigError("\(e.description); the run stops (a checkpoint needs every rank, so none is tried now; the last one on disk is the newest)")
        } catch let e as ConfigError {
            let saved = (try? saveCheckpoint()).map { "checkpoint \($0.path) written; resume with --resume \(outURL.path) once there is room" }
                ?? "no checkpoint could be written either; the last one on disk is the newest"
            throw ConfigError("\(e.description); the run stops: \(saved)")
        }
    }

    /// Writes a checkpoint of the current state and prunes old ones.
    @discardableResult
    public func saveCheckpoint() throws -> URL {
        let dir = outURL.appendingPathComponent("checkpoints")
        if let dp = dataParallel { return try saveShardedCheckpoint(dp, in: dir) }
        state.optimizerScalars = optimizer.stateScalars()
        let url = try Checkpoint.save(in: dir, model: model, optimizer: optimizer, state: state, tokenizer: data.tokenizerURL)
        Checkpoint.prune(in: dir, keep: config.int("keep_checkpoints"))
        return url
    }

    /// Runs until `steps`, or until SIGINT / SIGTERM or `stopAfter` steps (then
    /// checkpoints and returns, as an interrupted run).
    public func run(stopAfter: Int? = nil) throws -> Summary {
        Interrupt.install()
        let total = config.steps, logEvery = config.int("log_every")
        let evalEvery = config.int("eval_every"), ckptEvery = config.int("checkpoint_every")
        var lastLoss = Double.nan, lastVal: Double?
        var windowStart = Date(), windowTokens = 0
        let runStart = Date(), startElapsed = state.elapsedSeconds
        var lastCheckpoint: URL?
        // Optimizer time since the last metrics line: its sum, its longest step (so an SVD
        // refresh shows even when log_every skips its step) and the rules' counters.
        var windowOptimizerSeconds = 0.0, windowLongestOptimizer = 0.0
        var windowOptimizerMetrics: [String: Double] = [:]
        var largest = MemoryAccount()
        var badSteps = 0, firstBad = 0
        let maxBad = config.int("max_bad_steps")
        while state.step < total {
            // A data-parallel run agrees on stopping inside the step (every rank must stop at once).
            if (Interrupt.signal != nil && dataParallel == nil) || state.step >= (stopAfter ?? Int.max) { break }
            let t0 = Date()
            let report: StepReport
            do { report = try trainStep() } catch let e as OptimizerError {
                throw ConfigError("\(e.description)\n  the last checkpoint is kept; resume with --resume \(outURL.path) after changing the run")
            }
            if report.abandoned { break }
            let loss = report.loss, norm = report.gradNorm, skipped = report.skipped
            var account = MemoryAccount(snapshot: report.memory, optimizerStateBytes: optimizer.stateBytes,
                                        residentBytes: 0, peakResidentBytes: 0)
            let stepSeconds = Date().timeIntervalSince(t0)
            let s = state.step
            lastLoss = loss
            windowTokens += tokensPerStep
            state.elapsedSeconds = startElapsed + Date().timeIntervalSince(runStart)
            let windowSeconds = Date().timeIntervalSince(windowStart)
            let tps = Double(windowTokens) / max(windowSeconds, 1e-9)
            let eta = Double(total - s) * Double(tokensPerStep) / max(tps, 1e-9)
            let lr = schedule.lr(step: s)
            // A non-finite loss or gradient, or an exactly zero gradient (a model collapsed to a
            // constant prediction, loss ln V), is a bad step; too many in a row stop the run.
            let bad: String? = skipped
                ? "the gradient is not finite (first at \(report.firstNonFinite ?? "?"), loss \(loss)); the update was skipped"
                : !loss.isFinite ? "the loss is not finite"
                : norm == 0 && report.projectedGradient == nil ? String(format: "the gradient is exactly zero (loss %.4f, ln V = %.4f): the model has collapsed to a constant prediction", loss, Foundation.log(Double(model.config.vocabSize)))
                : nil
            if let bad {
                if badSteps == 0 { firstBad = s }
                badSteps += 1
                progress.print("step \(s): \(bad)")
                try log([("step", .int(s)), ("bad_step", .string(bad)), ("update_skipped", .int(skipped ? 1 : 0))])
                if badSteps >= maxBad {
                    let kept = Checkpoint.list(in: outURL.appendingPathComponent("checkpoints")).last.map { "the last checkpoint \($0.lastPathComponent) is kept" } ?? "no checkpoint was written"
                    throw ConfigError("the run diverged: \(badSteps) bad steps in a row (steps \(firstBad)–\(s), max_bad_steps \(maxBad)); at step \(s) \(bad). It stops here; \(kept). Start again with a lower --lr, a warm-up or --grad-clip")
                }
            } else {
                badSteps = 0
            }
            for event in report.optimizerEvents {
                progress.print(event)
                try log([("step", .int(s)), ("optimizer_event", .string(event))])
            }
            windowOptimizerSeconds += report.optimizerSeconds
            windowLongestOptimizer = max(windowLongestOptimizer, report.optimizerSeconds)
            for (k, v) in report.optimizerMetrics { windowOptimizerMetrics[k, default: 0] += v }
            progress.update(step: s, loss: loss, lr: lr, tokensPerSecond: tps, etaSeconds: eta)
            let logged = s % logEvery == 0 || s == 1 || s == total
            if logged || account.accountedBytes > largest.accountedBytes {
                account.residentBytes = ProcessMemory.residentBytes
                account.peakResidentBytes = ProcessMemory.peakResidentBytes
            }
            if account.accountedBytes > largest.accountedBytes { largest = account }
            if logged {
                try log([("step", .int(s)), ("loss", .double(loss)), ("lr", .double(lr))] + gradientFields(report) +
                              [("tokens_per_s", .double(tps)),
                               ("step_ms", .double(stepSeconds * 1000))] +
                              (dataParallel == nil ? [] : [("comm_ms", MetricValue.double(report.communicationSeconds * 1000))])
                              + stateByteFields() + account.metricFields +
                              [("optimizer_ms", .double(windowOptimizerSeconds * 1000)),
                               ("optimizer_max_ms", .double(windowLongestOptimizer * 1000))]
                              + report.optimizerMetrics.map { ("opt_" + $0.0, MetricValue.double($0.1)) }
                              + windowOptimizerMetrics.keys.sorted().filter(Trainer.summedMetrics.contains).map {
                                  ("opt_\($0)_since_last", MetricValue.double(windowOptimizerMetrics[$0]!)) })
                windowOptimizerSeconds = 0
                windowLongestOptimizer = 0
                windowOptimizerMetrics.removeAll()
                progress.logLine(step: s, loss: loss, lr: lr, gradNorm: report.projectedGradient ?? norm, tokensPerSecond: tps,
                                 etaSeconds: eta, gradientLabel: report.projectedGradient == nil ? "grad norm" : "p̂")
                windowStart = Date()
                windowTokens = 0
            }
            if (evalEvery > 0 && s % evalEvery == 0) || s == total, let v = evaluate() {
                lastVal = v
                try log([("step", .int(s)), ("val_loss", .double(v)), ("val_ppl", .double(Foundation.exp(v)))])
                progress.print(String(format: "step %ld: val loss %.4f, val ppl %.2f", s, v, Foundation.exp(v)))
                windowStart = Date()
                windowTokens = 0
            }
            if ckptEvery > 0 && s % ckptEvery == 0 && s != total && badSteps == 0 {  // never over good ones
                lastCheckpoint = try saveCheckpoint()
            }
        }
        let interrupted = state.step < total
        if interrupted && dataParallel != nil {
            progress.print("stop asked for (\(Interrupt.signal.map { $0 == SIGTERM ? "SIGTERM" : "SIGINT" } ?? "on another rank")): every rank stops after step \(state.step)")
        }
        if badSteps == 0 {
            lastCheckpoint = try saveCheckpoint()
        } else {
            progress.print("not checkpointing after \(badSteps) bad step(s); the last checkpoint is the newest good one")
        }
        if interrupted {
            progress.print("interrupted at step \(state.step): checkpoint \(lastCheckpoint?.path ?? "(none new)"); continue with --resume \(outURL.path)")
        }
        let seconds = max(state.elapsedSeconds, 1e-9)
        let summary = Summary(steps: state.step, finalLoss: lastLoss, finalValLoss: lastVal,
                              tokensPerSecond: Double(state.tokensSeen) / seconds,
                              optimizerStateBytes: try stateByteFigures().largest,
                              peakRSSBytes: ProcessMemory.peakResidentBytes, memory: largest, interrupted: interrupted,
                              checkpoint: lastCheckpoint)
        if isRankZero { try writeSummary(summary, seconds: seconds) }
        return summary
    }

    /// OUT/summary.json: the closing figures of this (possibly resumed) run, for `compare`.
    func writeSummary(_ s: Summary, seconds: Double) throws {
        var fields: [(String, MetricValue)] = [("steps", .int(s.steps)), ("final_loss", .double(s.finalLoss)),
                                                ("tokens_per_s", .double(s.tokensPerSecond)),
                                                ("opt_state_bytes", .int(s.optimizerStateBytes)),
                                                ("ranks", .int(communicator.size)),
                                                ("mpi_runtime_bytes", .int(communicator.runtimeBytes)),
                                                ("peak_rss_bytes", .int(s.peakRSSBytes)), ("train_seconds", .double(seconds)),
                                                ("interrupted", .int(s.interrupted ? 1 : 0)), ("optimizer", .string(optimizer.name))]
        if let v = s.finalValLoss { fields.append(("val_loss", .double(v))) }
        fields += s.memory.metricFields.filter { $0.0.hasPrefix("mem_") }
        let body = "{" + fields.map { "\"\($0.0)\": \($0.1.json)" }.joined(separator: ", ") + "}\n"
        try AtomicFile.write(Data(body.utf8), to: outURL.appendingPathComponent("summary.json").path)
    }
}
