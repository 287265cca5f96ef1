// A run folder is never destroyed by accident: a new run into a folder that holds a run is
// refused (naming --resume and --overwrite), --overwrite starts over, and a folder in use by
// another trainer is refused with the holder's PID.
import Foundation
import XCTest
import Training

final class RunFolderTests: XCTestCase {
    func testANewRunDoesNotOverwriteAnOldOneUnlessAsked() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 2)).run()
        XCTAssertThrowsError(try Trainer(config: TrainerFixture.config(out: out, steps: 2))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("already holds a run") && text.contains("--resume") && text.contains("--overwrite"), text)
        }
        XCTAssertEqual(Checkpoint.list(in: out.appendingPathComponent("checkpoints")).count, 1, "the old run is intact")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 3, extra: ["overwrite": "true"])).run()
        XCTAssertEqual(try TrainerFixture.losses(out).map(\.0), [1, 2, 3], "metrics of the new run only")
    }

    func testAFolderInUseIsRefusedNamingTheHolder() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        let first = try Trainer(config: TrainerFixture.config(out: out, steps: 2))
        XCTAssertThrowsError(try Trainer(config: TrainerFixture.config(out: out, steps: 2, extra: ["overwrite": "true"]))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("in use by another swift-train process") && text.contains("PID \(getpid())"), text)
        }
        _ = try first.run()
    }
}

final class MetricsLogResumeTests: XCTestCase {
    /// A stray byte or a torn line in metrics.jsonl costs only that line on resume.
    func testResumeKeepsEveryValidLineWhateverBytesSurroundThem() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 4, extra: ["checkpoint_every": "2"])).run(stopAfter: 3)
        let url = out.appendingPathComponent("metrics.jsonl")
        var data = try Data(contentsOf: url)
        data.append(contentsOf: [0xFF, 0xFE, 0x0A])                 // not UTF-8
        data.append(contentsOf: Array("{\"step\": 3, \"loss\": 1.".utf8))  // a torn line
        try data.write(to: url)
        _ = try Trainer(config: RunConfig(), resume: out).run()
        XCTAssertEqual(try TrainerFixture.losses(out).map(\.0), [1, 2, 3, 4])
    }

    /// Resuming into a new --out starts a log there instead of failing to open one.
    func testResumeIntoANewOutFolderStartsItsOwnLog() throws {
        let root = TrainerFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        _ = try Trainer(config: TrainerFixture.config(out: out, steps: 3)).run(stopAfter: 2)
        var c = RunConfig()
        try c.set("out", text: root.appendingPathComponent("continued").path)
        _ = try Trainer(config: c, resume: out).run()
        XCTAssertEqual(try TrainerFixture.losses(root.appendingPathComponent("continued")).map(\.0), [3])
    }
}
