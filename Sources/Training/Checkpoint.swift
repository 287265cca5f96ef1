// Checkpoint: a folder per model-and-formats.md — model.safetensors (Hugging Face names),
// config.json (Hugging Face llama config), tokenizer.model, optimizer.safetensors (every
// state buffer, named "<parameter>/<state>") and trainer_state.json (step, data position,
// RNG, optimizer scalars, the full run config). Written under a temporary name and renamed,
// so an interrupted save never hides the last good checkpoint.
import Foundation
import LlamaModel
import Optimizers
import Tensors
import TextData

/// Everything besides tensors that a resumed run needs to continue bit-exactly.
public struct TrainerState: Codable, Equatable {
    public var formatVersion = 1
    /// Optimizer steps completed.
    public var step: Int
    /// Index of the next training micro-batch (the data position).
    public var nextBatch: Int
    public var tokensSeen: Int
    public var rng: RandomGenerator
    public var optimizer: String
    public var optimizerScalars: [String: Optimizer.ScalarState]
    /// The run config the run was started with (explicit settings and the model).
    public var runConfig: JSONValue
    public var elapsedSeconds: Double
    public var threads: Int
    /// The data the run trained on (TrainingData.fingerprint); absent in older checkpoints.
    public var dataFingerprint: String?
    /// Zeroth-order runs: the query schedule's position and constants (absent otherwise).
    public var zerothOrder: ZerothOrderProgress?
    /// Ranks of the data-parallel run that wrote the checkpoint (absent for one process).
    public var ranks: Int?
}

/// Where a zeroth-order run is: queries and forward passes so far and, for AdaZeta's
/// adaptive schedule, the epoch and the constants it was resolved with (so a resume with a
/// new --steps keeps the same β and the curve stays the same).
public struct ZerothOrderProgress: Codable, Equatable {
    public var queries: Int
    public var forwardPasses: Int
    public var epoch: Int?
    public var epochSteps: Int?
    public var beta: Double?
}

public enum Checkpoint {
    static let prefix = "step-"

    /// Folder name of the checkpoint of `step`.
    public static func name(step: Int) -> String { prefix + String(format: "%08d", step) }

