// LlamaConfig: the model hyperparameters, read from and written as a Hugging Face llama
// `config.json` (keys of `transformers.LlamaConfig`), so configs of the GaLore / APOLLO
// repositories load unchanged and checkpoints open in Hugging Face tools.
import Foundation
import Tensors

public struct LlamaConfig: Equatable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var initializerRange: Double

    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, maxPositionEmbeddings: Int = 2048, rmsNormEps: Double = 1e-6,
                ropeTheta: Double = 10000, initializerRange: Double = 0.02) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.initializerRange = initializerRange
    }

    /// d / H.
    public var headDim: Int { hiddenSize / max(numAttentionHeads, 1) }

    /// Total trainable parameters: 2·V·d (untied embedding and head) + L·(4d² + 3·d·I + 2d) + d.
    public var parameterCount: Int {
        let d = hiddenSize, i = intermediateSize
        return 2 * vocabSize * d + numHiddenLayers * (4 * d * d + 3 * d * i + 2 * d) + d
    }
}

/// A model-configuration problem, naming the key and the fix.
public struct ModelConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension LlamaConfig {
    static let requiredKeys = ["vocab_size", "hidden_size", "intermediate_size",
                               "num_hidden_layers", "num_attention_heads"]
    /// Keys of a Hugging Face llama config that this model reads; others (architectures,
    /// bos_token_id, use_cache, torch_dtype, …) are accepted and ignored.
    public static let knownKeys = requiredKeys + ["max_position_embeddings", "max_sequence_length",
        "rms_norm_eps", "rope_theta", "initializer_range", "tie_word_embeddings",
        "num_key_value_heads", "hidden_act", "attention_bias", "mlp_bias", "rope_scaling", "head_dim"]

    /// Reads a config from a JSON object with Hugging Face keys. `source` names where it
    /// came from, for error messages.
    public init(json: [String: JSONValue], source: String) throws {
        func int(_ key: String) throws -> Int? {
            guard let v = json[key], v != .null else { return nil }
            if let i = v.integer { return i }
            throw ModelConfigError("\(source): \"\(key)\" must be an integer, got \(v.described)")
        }
        func double(_ key: String) throws -> Double? {
            guard let v = json[key], v != .null else { return nil }
            if let d = v.number { return d }
            throw ModelConfigError("\(source): \"\(key)\" must be a number, got \(v.described)")
        }
        for key in LlamaConfig.requiredKeys where json[key] == nil || json[key] == .null {
            throw ModelConfigError("\(source): \(json[key] == nil ? "missing" : "null") \"\(key)\" (a Hugging Face llama config needs an integer for each of \(LlamaConfig.requiredKeys.joined(separator: ", ")))")
        }
        self.init(vocabSize: try int("vocab_size")!, hiddenSize: try int("hidden_size")!,
                  intermediateSize: try int("intermediate_size")!,
                  numHiddenLayers: try int("num_hidden_layers")!,
                  numAttentionHeads: try int("num_attention_heads")!)
        if let v = try int("max_position_embeddings") ?? int("max_sequence_length") { maxPositionEmbeddings = v }
        if let v = try double("rms_norm_eps") { rmsNormEps = v }
        if let v = try double("rope_theta") { ropeTheta = v }
        if let v = try double("initializer_range") { initializerRange = v }
        if let kv = try int("num_key_value_heads"), kv != numAttentionHeads {
            throw ModelConfigError("\(source): \"num_key_value_heads\" = \(kv) differs from \"num_attention_heads\" = \(numAttentionHeads); grouped-query attention is not supported (remove the key or set it equal)")
        }
        // Flags and names of a wrong type would otherwise read as absent.
        for key in ["tie_word_embeddings", "attention_bias", "mlp_bias"] {
            if let v = json[key], v != .null, v.bool == nil {
                throw ModelConfigError("\(source): \"\(key)\" must be true or false, got \(v.described)")
            }
        }
        if let v = json["hidden_act"], v != .null, v.string == nil {
            throw ModelConfigError("\(source): \"hidden_act\" must be a string (\"silu\"), got \(v.described)")
        }
        if json["tie_word_embeddings"]?.bool == true {
            throw ModelConfigError("\(source): \"tie_word_embeddings\": true is not supported; LLaMA here has its own lm_head (set it to false)")
        }
        if let scaling = json["rope_scaling"], scaling != .null {
            throw ModelConfigError("\(source): \"rope_scaling\" = \(scaling.described) is not supported (plain rotary embeddings only); remove it or set it to null")
        }
        for key in ["attention_bias", "mlp_bias"] where json[key]?.bool == true {
            throw ModelConfigError("\(source): \"\(key)\": true is not supported; LLaMA here has no biases (set it to false)")
        }
        if let act = json["hidden_act"]?.string, act != "silu" {
            throw ModelConfigError("\(source): \"hidden_act\" = \"\(act)\" is not supported (LLaMA uses \"silu\")")
        }
        if let hd = try int("head_dim"), numAttentionHeads > 0, hd != hiddenSize / numAttentionHeads {
            throw ModelConfigError("\(source): \"head_dim\" = \(hd) must equal hidden_size / num_attention_heads = \(hiddenSize / numAttentionHeads)")
        }
        try validate(source: source)
    }

