// The trainer's data-parallel parts: what a run under mpirun refuses, the threads of each
// rank, the check that every rank runs the same run on the same data, the checkpoint
// written by rank 0 from every rank's optimizer share, and the state-byte figures of the
// metrics (the largest rank's share, and the sum over ranks).
import Distributed
import Foundation
import Optimizers

extension RunConfig {
    /// Checks that this run can be trained data-parallel over `communicator`'s ranks and
    /// returns this rank's share of each step's batch.
    func validateDataParallel(_ communicator: Communicator) throws -> RankShare {
        let descriptor = try OptimizerCatalog.descriptor(named: string("optimizer"))
        if descriptor.zerothOrder {
            throw ConfigError("--optimizer \(descriptor.name) is zeroth-order, and swift-train trains it in one process only; run it without mpirun")
        }
        if bool("per_layer_update") {
            throw ConfigError("--per-layer-update updates each weight during backward, before the ranks could sum its gradient; it cannot run under mpirun: run without it (the sharded optimizer state already divides the memory by the ranks)")
        }
        communicator.timeout = Double(int("mpi_timeout"))
        return try RankShare(rank: communicator.rank, ranks: communicator.size, batchSize: batchSize, gradAccum: gradAccum)
    }
}

extension Trainer {
    /// Threads of one rank when the config leaves them at 0: the cores this rank may run on
    /// (mpirun binds each rank to its own cores by default), or the host's cores divided
    /// among its ranks when they are not bound.
    static func threadsPerRank(_ communicator: Communicator) -> Int {
        let online = ProcessInfo.processInfo.activeProcessorCount
        var usable = boundCores
        if usable >= online || usable == 0 { usable = online / max(communicator.localSize, 1) }
        return max(usable, 1)
    }

    /// Cores this process may run on (the kernel's affinity mask, "Cpus_allowed:\tff,ffffffff").
    static var boundCores: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else {
            return ProcessInfo.processInfo.activeProcessorCount
        }
        let hex = line.dropFirst("Cpus_allowed:".count).filter { $0.isHexDigit }
        return hex.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
    }

    /// A note when a rank is given more threads than the cores mpirun bound it to.
    static func threadsNote(_ threads: Int, _ communicator: Communicator) -> String? {
        let cores = boundCores
        guard communicator.isDistributed, threads > cores, cores > 0 else { return nil }
        return "threads \(threads) on a rank that mpirun bound to \(cores) core(s): its threads share those cores and run slower; use --threads 0 (the bound cores), or mpirun --bind-to none"
    }

    /// The log line of a resume with another number of ranks (nil when it is the same).
    static func rankChangeNote(saved: Int, now: Int) -> String? {
        guard saved != now else { return nil }
        return "the checkpoint was written by \(saved) rank(s), this run has \(now): the optimizer state is re-sharded and each step's batch is now split over \(now) rank(s), so the loss curve continues the same run up to float reassociation (not bit for bit)"
    }

    /// Every rank must train the same run on the same data: rank 0's run config, data
    /// fingerprint and step are compared on every rank; a rank that differs stops the job.
    func checkRanksAgree(data: TrainingData) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var mine = [UInt8](try enc.encode(config.json))
        mine += Array("|\(data.fingerprint)|step \(state.step)".utf8)
        let zero = try communicator.broadcast(mine, what: "the run check")
        if zero != mine {
            throw ConfigError("\(communicator.label) does not run what rank 0 runs: its run config, data (\(data.fingerprint)) or checkpoint step (\(state.step)) differ; give every rank the same command, and the same data folder and run folder at the same paths")
        }
    }

    /// Rank 0 writes the checkpoint: the model, and the optimizer state streamed from every
    /// rank's share, so the file is the one a single process would write (and a run with any
    /// number of ranks can resume it). Every rank must call this at the same step.
    func saveShardedCheckpoint(_ dp: DataParallel, in dir: URL) throws -> URL {
        let scalars = try dp.gatherScalars(optimizer)
        guard isRankZero, let scalars else {
            try dp.streamOptimizerState(optimizer, to: nil)
            return dir.appendingPathComponent(Checkpoint.name(step: state.step))
        }
        state.optimizerScalars = scalars
        let url = try Checkpoint.save(in: dir, model: model, optimizer: optimizer, state: state, tokenizer: data.tokenizerURL) { file in
            try dp.streamOptimizerState(self.optimizer, to: file)
        }
        Checkpoint.prune(in: dir, keep: config.int("keep_checkpoints"))
        return url
    }

    /// Optimizer state bytes: this process's, or under mpirun the largest rank's and the sum.
    func stateByteFigures() throws -> (largest: Int, total: Int) {
        guard let dp = dataParallel else { return (optimizer.stateBytes, optimizer.stateBytes) }
        return try dp.stateBytes(optimizer.stateBytes)
    }

    /// The metrics line's state fields (opt_state_bytes_total only under mpirun).
    func stateByteFields() throws -> [(String, MetricValue)] {
        let (largest, total) = try stateByteFigures()
        guard dataParallel != nil else { return [("opt_state_bytes", .int(largest))] }
        return [("opt_state_bytes", .int(largest)), ("opt_state_bytes_total", .int(total)), ("ranks", .int(communicator.size))]
    }
}
