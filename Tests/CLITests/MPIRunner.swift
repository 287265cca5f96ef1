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
        try CLIRunner.runToEnd(process(ranks: ranks, arguments, in: directory, command: command))
    }

    /// A script in `directory` that runs swift-train with its arguments, rank 1 first writing
    /// its PID to `rank1.pid` (to stop or kill that rank alone).
    static func rankOneRecordingCommand(in directory: URL) throws -> URL {
        let script = directory.appendingPathComponent("rank.sh")
        try """
        #!/bin/sh
        [ "$OMPI_COMM_WORLD_RANK" = 1 ] && echo $$ > rank1.pid
        exec '\(try CLIRunner.binary().path)' "$@"
        """.write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        return script
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