    /// Reads a Hugging Face `config.json`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelConfigError("\(url.path): cannot read the model config (\(error.localizedDescription))")
        }
        guard let obj = try JSONValue.parse(data, source: url.path).object else {
            throw ModelConfigError("\(url.path): not a JSON object; expected a Hugging Face llama config.json")
        }
        try self.init(json: obj, source: url.path)
    }

    /// Checks that the shape is buildable; errors name the key and the fix.
    public func validate(source: String) throws {
        func positive(_ v: Int, _ key: String) throws {
            if v <= 0 { throw ModelConfigError("\(source): \"\(key)\" must be positive, got \(v)") }
        }
        try positive(vocabSize, "vocab_size")
        try positive(hiddenSize, "hidden_size")
        try positive(intermediateSize, "intermediate_size")
        try positive(numHiddenLayers, "num_hidden_layers")
        try positive(numAttentionHeads, "num_attention_heads")
        try positive(maxPositionEmbeddings, "max_position_embeddings")
        // Far past any model trained on a CPU, and small enough that every count (parameters,
        // FLOPs, buffer sizes) fits 64 bits.
        func atMost(_ v: Int, _ limit: Int, _ key: String) throws {
            if v > limit {
                throw ModelConfigError("\(source): \"\(key)\" \(v) is above \(limit), more than this program can allocate or count; use a smaller value")
            }
        }
        try atMost(hiddenSize, 1 << 16, "hidden_size")
        try atMost(intermediateSize, 1 << 18, "intermediate_size")
        try atMost(numHiddenLayers, 1 << 12, "num_hidden_layers")
        try atMost(numAttentionHeads, hiddenSize, "num_attention_heads")
        try atMost(maxPositionEmbeddings, 1 << 24, "max_position_embeddings")
        // The rotary table (cos and sin of every position) is built with the model.
        let tableBytes = Double(maxPositionEmbeddings) * Double(hiddenSize / numAttentionHeads) * 4
        if tableBytes > Double(ProcessInfo.processInfo.physicalMemory) / 4 {
            throw ModelConfigError(String(format: "%@: \"max_position_embeddings\" %ld needs a rotary table of %.1f GiB, more than a quarter of this machine's memory; lower it (a run needs only seq_len positions)", source, maxPositionEmbeddings, tableBytes / 1_073_741_824))
        }
        if hiddenSize % numAttentionHeads != 0 {
            throw ModelConfigError("\(source): \"hidden_size\" \(hiddenSize) is not divisible by \"num_attention_heads\" \(numAttentionHeads); pick heads that divide it (e.g. \(divisors(of: hiddenSize).suffix(4).map(String.init).joined(separator: ", ")))")
        }
        if headDim % 2 != 0 {
            throw ModelConfigError("\(source): head dimension hidden_size / num_attention_heads = \(headDim) must be even for rotary embeddings")
        }
        if vocabSize > 65_535 + 1 {
            throw ModelConfigError("\(source): \"vocab_size\" \(vocabSize) is larger than 65,536, the most uint16 token shards can index")
        }
        if !(rmsNormEps > 0) { throw ModelConfigError("\(source): \"rms_norm_eps\" must be positive, got \(rmsNormEps)") }
        if !(ropeTheta > 0) { throw ModelConfigError("\(source): \"rope_theta\" must be positive, got \(ropeTheta)") }
        if !(initializerRange > 0) { throw ModelConfigError("\(source): \"initializer_range\" must be positive, got \(initializerRange)") }
        // The run computes in 32-bit floats: each must stay a normal, finite Float.
        for (key, v) in [("rms_norm_eps", rmsNormEps), ("rope_theta", ropeTheta), ("initializer_range", initializerRange)] {
            let f = Float(v)
            if !f.isFinite || !f.isNormal {
                throw ModelConfigError("\(source): \"\(key)\" \(v) becomes \(f.isFinite ? "0 or subnormal" : "infinite") as a 32-bit float, which the run computes in; use a value between 1.2e-38 and 3.4e38")
            }
        }
    }

    private func divisors(of n: Int) -> [Int] { (1...max(1, min(n, 64))).filter { n % $0 == 0 } }

    /// The Hugging Face `config.json` object for this model.
    public var huggingFaceJSON: [String: Any] {
        [
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": vocabSize,
            "hidden_size": hiddenSize,
            "intermediate_size": intermediateSize,
            "num_hidden_layers": numHiddenLayers,
            "num_attention_heads": numAttentionHeads,
            "num_key_value_heads": numAttentionHeads,
            "max_position_embeddings": maxPositionEmbeddings,
            "rms_norm_eps": rmsNormEps,
            "rope_theta": ropeTheta,
            "initializer_range": initializerRange,
            "hidden_act": "silu",
            "tie_word_embeddings": false,
            "attention_bias": false,
            "mlp_bias": false,
            "torch_dtype": "float32",
        ]
    }

    /// `huggingFaceJSON` serialised with sorted keys.
    public func huggingFaceJSONData() throws -> Data {
        try JSONSerialization.data(withJSONObject: huggingFaceJSON, options: [.prettyPrinted, .sortedKeys])
    }
}
