// CLIRunner: runs the built swift-train binary as a child process for end-to-end tests of
// the commands (exit status, stdout, stderr, and whether it exited rather than trapped).
import Foundation
import XCTest

enum CLIRunner {
    /// The package root (two folders above this file's folder).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The swift-train binary of this build (beside the test bundle), else .build/release.
    static func binary() throws -> URL {
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL {
            candidates.append(exe.deletingLastPathComponent().appendingPathComponent("swift-train"))
        }
        candidates.append(root.appendingPathComponent(".build/release/swift-train"))
        for c in candidates where FileManager.default.isExecutableFile(atPath: c.path) { return c }
        throw XCTSkip("swift-train binary not found (looked at \(candidates.map(\.path))); build it first")
    }

    struct Result {
        var status: Int32
        var out: String
        var err: String
        /// False when the process died of a signal (a trap), true when it exited.
        var exited: Bool
    }

    /// A micro model (d 64, 2 layers, vocabulary 320) for the generated corpus, as inline JSON.
    static let microModel = #"{"vocab_size": 320, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64}"#

    /// Runs the binary with `arguments` in `directory` (default: the package root).
    static func run(_ arguments: [String], in directory: URL? = nil) throws -> Result {
        let p = Process()
        p.executableURL = try binary()
        p.arguments = arguments
        p.currentDirectoryURL = directory ?? root
        return try runToEnd(p)
    }

    /// Runs `p` to its end with its output and error captured.
    static func runToEnd(_ p: Process) throws -> Result {
        let tmp = FileManager.default.temporaryDirectory
        let outURL = tmp.appendingPathComponent("cli-\(UUID().uuidString).out")
        let errURL = tmp.appendingPathComponent("cli-\(UUID().uuidString).err")
        for u in [outURL, errURL] { _ = FileManager.default.createFile(atPath: u.path, contents: nil) }
        defer { for u in [outURL, errURL] { try? FileManager.default.removeItem(at: u) } }
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        try p.run()
        p.waitUntilExit()
        return Result(status: p.terminationStatus,
                      out: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                      err: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
                      exited: p.terminationReason == .exit)
    }

    /// A fresh folder named `prefix-UUID` with a generated corpus prepared into `data/`
    /// (SentencePiece vocabulary 300), for end-to-end runs. `seed` varies the text.
    static func preparedCorpus(_ prefix: String, seed: UInt64) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var text = "", x = seed
        let words = ["in", "the", "beginning", "was", "light", "and", "water", "upon", "earth", "day", "night"]
        for _ in 0..<3000 {
            x = x &* 6364136223846793005 &+ 1
            text += words[Int(x >> 40) % words.count] + ((x >> 20) % 9 == 0 ? ".\n" : " ")
        }
        try Data(text.utf8).write(to: dir.appendingPathComponent("corpus.txt"))
        let prep = try run(["prepare", "--input", "corpus.txt", "--out", "data", "--vocab-size", "300"], in: dir)
        XCTAssertEqual(prep.status, 0, prep.err)
        return dir
    }
}
