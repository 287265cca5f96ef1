// `swift-train sample` through the built binary: --context is validated with a message naming
// the flag, a run past the window works and reports its speed on stderr; and the Sampler
// behind it draws with the key/value cache exactly the tokens of full recomputation.
import Foundation
import XCTest
import LlamaModel
import Tensors
import Training

final class SampleCommandTests: XCTestCase {
    func assertError(_ args: [String], in dir: URL? = nil, contains needles: [String],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLIRunner.run(args, in: dir)
        XCTAssertTrue(r.exited, "trapped: \(r.err)", file: file, line: line)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        for n in needles { XCTAssertTrue(r.err.contains(n), "expected \"\(n)\" in: \(r.err)", file: file, line: line) }
    }

    func testContextBelowOneIsRefusedBeforeLoading() throws {
        try assertError(["sample", "--checkpoint", "/nonexistent/run", "--context", "0"], contains: ["--context", "at least 1"])
    }

    /// A micro model (max_position_embeddings 64) trained for a few steps on the shared fixture.
    func testContextFlagOnATinyCheckpoint() throws {
        let dir = try CLIRunner.preparedCorpus("sample", seed: 3)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"vocab_size": 300, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64}"#.utf8)
            .write(to: dir.appendingPathComponent("model.json"))
        let train = try CLIRunner.run(["train", "--model", "model.json", "--data", "data", "--out", "run", "--steps", "3",
                                       "--batch-size", "2", "--seq-len", "16", "--eval-batches", "1"], in: dir)
        XCTAssertEqual(train.status, 0, train.err)

        try assertError(["sample", "--checkpoint", "run", "--context", "65"], in: dir,
                        contains: ["--context 65", "max_position_embeddings (64)"])
        try assertError(["sample", "--checkpoint", "run", "--context", "-3"], in: dir, contains: ["--context"])

        // 40 tokens through a window of 8: rebuilt several times, never more than 8 positions.
        let r = try CLIRunner.run(["sample", "--checkpoint", "run", "--prompt", "in the", "--tokens", "40",
                                   "--context", "8", "--seed", "2"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.hasPrefix("in the"), r.out)
        XCTAssertTrue(r.err.contains("generated 40 tokens in "), r.err)
        XCTAssertTrue(r.err.contains("tokens/s; prompt "), r.err)
        XCTAssertTrue(r.err.contains("context window 8 rebuilt"), r.err)

        // Default window (64): 20 tokens fit, so no rebuild.
        let d = try CLIRunner.run(["sample", "--checkpoint", "run", "--prompt", "in the", "--tokens", "20"], in: dir)
        XCTAssertEqual(d.status, 0, d.err)
        XCTAssertTrue(d.err.contains("generated 20 tokens"), d.err)
        XCTAssertFalse(d.err.contains("rebuilt"), d.err)
    }

    /// Sampler.generate (cached) against Sampler.generateRecomputing, same seed, 40 tokens
    /// within the window: temperature 0.8 with all tokens, with top-k 10, and greedy.
    func testSamplerDrawsTheSameTokensWithTheCache() {
        let config = LlamaConfig(vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2,
                                 numAttentionHeads: 4, maxPositionEmbeddings: 64)
        var rng = RandomGenerator(seed: 21)
        let model = Llama(config: config) { shape, role in
            role == .norm ? Tensor.randn(shape, std: 0.2, mean: 1, rng: &rng) : Tensor.randn(shape, std: 0.3, rng: &rng)
        }
        let prompt: [Int32] = [3, 14, 15, 9, 26]
        for (temperature, topK) in [(0.8, 0), (0.8, 10), (0.0, 0)] {
            var cached = Sampler(model: model, temperature: temperature, topK: topK, seed: 5)
            var full = Sampler(model: model, temperature: temperature, topK: topK, seed: 5)
            let a = cached.generate(prompt: prompt, count: 40, window: 64)
            let b = full.generateRecomputing(prompt: prompt, count: 40, window: 64)
            XCTAssertEqual(a, b, "temperature \(temperature), top-k \(topK)")
            XCTAssertEqual(cached.timing.generatedTokens, 40)
            XCTAssertEqual(cached.timing.promptTokens, 5)
            XCTAssertEqual(cached.timing.refills, 0)
        }
        // A tokenizer smaller than the model's vocabulary: only its ids are drawn.
        var limited = Sampler(model: model, temperature: 2.0, topK: 0, seed: 9)
        limited.vocabularyLimit = 10
        XCTAssertTrue(limited.generate(prompt: prompt, count: 200, window: 64).dropFirst(prompt.count).allSatisfy { $0 < 10 })
        // Past a window of 16 the cached sampler still runs (rebuilding) and keeps the prompt.
        var s = Sampler(model: model, temperature: 0.8, topK: 0, seed: 1)
        let long = s.generate(prompt: prompt, count: 50, window: 16)
        XCTAssertEqual(long.count, 55)
        XCTAssertEqual(Array(long.prefix(5)), prompt)
        XCTAssertGreaterThan(s.timing.refills, 0)
    }
}
