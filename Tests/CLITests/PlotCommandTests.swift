// Tests of `swift-train plot` through the built binary: two generated runs become an SVG with a
// line per run labelled with the run folder's name, written atomically; bad input ends with a
// message naming the file or flag and a non-zero exit, not a trap.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

final class PlotCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("plot-\(UUID().uuidString)")
        for (run, slope) in [("run-adamw", 0.004), ("run-galore", 0.003)] {
            let folder = dir.appendingPathComponent(run)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var lines: [String] = []
            for step in 1...200 {
                let loss = 6.0 - slope * Double(step) + 0.05 * sin(Double(step))
                lines.append("{\"step\": \(step), \"loss\": \(loss), \"lr\": 0.001, \"rss_bytes\": \(100_000_000 + step * 1000)}")
                if step % 50 == 0 { lines.append("{\"step\": \(step), \"val_loss\": \(loss + 0.1), \"val_ppl\": \(exp(loss + 0.1))}") }
                if step == 100 { lines.append("{\"step\": 101, \"loss\": ") }   // a torn line
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: folder.appendingPathComponent("metrics.jsonl"))
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func seriesPaths(_ svg: URL) throws -> [(label: String, d: String)] {
        let doc = try XMLDocument(contentsOf: svg, options: [])
        var out: [(String, String)] = []
        func walk(_ n: XMLNode) {
            if let e = n as? XMLElement, (e.localName ?? e.name) == "path" {
                let a = Dictionary((e.attributes ?? []).map { (($0.localName ?? $0.name) ?? "", $0.stringValue ?? "") }, uniquingKeysWith: { a, _ in a })
                if a["class"] == "series" { out.append((a["data-label"] ?? "", a["d"] ?? "")) }
            }
            for c in n.children ?? [] { walk(c) }
        }
        walk(doc)
        return out
    }

    func testPlotsALinePerRun() throws {
        let out = dir.appendingPathComponent("loss.svg")
        let r = try CLIRunner.run(["plot", dir.appendingPathComponent("run-adamw").path,
                                   dir.appendingPathComponent("run-galore/metrics.jsonl").path,
                                   "--out", out.path, "--smooth", "10", "--title", "loss <smoothed>"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains(out.path), r.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path + ".tmp"))
        let paths = try seriesPaths(out)
        XCTAssertEqual(paths.map(\.label), ["run-adamw", "run-galore"])
        for p in paths { XCTAssertEqual(p.d.filter { $0 == "L" }.count, 199, "200 loss points, the torn line skipped") }
        let text = try String(contentsOf: out, encoding: .utf8)
        XCTAssertTrue(text.contains("loss &lt;smoothed&gt;") && text.contains(">step<") && !text.contains("nan"))

        let val = dir.appendingPathComponent("val.svg")
        let v = try CLIRunner.run(["plot", dir.appendingPathComponent("run-adamw").path, "--out", val.path, "--metric", "val_loss"])
        XCTAssertEqual(v.status, 0, v.err)
        XCTAssertEqual(try seriesPaths(val).first?.d.filter { $0 == "L" }.count, 3)   // 4 evaluations
        let rss = try CLIRunner.run(["plot", dir.appendingPathComponent("run-adamw").path, "--out", val.path, "--metric", "rss_bytes"])
        XCTAssertEqual(rss.status, 0, rss.err)
        XCTAssertTrue(try String(contentsOf: val, encoding: .utf8).contains(" MiB<"), "rss_bytes ticks in MiB")
    }

    func testErrorsNameTheFileOrFlag() throws {
        let out = dir.appendingPathComponent("x.svg").path
        let cases: [([String], [String])] = [
            (["plot", dir.appendingPathComponent("missing-run").path, "--out", out], ["missing-run", "metrics"]),
            (["plot", dir.appendingPathComponent("run-adamw").path, "--out", out, "--metric", "opt_state_bytes"], ["opt_state_bytes", "run-adamw/metrics.jsonl"]),
            (["plot", dir.appendingPathComponent("run-adamw").path, "--out", out, "--smooth", "-1"], ["--smooth"]),
            (["plot", dir.appendingPathComponent("run-adamw").path, "--out", dir.appendingPathComponent("no/such/x.svg").path], ["--out", "no/such"]),
            (["plot", "--out", out], ["run folder"]),
        ]
        for (args, needles) in cases {
            let r = try CLIRunner.run(args)
            XCTAssertTrue(r.exited, "trapped: \(args)")
            XCTAssertNotEqual(r.status, 0, "\(args)")
            for n in needles { XCTAssertTrue(r.err.contains(n), "\(args): stderr lacks \(n): \(r.err)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
