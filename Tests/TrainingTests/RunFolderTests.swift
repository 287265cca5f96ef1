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