    /// Writes a checkpoint of `step` into `dir` (created if needed) and returns its folder.
    /// `writeOptimizer` writes optimizer.safetensors (a data-parallel run streams it from
    /// every rank's share); by default, from `optimizer`'s own state.
    public static func save(in dir: URL, model: Llama, optimizer: Optimizer, state: TrainerState,
                            tokenizer: URL?, writeOptimizer: ((URL) throws -> Void)? = nil) throws -> URL {
        let fm = FileManager.default
        do { try fm.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw ConfigError("\(dir.path): cannot create the checkpoint folder (\(error.localizedDescription))")
        }
        let final = dir.appendingPathComponent(name(step: state.step))
        let tmp = dir.appendingPathComponent(".tmp-" + name(step: state.step) + "-\(getpid())")
        try? fm.removeItem(at: tmp)
        do {
            try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
            try SafeTensors.write(model.parameters.map { ($0.name, $0.tensor) },
                                  metadata: ["format": "pt"], to: tmp.appendingPathComponent("model.safetensors"))
            try AtomicFile.write(try model.config.huggingFaceJSONData(), to: tmp.appendingPathComponent("config.json").path)
            if let adapters = model.adapters { try writeAdapters(adapters, to: tmp.appendingPathComponent(adapterFile)) }
            let optimizerURL = tmp.appendingPathComponent("optimizer.safetensors")
            if let writeOptimizer { try writeOptimizer(optimizerURL) } else { try writeOptimizerState(optimizer, to: optimizerURL) }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try enc.encode(state), to: tmp.appendingPathComponent("trainer_state.json").path)
            if let tok = tokenizer, fm.fileExists(atPath: tok.path) {
                try fm.copyItem(at: tok, to: tmp.appendingPathComponent("tokenizer.model"))
            }
            AtomicFile.syncFolder(tmp.path)
            if fm.fileExists(atPath: final.path) { try fm.removeItem(at: final) }
            try fm.moveItem(at: tmp, to: final)
            AtomicFile.syncFolder(dir.path)
        } catch {
            try? fm.removeItem(at: tmp)
            throw ConfigError("\(final.path): saving the checkpoint failed (\(error)); the previous checkpoints are untouched")
        }
        return final
    }

    /// Files every complete checkpoint holds (tokenizer.model is optional).
    static let requiredFiles = ["model.safetensors", "config.json", "optimizer.safetensors", "trainer_state.json"]

    /// Completed checkpoints in `dir` (folders step-N holding every required file), ordered by
    /// their step number (not by name, which breaks past 8 digits), oldest first.
    public static func list(in dir: URL) -> [URL] {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
        let steps: [(Int, URL)] = names.compactMap { name in
            guard name.hasPrefix(prefix), let step = Int(name.dropFirst(prefix.count)), step >= 0 else { return nil }
            let url = dir.appendingPathComponent(name)
            guard requiredFiles.allSatisfy({ fm.fileExists(atPath: url.appendingPathComponent($0).path) }) else { return nil }
            return (step, url)
        }
        return steps.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Removes all but the newest `keep` checkpoints, and stale temporary folders.
    public static func prune(in dir: URL, keep: Int) {
        let fm = FileManager.default
        let all = list(in: dir)
        for old in all.dropLast(keep) {
            // Renamed out of the step-N names first (atomic), so a kill mid-removal never
            // leaves a partial folder that looks like a checkpoint; leftovers go next time.
            let doomed = dir.appendingPathComponent(".tmp-delete-\(old.lastPathComponent)-\(getpid())")
            if (try? fm.moveItem(at: old, to: doomed)) != nil { try? fm.removeItem(at: doomed) }
        }
        for name in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] where name.hasPrefix(".tmp-") {
            try? fm.removeItem(at: dir.appendingPathComponent(name))
        }
    }

    /// The checkpoint to resume from: `url` itself if it is one, else the newest in
    /// `url/checkpoints` or `url`.
    public static func resolve(_ url: URL) throws -> URL {
        let fm = FileManager.default
        if fm.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path) { return url }
        for dir in [url.appendingPathComponent("checkpoints"), url] {
            if let last = list(in: dir).last { return last }
        }
        throw ConfigError("\(url.path): no checkpoint found (expected a folder with trainer_state.json, or a run folder with checkpoints/step-*)")
    }

    /// Reads the trainer state of checkpoint `dir`.
    public static func readState(_ dir: URL) throws -> TrainerState {
        let url = dir.appendingPathComponent("trainer_state.json")
        let state: TrainerState
        do {
            state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: url))
        } catch let DecodingError.keyNotFound(key, _) {
            throw ConfigError("\(url.path): the key \"\(key.stringValue)\" is missing; the checkpoint is damaged")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ConfigError("\(url.path): \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type or is null; the checkpoint is damaged")
        } catch let e as DecodingError {
            throw ConfigError("\(url.path): not a trainer state (\(e.localizedDescription)); the checkpoint is damaged")
        } catch {
            throw ConfigError("\(url.path): cannot read the trainer state (\(error.localizedDescription)); the checkpoint is damaged")
        }
        // Values no run writes: refuse them here rather than trap or mis-train later.
        if state.formatVersion != 1 {
            throw ConfigError("\(url.path): format_version \(state.formatVersion) is not one this swift-train reads (1); it was written by another version")
        }
        let limit = 1 << 53
        for (name, v) in [("step", state.step), ("nextBatch", state.nextBatch), ("tokensSeen", state.tokensSeen)]
            where v < 0 || v > limit {
            throw ConfigError("\(url.path): \(name) = \(v) is outside 0…2^53, which no run writes; the checkpoint is damaged")
        }
        if !state.elapsedSeconds.isFinite || state.elapsedSeconds < 0 {
            throw ConfigError("\(url.path): elapsedSeconds = \(state.elapsedSeconds) is not a time any run writes; the checkpoint is damaged")
        }
        // A run's checkpoint folder is named after its step (step-00000250).
        let folder = dir.lastPathComponent
        if folder.hasPrefix(prefix), let named = Int(folder.dropFirst(prefix.count)), named != state.step {
            throw ConfigError("\(url.path): step = \(state.step) but the checkpoint folder is \(folder); the checkpoint is damaged")
        }
        return state
    }

    /// Loads the weights of checkpoint `dir` (or a bare .safetensors file) into `model`.
    public static func loadWeights(_ file: URL, into model: Llama) throws {
        let st = try SafeTensors.read(from: file)
        var problems: [String] = []
        let names = Set(st.names)
        for p in model.parameters {
            guard names.contains(p.name) else { problems.append("missing \(p.name) \(p.shape)"); continue }
            let shape = st.entry(named: p.name)?.shape ?? []
            if shape != p.shape { problems.append("\(p.name): shape \(shape) in the file, \(p.shape) in the model") }
            if st.entry(named: p.name)?.dtype == .u8 { problems.append("\(p.name): dtype U8; weights must be F32, F16 or BF16") }
        }
        let expected = Set(model.parameters.map(\.name))
        // Older transformers saved the rotary table as a buffer; it is derived, not trained.
        for n in st.names where !expected.contains(n) && !n.hasSuffix("rotary_emb.inv_freq") {
            problems.append("unexpected \(n)")
        }
        if !problems.isEmpty {
            let list = problems.prefix(12).joined(separator: "\n  ")
            throw ConfigError("\(file.path): weights do not match the model config:\n  \(list)\(problems.count > 12 ? "\n  … and \(problems.count - 12) more" : "")")
        }
        for p in model.parameters {
            p.tensor.copy(from: try st.tensor(named: p.name))
            if !p.tensor.sumOfSquares().isFinite {
                throw ConfigError("\(file.path): \(p.name) holds NaN or infinite values; these weights are damaged (or come from a diverged run), pick another file")
            }
        }
    }

    /// Writes every optimizer state buffer under its own dtype (F32 moments and statistics,
    /// U8 codes of 8-bit state), with the optimizer's name and state bits as metadata.
    static func writeOptimizerState(_ optimizer: Optimizer, to url: URL) throws {
        let buffers = optimizer.stateBuffers()
        var entries: [(name: String, payload: SafeTensors.Payload)] = []
        func collect(_ i: Int) throws {
            if i == buffers.count {
                try SafeTensors.write(entries: entries, metadata: optimizer.stateMetadata, to: url)
                return
            }
            switch buffers[i].buffer {
            case .f32(let t):
                entries.append((buffers[i].name, .f32(t)))
                try collect(i + 1)
            case .u8(let b):
                try withExtendedLifetime(b) {
                    entries.append((buffers[i].name, .u8(shape: b.shape, bytes: UnsafeRawBufferPointer(start: b.pointer, count: b.count))))
                    try collect(i + 1)
                }
            }
        }
        try collect(0)
    }

    /// Loads the optimizer state of checkpoint `dir` into `optimizer`, with the scalars of
    /// `state`, after checking that it is this optimizer's and that every buffer is present
    /// with its dtype and shape (errors name the buffer and the file).
    public static func loadOptimizer(_ dir: URL, into optimizer: Optimizer, state: TrainerState) throws {
        let url = dir.appendingPathComponent("optimizer.safetensors")
        if state.optimizer != optimizer.name {
            throw ConfigError("\(dir.path): the checkpoint was trained with optimizer \(state.optimizer), this run uses \(optimizer.name); resume with the checkpoint's optimizer or start a new run with another --out")
        }
        do {
            let st = try SafeTensors.read(from: url)
            var buffers: [String: SavedBuffer] = [:]
            for e in st.entries {
                switch e.dtype {
                case .u8: buffers[e.name] = .u8(shape: e.shape, bytes: try st.bytes(named: e.name))
                case .f32: buffers[e.name] = .f32(try st.tensor(named: e.name))
                case .f16, .bf16:
                    throw OptimizerError("optimizer state buffer \"\(e.name)\" is \(e.dtype.rawValue); swift-train writes F32 and U8 state only")
                }
            }
            try optimizer.restoreState(buffers: buffers, metadata: st.metadata, scalars: state.optimizerScalars)
        } catch let e as OptimizerError {
            throw ConfigError("\(url.path): \(e.description)")
        } catch let e as SafeTensorsError {
            throw ConfigError("\(e.description); the checkpoint's optimizer state is damaged")
        }
    }
}

extension Checkpoint {
    /// The model of checkpoint `dir`: its config.json and model.safetensors, with the
    /// adapters of adapters.safetensors attached when the checkpoint has them.
    public static func loadModel(_ dir: URL) throws -> Llama {
        let config: LlamaConfig
        do { config = try LlamaConfig(contentsOf: dir.appendingPathComponent("config.json")) } catch let e as ModelConfigError {
            throw ConfigError(e.description)
        }
        // The weights file must hold at least 2 bytes (F16 / BF16) a parameter of the shape
        // before the model is built (a config.json edited to a larger shape would otherwise
        // allocate it first).
        let weights = dir.appendingPathComponent("model.safetensors")
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: weights.path)[.size] as? Int) ?? nil
        if let fileBytes, Double(fileBytes) < 2 * Double(config.parameterCount) {
            throw ConfigError("\(weights.path) holds \(fileBytes) bytes, too few for the \(config.parameterCount) parameters of the shape in \(dir.appendingPathComponent("config.json").path); the two files are not from the same checkpoint")
        }
        let model = Llama(config: config, seed: 0)
        try loadWeights(weights, into: model)
        try loadAdaptersIfPresent(dir, into: model)
        return model
    }
}
