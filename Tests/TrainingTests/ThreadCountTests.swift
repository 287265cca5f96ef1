// A training run logs bitwise the same losses and gradient norms on one thread as on two:
// a large product is two half products whatever the thread count, and the elementwise loops
// split by rows or fixed blocks.
import Foundation
import XCTest
import Tensors
import Training

final class ThreadCountTests: XCTestCase {
    /// d 128, I 352 and 256 tokens per micro-batch: the MLP's products are large enough to be
    /// computed in halves (BLAS.halfCut).
    func testRunIsBitwiseTheSameOnOneAndTwoThreads() throws {
        let saved = Parallel.threads
        defer { Parallel.setThreads(saved) }
        XCTAssertNotNil(BLAS.halfCut(m: 256, n: 352, k: 128), "the test needs products in halves")
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = #"{"vocab_size": 320, "hidden_size": 128, "intermediate_size": 352, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64}"#
        var lines: [[String]] = []
        for threads in [1, 2] {
            let out = root.appendingPathComponent("threads-\(threads)")
            let extra = ["threads": "\(threads)", "batch_size": "8", "seq_len": "32", "grad_accum": "1"]
            _ = try Trainer(config: TrainerFixture.config(out: out, steps: 4, extra: extra, model: model)).run()
            let text = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            lines.append(text.split(separator: "\n").filter { $0.contains("\"loss\"") }.map { line in
                let o = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                return "\(o["step"]!) loss \(o["loss"]!) grad_norm \(o["grad_norm"]!)"
            })
        }
        XCTAssertEqual(lines[0].count, 4)
        XCTAssertEqual(lines[0], lines[1])
    }
}
