// `swift-train memory` predicts a run's peak RSS: for llama-tiny and llama-small (their
// configs' shapes and B×T, on a generated corpus) the predicted total is within 15% of the
// peak RSS that `train` reports in summary.json, with and without the memory levers, and the
// per-part figures are the train summary's own (parameters, optimizer state); the table and
// JSON carry every part per optimizer, and a malformed setting is an error, not a trap.
import Foundation
import XCTest

final class MemoryCommandTests: XCTestCase {
    func testPredictionIsWithinFifteenPercentOfARunsPeakRSS() throws {
        let dir = try CLIRunner.preparedCorpus("memory-cli", seed: 5)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, [String])] = [
            ("llama-tiny", []), ("llama-small", []),
            ("llama-small", ["--state-bits", "8", "--per-layer-update", "true", "--activation-checkpointing", "true"]),
        ]
        for (name, levers) in cases {
            let config = CLIRunner.root.appendingPathComponent("configs/\(name).json").path
            let out = dir.appendingPathComponent("run-\(name)-\(levers.count)").path
            let common = ["--data", "data", "--grad-clip", "0", "--threads", "2"]
            let train = try CLIRunner.run(["train", "--config", config, "--steps", "4", "--eval-batches", "0",
                                           "--eval-every", "0", "--out", out] + common + levers, in: dir)
            XCTAssertEqual(train.status, 0, train.err)
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
            let measured = (summary["peak_rss_bytes"] as! NSNumber).doubleValue

            var spec = "adamw"
            if !levers.isEmpty { spec += ",state_bits=8,per_layer_update=true,activation_checkpointing=true" }
            let memory = try CLIRunner.run(["memory", "--config", config, "--optimizer", spec, "--threads", "2", "--json"], in: dir)
            XCTAssertEqual(memory.status, 0, memory.err)
            let object = try JSONSerialization.jsonObject(with: Data(memory.out.utf8)) as! [String: Any]
            let row = (object["rows"] as! [[String: Any]])[0]
            let predicted = (row["total_bytes"] as! NSNumber).doubleValue
            XCTAssertEqual(predicted, measured, accuracy: 0.15 * measured, "\(name) \(levers): predicted \(predicted), measured \(measured)")
            XCTAssertEqual((row["optimizer_state_bytes"] as! NSNumber).intValue, (summary["opt_state_bytes"] as! NSNumber).intValue, name)
            XCTAssertEqual((row["parameter_bytes"] as! NSNumber).intValue, (summary["mem_parameters_bytes"] as! NSNumber).intValue, name)
        }
    }

    func testMemoryTablePerOptimizerAndJSON() throws {
        let r = try CLIRunner.run(["memory", "--config", "configs/llama-tiny.json", "--optimizer", "adamw", "--optimizer", "galore,rank=32",
                                   "--optimizer", "apollo-mini", "--batch-size", "2", "--seq-len", "32", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let rows = try XCTUnwrap(o["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["optimizer"] as? String }, ["adamw", "galore,rank=32", "apollo-mini"])
        let params = 1_852_544 * 4
        XCTAssertEqual(rows[0]["parameter_bytes"] as? Int, params)
        XCTAssertEqual(rows[0]["optimizer_state_bytes"] as? Int, 2 * params, "AdamW: 2 floats per parameter")
        let galore = try XCTUnwrap(rows[1]["optimizer_state_bytes"] as? Int), mini = try XCTUnwrap(rows[2]["optimizer_state_bytes"] as? Int)
        XCTAssertLessThan(galore, 2 * params)
        XCTAssertLessThan(mini, galore)
        for row in rows {
            let total = try XCTUnwrap(row["total_bytes"] as? Int), act = try XCTUnwrap(row["activation_bytes"] as? Int)
            XCTAssertGreaterThan(act, 0)
            let parts = ["parameter_bytes", "gradient_bytes", "optimizer_state_bytes", "activation_bytes",
                         "optimizer_work_bytes", "pool_free_bytes", "runtime_bytes", "data_bytes"]
            XCTAssertEqual(total, try parts.reduce(0) { $0 + (try XCTUnwrap(row[$1] as? Int, $1)) })
            XCTAssertEqual(row["gradient_bytes"] as? Int, params)
        }
        let table = try CLIRunner.run(["memory", "--config", "configs/llama-tiny.json", "--optimizer", "lion", "--no-activations"])
        XCTAssertEqual(table.status, 0, table.err)
        XCTAssertTrue(table.out.contains("optimizer state") && table.out.contains("lion"), table.out)
        let bad = try CLIRunner.run(["memory", "--config", "configs/llama-tiny.json", "--optimizer", "galore,rank"])
        XCTAssertTrue(bad.exited)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("key=value"), bad.err)
    }
}
