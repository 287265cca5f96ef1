// LlamaConfig: Hugging Face keys in and out, and errors that name the key.
import Foundation
import XCTest
import LlamaModel
import Tensors

final class LlamaConfigTests: XCTestCase {
    func parse(_ text: String) throws -> LlamaConfig {
        try LlamaConfig(json: try JSONValue.parse(Data(text.utf8), source: "t.json").object!, source: "t.json")
    }

    func testReadsGaLoreStyleConfig() throws {
        let c = try parse(#"{"architectures": ["LLaMAForCausalLM"], "bos_token_id": 0, "hidden_act": "silu", "hidden_size": 512, "intermediate_size": 1376, "initializer_range": 0.02, "max_sequence_length": 1024, "model_type": "llama", "num_attention_heads": 8, "num_hidden_layers": 8, "rms_norm_eps": 1e-06, "vocab_size": 32000, "use_cache": true}"#)
        XCTAssertEqual(c.maxPositionEmbeddings, 1024)
        XCTAssertEqual(c.headDim, 64)
        XCTAssertEqual(c.parameterCount, 58_073_600)  // 58.07M, field-notes A.1
    }

    func testErrorsNameTheKey() {
        func msg(_ t: String) -> String { do { _ = try parse(t); return "" } catch { return "\(error)" } }
        XCTAssertTrue(msg(#"{"hidden_size": 8}"#).contains("missing \"vocab_size\""))
        XCTAssertTrue(msg(#"{"vocab_size": 10, "hidden_size": 10, "intermediate_size": 4, "num_hidden_layers": 1, "num_attention_heads": 3}"#).contains("not divisible"))
        XCTAssertTrue(msg(#"{"vocab_size": "x", "hidden_size": 8, "intermediate_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2}"#).contains("\"vocab_size\" must be an integer"))
        XCTAssertTrue(msg(#"{"vocab_size": 10, "hidden_size": 8, "intermediate_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2, "tie_word_embeddings": true}"#).contains("tie_word_embeddings"))
    }

    func testHuggingFaceOutputRoundTrips() throws {
        let c = LlamaConfig(vocabSize: 100, hiddenSize: 16, intermediateSize: 40, numHiddenLayers: 3, numAttentionHeads: 4)
        let back = try LlamaConfig(json: try JSONValue.parse(try c.huggingFaceJSONData(), source: "x").object!, source: "x")
        XCTAssertEqual(back, c)
        XCTAssertEqual(c.huggingFaceJSON["model_type"] as? String, "llama")
    }
}
