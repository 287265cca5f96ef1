// TrainerFixture: a small real data folder (SentencePiece tokenizer + llm.c shards made by
// the prepare pipeline from generated text) and a micro run config, shared by the trainer tests.
import Foundation
import TextData
import Training

enum TrainerFixture {
    /// A data folder built once per test process.
    static let dataFolder: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swift-train-fixture-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var text = ""
        var state: UInt64 = 42
        let words = ["the", "light", "water", "earth", "and", "said", "god", "day", "night", "upon", "face", "deep",
                     "was", "good", "made", "heaven", "firmament", "divided", "evening", "morning", "seed", "tree"]
        for line in 0..<1500 {
            var sentence: [String] = []
            for _ in 0..<(6 + line % 7) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                sentence.append(words[Int(state >> 33) % words.count])
            }
            text += sentence.joined(separator: " ") + ".\n"
        }
        let input = dir.appendingPathComponent("corpus.txt")
        try! Data(text.utf8).write(to: input)
        var options = PrepareOptions(inputs: [input.path], outputDirectory: dir.appendingPathComponent("data").path)
        options.vocabSize = 300
        options.valFraction = 0.1
        options.showProgress = false
        _ = try! Prepare.run(options)
        return dir.appendingPathComponent("data")
    }()

    /// A micro run (d 32, 2 layers) on the fixture data writing into a fresh temporary folder.
    static func config(out: URL, steps: Int, optimizer: String = "adamw", extra: [String: String] = [:],
                       model modelJSON: String = #"{"vocab_size": 320, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64}"#) throws -> RunConfig {
        var c = RunConfig()
        let model = out.deletingLastPathComponent().appendingPathComponent("model-\(UUID().uuidString).json")
        try Data(modelJSON.utf8).write(to: model)
        let settings: [String: String] = [
            "model": model.path, "data": dataFolder.path, "out": out.path, "optimizer": optimizer,
            "lr": "0.003", "steps": "\(steps)", "batch_size": "4", "seq_len": "16", "grad_accum": "2",
            "warmup_steps": "3", "log_every": "1", "eval_every": "0", "eval_batches": "2", "grad_clip": "1.0",
            "checkpoint_every": "0", "seed": "7",
        ].merging(extra) { $1 }
        for (k, v) in settings.sorted(by: { $0.key < $1.key }) { try c.set(k, text: v) }
        return c
    }

    static func tempDir() -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("swift-train-run-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// (step, loss) of every training line of OUT/metrics.jsonl, losses as written (exact text).
    static func losses(_ out: URL) throws -> [(Int, String)] {
        let text = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard line.contains("\"loss\"") else { return nil }
            let o = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let loss = line.components(separatedBy: "\"loss\": ")[1].components(separatedBy: ",")[0]
            return (o["step"] as! Int, loss)
        }
    }
}
