// The fine-tuning workflow through the built binary: pre-train a micro model, fine-tune it
// with `--init-from … --optimizer adazeta` (TT adapters) and with mezo, then `eval` and
// `sample` the adapter checkpoint (they load adapters.safetensors beside the base weights);
// and the zeroth-order settings refused with messages naming the key.
import Foundation
import XCTest

final class FineTuneCommandTests: XCTestCase {
    func testPretrainFineTuneEvalAndSampleWithAdapters() throws {
        let dir = try CLIRunner.preparedCorpus("finetune", seed: 5)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"vocab_size": 300, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64}"#.utf8)
            .write(to: dir.appendingPathComponent("model.json"))
        let common = ["--model", "model.json", "--data", "data", "--batch-size", "4", "--seq-len", "16", "--eval-batches", "2"]
        let pre = try CLIRunner.run(["train"] + common + ["--out", "pre", "--steps", "20"], in: dir)
        XCTAssertEqual(pre.status, 0, pre.err)
        let base = "pre/checkpoints/step-00000020/model.safetensors"

        let ada = try CLIRunner.run(["train"] + common + ["--out", "ada", "--steps", "4", "--init-from", base, "--optimizer", "adazeta",
                                                          "--lr", "0.001", "--adapter-rank", "2", "--adapter-bottleneck", "8"], in: dir)
        XCTAssertEqual(ada.status, 0, ada.err)
        XCTAssertTrue(ada.out.contains("optimizer state   0 bytes"), ada.out)
        let metrics = try String(contentsOf: dir.appendingPathComponent("ada/metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("\"projected_grad\""), metrics)
        XCTAssertFalse(metrics.contains("\"grad_norm\""), metrics)
        let ckpt = dir.appendingPathComponent("ada/checkpoints/step-00000004")
        for f in ["model.safetensors", "adapters.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: ckpt.appendingPathComponent(f).path), f)
        }
        let eval = try CLIRunner.run(["eval", "--checkpoint", "ada"], in: dir)
        XCTAssertEqual(eval.status, 0, eval.err)
        XCTAssertTrue(eval.out.contains("adapter tensors"), eval.out)
        let sample = try CLIRunner.run(["sample", "--checkpoint", "ada", "--prompt", "the", "--tokens", "8", "--seed", "1"], in: dir)
        XCTAssertEqual(sample.status, 0, sample.err)

        let mezo = try CLIRunner.run(["train"] + common + ["--out", "mezo", "--steps", "3", "--init-from", base, "--optimizer", "mezo",
                                                           "--lr", "1e-4", "--zo-queries", "2"], in: dir)
        XCTAssertEqual(mezo.status, 0, mezo.err)
        // A resumed adapter run continues from its adapters.
        let resumed = try CLIRunner.run(["train", "--resume", "ada", "--steps", "6"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.err)

        // Refusals name the key and the fix.
        for (args, needles) in [
            (["--optimizer", "adazeta", "--adapters", "none"], ["adapters", "adazeta"]),
            (["--optimizer", "mezo", "--grad-accum", "2"], ["grad_accum", "mezo"]),
            (["--optimizer", "mezo", "--zo-eps", "0"], ["--zo-eps", "(0, 1)"]),
            (["--optimizer", "adazeta", "--zo-queries-max", "0"], ["--zo-queries-max"]),
            (["--optimizer", "adazeta", "--adapter-model-modes", "4,4,4"], ["adapter_model_modes", "32"]),
            (["--optimizer", "adazeta", "--adapter-model-modes", "4,x"], ["--adapter-model-modes", "16,16,16"]),
            (["--optimizer", "adamw", "--zo-eps", "0.01"], ["zo_eps", "mezo"]),
        ] {
            let r = try CLIRunner.run(["train"] + common + ["--out", "bad", "--steps", "2", "--init-from", base] + args, in: dir)
            XCTAssertTrue(r.exited, "trapped: \(r.err)")
            XCTAssertNotEqual(r.status, 0, "\(args)")
            for n in needles { XCTAssertTrue(r.err.contains(n), "\(args): expected \"\(n)\" in: \(r.err)") }
        }
    }
}
