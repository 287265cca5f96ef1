// MPIRunner: runs the built swift-train under Open MPI's `mpirun` for the data-parallel
// tests (skipped with a message when Open MPI is not installed). Root may run it (as in a
// container), and two ranks may share fewer cores (--oversubscribe).
import Foundation
import XCTest

enum MPIRunner {
    /// mpirun's path, or a skip.
    static func mpirun() throws -> URL {
        for path in ["/usr/bin/mpirun", "/usr/local/bin/mpirun"] where FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        throw XCTSkip("Open MPI's mpirun is not installed (scripts/setup.sh installs openmpi-bin); the data-parallel tests need it")
    }

    /// A configured mpirun process: `ranks` copies of `command` (the swift-train binary with
    /// `arguments` unless `command` is given) in `directory`.
    static func process(ranks: Int, _ arguments: [String], in directory: URL, command: URL? = nil) throws -> Process {
        let p = Process()
        p.executableURL = try mpirun()
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        p.environment = env
        p.arguments = ["-np", "\(ranks)", "--oversubscribe", try (command ?? CLIRunner.binary()).path] + arguments
        p.currentDirectoryURL = directory
        return p
    }

    /// Runs `ranks` ranks of `swift-train arguments` in `directory` to the end.
    static func run(ranks: Int, _ arguments: [String], in directory: URL, command: URL? = nil) throws -> CLIRunner.Result {
        let p = try process(ranks: ranks, arguments, in: directory, command: command)
        let out = directory.appendingPathComponent("mpirun-\(UUID().uuidString).out")
        let err = directory.appendingPathComponent("mpirun-\(UUID().uuidString).err")
        for u in [out, err] { _ = FileManager.default.createFile(atPath: u.path, contents: nil) }
        defer { for u in [out, err] { try? FileManager.default.removeItem(at: u) } }
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        p.waitUntilExit()
        return CLIRunner.Result(status: p.terminationStatus, out: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                                err: (try? String(contentsOf: err, encoding: .utf8)) ?? "", exited: p.terminationReason == .exit)
    }

    /// The metrics lines of `run/metrics.jsonl` that carry a loss, by step.
    static func lossLines(_ metrics: URL) throws -> [Int: [String: Any]] {
        var out: [Int: [String: Any]] = [:]
        for line in try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n") {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let s = o["step"] as? Int, o["loss"] != nil else { continue }
            out[s] = o
        }
        return out
    }
}
