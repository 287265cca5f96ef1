// Divergence is a named event: a run whose loss or gradient turns non-finite, or whose
// gradient collapses to exactly zero, stops after max_bad_steps bad steps in a row with the
// steps and the first non-finite parameter named, writes a bad_step line for each, and never
// checkpoints over the last good weights.
import Foundation
import XCTest
import Training

final class DivergenceTests: XCTestCase {
    func testADivergingRunStopsNamingTheStepsAndKeepsTheGoodCheckpoint() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        let config = try TrainerFixture.config(out: out, steps: 40, extra: [
            "lr": "100000", "warmup_steps": "0", "grad_clip": "0", "grad_accum": "1",
            "checkpoint_every": "1", "keep_checkpoints": "2", "max_bad_steps": "2"])
        XCTAssertThrowsError(try Trainer(config: config).run()) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("the run diverged") && text.contains("max_bad_steps 2"), text)
            XCTAssertTrue(text.contains("is kept"), text)
        }
        let metrics = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let bad = metrics.split(separator: "\n").filter { $0.contains("\"bad_step\"") }
        XCTAssertEqual(bad.count, 2, metrics)
        // The kept checkpoints are from before the first bad step.
        let firstBad = try XCTUnwrap(bad.first.flatMap { line -> Int? in
            let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return o?["step"] as? Int
        })
        let kept = Checkpoint.list(in: out.appendingPathComponent("checkpoints"))
        XCTAssertFalse(kept.isEmpty)
        for c in kept { XCTAssertLessThan(try Checkpoint.readState(c).step, firstBad, c.path) }
    }
}
