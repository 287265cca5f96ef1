// A checkpoint's adapters.safetensors: the tensor-train adapters of an adapter run (AdaZeta
// and the other optimizers with `adapters: tt`), kept apart from model.safetensors so that
// the base model stays loadable by Hugging Face exactly as before. The header's metadata
// records the adapters' structure (rank, bottleneck, modes, activation, placement, init), so
// `eval` and `sample` rebuild them from the file alone.
import Foundation
import LlamaModel
import Tensors

extension Checkpoint {
    static let adapterFile = "adapters.safetensors"

    /// Writes every adapter tensor (F32) with the adapters' structure as metadata.
    static func writeAdapters(_ adapters: LlamaAdapters, to url: URL) throws {
        try SafeTensors.write(adapters.parameters.map { ($0.name, $0.tensor) },
                              metadata: adapters.config.metadata.merging(["format": "pt"]) { a, _ in a }, to: url)
    }

    /// Reads the structure recorded in an adapters file.
    public static func adapterConfig(of url: URL) throws -> AdapterConfig {
        do {
            return try AdapterConfig(metadata: try SafeTensors.read(from: url).metadata)
        } catch let e as SafeTensorsError {
            throw ConfigError("\(e.description); the adapters file is damaged")
        } catch let e as TensorTrainError {
            throw ConfigError("\(url.path): \(e.description)")
        }
    }

    /// Loads adapter weights from `url` into `model`'s attached adapters, after checking that
    /// the structure matches, every adapter tensor is present with its shape, nothing else
    /// is, and all values are finite.
    public static func loadAdapters(_ url: URL, into model: Llama) throws {
        guard let adapters = model.adapters else {
            throw ConfigError("\(url.path): this run attaches no adapters; set adapters to tt to load them")
        }
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ConfigError("\(url.path) is missing: the checkpoint of an adapter run must hold its adapters; the checkpoint is damaged, resume from another one")
        }
        let saved = try adapterConfig(of: url)
        if saved != adapters.config {
            throw ConfigError("\(url.path): the adapters were made with \(describe(saved)), this run asks for \(describe(adapters.config)); use the same adapter_* settings")
        }
        let st: SafeTensorsFile
        do { st = try SafeTensors.read(from: url) } catch let e as SafeTensorsError {
            throw ConfigError("\(e.description); the adapters file is damaged")
        }
        let expected = Set(adapters.parameters.map(\.name))
        var problems: [String] = []
        for p in adapters.parameters {
            guard let e = st.entry(named: p.name) else { problems.append("missing \(p.name) \(p.shape)"); continue }
            if e.shape != p.shape { problems.append("\(p.name): shape \(e.shape) in the file, \(p.shape) expected") }
            if e.dtype == .u8 { problems.append("\(p.name): dtype U8; adapter weights must be F32, F16 or BF16") }
        }
        for n in st.names where !expected.contains(n) { problems.append("unexpected \(n)") }
        if !problems.isEmpty {
            throw ConfigError("\(url.path): adapters do not match the model:\n  \(problems.prefix(12).joined(separator: "\n  "))")
        }
        for p in adapters.parameters {
            p.tensor.copy(from: try st.tensor(named: p.name))
            if !p.tensor.sumOfSquares().isFinite {
                throw ConfigError("\(url.path): \(p.name) holds NaN or infinite values; the adapters are damaged")
            }
        }
    }

    /// Attaches and loads the adapters of checkpoint `dir` when it has an adapters file.
    static func loadAdaptersIfPresent(_ dir: URL, into model: Llama) throws {
        let url = dir.appendingPathComponent(adapterFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        do { try model.attachAdapters(try adapterConfig(of: url), seed: 0) } catch let e as TensorTrainError {
            throw ConfigError("\(url.path): \(e.description)")
        }
        try loadAdapters(url, into: model)
    }

    static func describe(_ c: AdapterConfig) -> String {
        c.metadata.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}
