// RunConfig: every config error names the key or flag and, for a misspelling, the right one;
// flags override the file; nothing traps.
import Foundation
import XCTest
import Training

final class RunConfigTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("runconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func write(_ text: String, _ name: String = "run.json") -> URL {
        let url = dir.appendingPathComponent(name)
        try! Data(text.utf8).write(to: url)
        return url
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    let model = #"{"vocab_size": 64, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2}"#

    func testFileThenFlagsOverride() throws {
        var c = try RunConfig.load(write(#"{"lr": 0.01, "optimizer": "sgd", "steps": 7, "model": \#(model)}"#))
        try c.set("lr", text: "3e-3")
        XCTAssertEqual(c.double("lr"), 3e-3)
        XCTAssertEqual(c.string("optimizer"), "sgd")
        XCTAssertEqual(c.steps, 7)
        XCTAssertEqual(try c.modelConfig().hiddenSize, 16)
        XCTAssertEqual(c.int("batch_size"), 8, "default from the key table")
    }

    func testUnknownKeySuggestsTheClosestOne() {
        let m = message { _ = try RunConfig.load(self.write(#"{"learning_rat": 0.1, "wamrup_steps": 3}"#)) }
        XCTAssertTrue(m.contains("unknown key \"learning_rat\"") || m.contains("unknown key \"wamrup_steps\""), m)
        let w = message { _ = try RunConfig.load(self.write(#"{"wamrup_steps": 3}"#)) }
        XCTAssertTrue(w.contains("did you mean \"warmup_steps\""), w)
        XCTAssertTrue(w.contains("run.json"), "names the file: \(w)")
        var c = RunConfig()
        let f = message { try c.set("weight_decy", text: "0.1") }
        XCTAssertTrue(f.contains("unknown flag --weight-decy") && f.contains("did you mean --weight-decay"), f)
    }

    func testWrongTypesNameTheKey() {
        let m = message { _ = try RunConfig.load(self.write(#"{"lr": "fast"}"#)) }
        XCTAssertTrue(m.contains("\"lr\" must be a number"), m)
        let i = message { _ = try RunConfig.load(self.write(#"{"steps": 1.5}"#)) }
        XCTAssertTrue(i.contains("\"steps\" must be an integer"), i)
        let b = message { _ = try RunConfig.load(self.write(#"{"shuffle": 1}"#)) }
        XCTAssertTrue(b.contains("\"shuffle\" must be true or false"), b)
        var c = RunConfig()
        let f = message { try c.set("batch_size", text: "eight") }
        XCTAssertTrue(f.contains("--batch-size needs an integer"), f)
    }

    func testImpossibleValuesAreRejected() {
        var c = RunConfig()
        let lr = message { try c.set("lr", text: "-0.1") }
        XCTAssertTrue(lr.contains("--lr must be > 0"), lr)
        let sched = message { try c.set("schedule", text: "cosinus") }
        XCTAssertTrue(sched.contains("constant, linear, cosine"), sched)
        let heads = message {
            _ = try RunConfig.load(self.write(#"{"model": {"vocab_size": 64, "hidden_size": 30, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 4}}"#)).modelConfig()
        }
        XCTAssertTrue(heads.contains("\"hidden_size\" 30 is not divisible by \"num_attention_heads\" 4"), heads)
        let missing = message { _ = try RunConfig().modelConfig() }
        XCTAssertTrue(missing.contains("--model"), missing)
    }

    /// Values valid as Double that the run (in Float32) could not use, thread counts far
    /// beyond the machine and runs larger than its memory are refused before anything starts.
    func testFloatRangeThreadsAndSizeAreCheckedBeforeTheRun() throws {
        var c = RunConfig()
        let tiny = message { try c.set("lr", text: "1e-320") }
        XCTAssertTrue(tiny.contains("--lr") && tiny.contains("becomes 0 as a 32-bit float"), tiny)
        let huge = message { _ = try RunConfig.load(self.write(#"{"grad_clip": 1e308}"#)) }
        XCTAssertTrue(huge.contains("\"grad_clip\"") && huge.contains("infinite"), huge)
        let threads = message { try c.set("threads", text: "3000000000") }
        XCTAssertTrue(threads.contains("--threads") && threads.contains("cores"), threads)
        var big = try RunConfig.load(write(#"{"model": \#(model), "data": "x", "batch_size": 1000000000000, "seq_len": 16}"#))
        let size = message { try big.validateForTraining() }
        XCTAssertTrue(size.contains("GiB") && size.contains("batch_size 1000000000000"), size)
        try big.set("batch_size", text: "4611686018427387904")
        try big.set("grad_accum", text: "4")
        let overflow = message { try big.validateForTraining() }
        XCTAssertTrue(overflow.contains("do not fit a 64-bit count"), overflow)
    }

    func testBadJSONNamesTheFile() {
        let m = message { _ = try RunConfig.load(self.write("{\"lr\": 0.1,,}")) }
        XCTAssertTrue(m.contains("run.json") && m.contains("not valid JSON"), m)
        let arr = message { _ = try RunConfig.load(self.write("[1, 2]")) }
        XCTAssertTrue(arr.contains("must be a JSON object"), arr)
        let none = message { _ = try RunConfig.load(self.dir.appendingPathComponent("absent.json")) }
        XCTAssertTrue(none.contains("absent.json") && none.contains("--config"), none)
    }

    func testModelFromPathAndResumeRules() throws {
        let m = write(model, "config.json")
        var c = RunConfig()
        try c.set("model", text: m.path)
        try c.set("lr", text: "0.01")
        XCTAssertEqual(try c.modelConfig().vocabSize, 64)
        var overrides = RunConfig()
        try overrides.set("steps", text: "50")
        let resumed = try RunConfig.resumed(saved: c.json, overrides: overrides)
        XCTAssertEqual(resumed.steps, 50)
        XCTAssertEqual(resumed.double("lr"), 0.01)
        var bad = RunConfig()
        try bad.set("lr", text: "0.5")
        let e = message { _ = try RunConfig.resumed(saved: c.json, overrides: bad) }
        XCTAssertTrue(e.contains("--lr 0.5 differs from the checkpoint's 0.01"), e)
    }
}
