// The optimizer descriptors are the one source of the optimizer list: `swift-train optimizers`,
// `train --help` and the README's optimizer table must agree with them (and each other).
import Foundation
import XCTest

final class OptimizersCommandTests: XCTestCase {
    func testReadmeTableIsTheDescriptorsTable() throws {
        let r = try CLIRunner.run(["optimizers", "--markdown"])
        XCTAssertEqual(r.status, 0, r.err)
        let table = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(table.hasPrefix("| name | rule |"), table)
        let readme = try String(contentsOf: CLIRunner.root.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains(table), "README's optimizer table differs from `swift-train optimizers --markdown`:\n\(table)")
        for name in ["adamw", "sgd", "adafactor", "lion", "cadamw", "clion", "adam-mini", "muon", "galore", "fira", "apollo", "apollo-mini", "racs", "alice", "alice-0"] {
            XCTAssertTrue(table.contains("| `\(name)` |"), "table lacks \(name)")
        }
    }

    func testTrainHelpListsEveryOptimizerAndEveryKeyTheyRead() throws {
        let list = try CLIRunner.run(["optimizers"])
        XCTAssertEqual(list.status, 0, list.err)
        let help = try CLIRunner.run(["train", "--help"])
        XCTAssertEqual(help.status, 0, help.err)
        let names = list.out.split(separator: "\n").filter { !$0.hasPrefix(" ") && $0.contains(":") }.map { String($0.split(separator: ":")[0]) }
        XCTAssertEqual(names.count, 15, list.out)
        let flags = Set(list.out.split(separator: "\n").compactMap { line -> String? in
            let t = line.trimmingCharacters(in: .whitespaces)
            return t.hasPrefix("--") ? String(t.split(separator: " ")[0]) : nil
        })
        XCTAssertTrue(flags.isSuperset(of: ["--lr", "--beta1", "--state-bits", "--caution-norm", "--adamw-lr", "--adafactor-variant"]), "\(flags)")
        for n in names { XCTAssertTrue(help.out.contains("  \(n) "), "train --help lacks optimizer \(n)") }
        for f in flags { XCTAssertTrue(help.out.contains(f + " "), "train --help lacks \(f)") }
    }

    func testFlagTheOptimizerDoesNotReadNamesTheOnesThatDo() throws {
        let r = try CLIRunner.run(["train", "--config", "configs/llama-tiny.json", "--optimizer", "sgd", "--beta2", "0.9", "--steps", "1"])
        XCTAssertTrue(r.exited)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--beta2") && r.err.contains("sgd does not read beta2") && r.err.contains("adamw"), r.err)
        let bad = try CLIRunner.run(["train", "--config", "configs/llama-tiny.json", "--optimizer", "adamw", "--state-bits", "16", "--steps", "1"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--state-bits") && bad.err.contains("32 or 8"), bad.err)
        let beta = try CLIRunner.run(["train", "--config", "configs/llama-tiny.json", "--optimizer", "lion", "--beta2", "1.5", "--steps", "1"])
        XCTAssertTrue(beta.err.contains("--beta2 must be in [0, 1) for lion"), beta.err)
        let choice = try CLIRunner.run(["train", "--config", "configs/llama-tiny.json", "--optimizer", "muon", "--adjust-lr-fn", "spectral", "--steps", "1"])
        XCTAssertNotEqual(choice.status, 0)
        XCTAssertTrue(choice.err.contains("--adjust-lr-fn") && choice.err.contains("match_rms_adamw"), choice.err)
    }
}

final class MemoryCommandTests: XCTestCase {
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
            XCTAssertEqual(total, 2 * params + (row["optimizer_state_bytes"] as! Int) + act)
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
