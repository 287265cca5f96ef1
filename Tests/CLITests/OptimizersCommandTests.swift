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
        XCTAssertEqual(names.count, 17, list.out)
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
