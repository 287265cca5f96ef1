// Tests of SVGPlot and MetricsSeries: the SVG parses as XML, has a path per series and a circle
// per Pareto point at the coordinates PlotFrame maps them to, the frontier is exactly the
// non-dominated points, ticks are nice, text is escaped, non-finite values never reach the SVG.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import Training

final class SVGPlotTests: XCTestCase {
    static func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) throws -> XMLDocument {
        do { return try XMLDocument(xmlString: svg, options: []) } catch {
            XCTFail("SVG does not parse as XML: \(error)\n\(svg.prefix(2000))", file: file, line: line)
            throw error
        }
    }

    /// Every element named `name` (namespace-free), in document order.
    static func elements(_ doc: XMLDocument, _ name: String) -> [XMLElement] {
        var out: [XMLElement] = []
        func walk(_ n: XMLNode) {
            if let e = n as? XMLElement, (e.localName ?? e.name) == name { out.append(e) }
            for c in n.children ?? [] { walk(c) }
        }
        walk(doc)
        return out
    }

    /// An attribute's value (looked up by name: FoundationXML's attribute(forName:) misses them under a default namespace).
    static func attr(_ e: XMLElement?, _ name: String) -> String? {
        e?.attributes?.first { ($0.localName ?? $0.name) == name || $0.name == name }?.stringValue
    }

    /// The (x, y) pairs of a path's `d` (M/L commands, as SVGPlot.lines writes them).
    static func coordinates(_ d: String) -> [(Double, Double)] {
        let nums = d.split(whereSeparator: { "MLHV ".contains($0) }).compactMap { Double($0) }
        return stride(from: 0, to: nums.count - 1, by: 2).map { (nums[$0], nums[$0 + 1]) }
    }

    static let twoRuns = [
        PlotSeries(label: "adamw", points: (0...100).map { (i: Int) -> (x: Double, y: Double) in (Double(i * 10), 6 - Double(i) * 0.03) }),
        PlotSeries(label: "galore", points: (0...50).map { (i: Int) -> (x: Double, y: Double) in (Double(i * 20), 6.2 - Double(i) * 0.05) }),
    ]

    func testLinesHaveOnePathPerSeriesLegendAxesAndTitle() throws {
        let svg = SVGPlot.lines(Self.twoRuns, title: "loss vs step", xLabel: "step", yLabel: "loss")
        let doc = try Self.parse(svg)
        let root = try XCTUnwrap(doc.rootElement())
        XCTAssertEqual(Self.attr(root, "viewBox"), "0 0 900 560")
        XCTAssertEqual(Self.attr(root, "width"), "900")
        let series = Self.elements(doc, "path").filter { Self.attr($0, "class") == "series" }
        XCTAssertEqual(series.map { Self.attr($0, "id") }, ["series-0", "series-1"])
        guard series.count == 2 else { return }
        XCTAssertNotEqual(Self.attr(series[0], "stroke"), Self.attr(series[1], "stroke"))
        let texts = Self.elements(doc, "text").compactMap(\.stringValue)
        for t in ["loss vs step", "step", "loss", "adamw", "galore", "0", "1000"] { XCTAssertTrue(texts.contains(t), "no text \(t) in \(texts)") }
        XCTAssertTrue(svg.contains("fill=\"#ffffff\""))
    }

    func testAKnownPointLandsWhereTheFrameMapsIt() throws {
        let svg = SVGPlot.lines(Self.twoRuns, title: "t", xLabel: "step", yLabel: "loss")
        let frame = SVGPlot.linesFrame(Self.twoRuns, xLabel: "step", yLabel: "loss")
        let path = try XCTUnwrap(Self.elements(try Self.parse(svg), "path").first { Self.attr($0, "id") == "series-1" })
        let pts = Self.coordinates(try XCTUnwrap(Self.attr(path, "d")))
        guard pts.count == 51 else { return XCTFail("\(pts.count) points in series-1") }
        let (ex, ey) = frame.map(x: 200, y: 6.2 - 10 * 0.05)   // the 11th point of galore
        XCTAssertEqual(pts[10].0, ex, accuracy: 0.01)
        XCTAssertEqual(pts[10].1, ey, accuracy: 0.01)
        // The frame's ends are the plot area's corners, and the data lie inside it.
        XCTAssertEqual(frame.map(x: frame.xMin, y: frame.yMin).0, frame.left, accuracy: 1e-9)
        XCTAssertEqual(frame.map(x: frame.xMax, y: frame.yMax).1, frame.top, accuracy: 1e-9)
        for (x, y) in pts { XCTAssert(x >= frame.left - 0.01 && x <= frame.right + 0.01 && y >= frame.top - 0.01 && y <= frame.bottom + 0.01) }
    }

    func testSmoothingIsATrailingMovingAverage() {
        let s = PlotSeries(label: "s", points: [(0, 1), (1, 3), (2, 5), (3, 7), (4, .nan), (5, 9)])
        let d = SVGPlot.drawnPoints(s, smoothing: 3)
        XCTAssertEqual(d.map(\.x), [0, 1, 2, 3, 5])
        XCTAssertEqual(d.map(\.y), [1, 2, 3, 5, 7])
        XCTAssertEqual(SVGPlot.drawnPoints(s, smoothing: 0).map(\.y), [1, 3, 5, 7, 9])
    }

    static let optimizers = [
        ParetoPoint(label: "adamw", x: 8_000_000, y: 3.10), ParetoPoint(label: "galore", x: 2_000_000, y: 3.30),
        ParetoPoint(label: "apollo-mini", x: 300_000, y: 3.35), ParetoPoint(label: "sgd", x: 0.5, y: 3.9),
        ParetoPoint(label: "adam-mini", x: 4_100_000, y: 3.12), ParetoPoint(label: "worse", x: 5_000_000, y: 3.4),
        ParetoPoint(label: "lion", x: 4_000_000, y: 3.30),
    ]

    func testParetoHasACirclePerPointAndTheFrontierIsTheNonDominatedPoints() throws {
        let front = SVGPlot.paretoFrontier(Self.optimizers).map(\.label)
        XCTAssertEqual(front, ["sgd", "apollo-mini", "galore", "adam-mini", "adamw"])   // not lion (galore is better), not worse
        for logX in [false, true] {
            let svg = SVGPlot.pareto(Self.optimizers, title: "state vs loss", xLabel: "optimizer state bytes", yLabel: "val loss", logX: logX)
            let doc = try Self.parse(svg)
            let circles = Self.elements(doc, "circle")
            XCTAssertEqual(circles.count, Self.optimizers.count)
            let frame = SVGPlot.paretoFrame(Self.optimizers, xLabel: "optimizer state bytes", yLabel: "val loss", logX: logX)
            for (c, p) in zip(circles, Self.optimizers) {
                let (ex, ey) = frame.map(x: p.x, y: p.y)
                XCTAssertEqual(Double(Self.attr(c, "cx") ?? "") ?? .nan, ex, accuracy: 0.01)
                XCTAssertEqual(Double(Self.attr(c, "cy") ?? "") ?? .nan, ey, accuracy: 0.01)
            }
            let labels = Self.elements(doc, "text").filter { Self.attr($0, "class") == "point-label" }.compactMap(\.stringValue)
            XCTAssertEqual(Set(labels), Set(Self.optimizers.map(\.label)))
            // The step line's corners are exactly the frontier's points (plus the step corners between them).
            let d = try XCTUnwrap(Self.attr(Self.elements(doc, "path").first { Self.attr($0, "id") == "frontier" }, "d"))
            let mapped = SVGPlot.paretoFrontier(Self.optimizers).map { frame.map(x: $0.x, y: $0.y) }
            XCTAssertEqual(d.filter { $0 == "V" }.count, mapped.count - 1)
            XCTAssertTrue(d.hasPrefix("M\(SVGPlot.num(mapped[0].0)) \(SVGPlot.num(mapped[0].1))"), d)
            for (x, y) in mapped.dropFirst() { XCTAssertTrue(d.contains("H\(SVGPlot.num(x)) V\(SVGPlot.num(y))"), d) }
            XCTAssertTrue(svg.contains("MiB"), "byte axis not labelled in MiB")
        }
        XCTAssertEqual(SVGPlot.paretoFrontier([]).count, 0)
        XCTAssertEqual(SVGPlot.paretoFrontier([ParetoPoint(label: "a", x: 1, y: 1), ParetoPoint(label: "b", x: 1, y: 1)]).count, 2)
    }

    func testTicksAreNiceNumbers() {
        let ranges: [(Double, Double)] = [(0, 1000), (2.91, 6.02), (0, 1), (-3.3, 17), (123456, 987654), (0.0011, 0.0093), (5, 5), (0, 3e9)]
        for (lo, hi) in ranges {
            let f = PlotFrame(xs: [lo, hi], ys: [lo, hi])
            for ticks in [f.xTicks, f.yTicks] {
                XCTAssert((4...8).contains(ticks.count), "\(lo)…\(hi): \(ticks)")
                let step = ticks[1] - ticks[0]
                let mantissa = step / pow(10, floor(log10(step)))
                XCTAssert([1, 2, 5, 10].contains { abs(mantissa - $0) < 1e-6 }, "\(lo)…\(hi): step \(step)")
                for t in ticks { XCTAssertEqual((t / step).rounded(), t / step, accuracy: 1e-6, "\(t) is not a multiple of \(step)") }
                XCTAssert(ticks.first! <= lo && ticks.last! >= hi, "\(ticks) do not cover \(lo)…\(hi)")
            }
        }
        let bytes = PlotFrame(xs: [0, 7_500_000], ys: [0, 1], xBytes: true)
        XCTAssertEqual(bytes.xTicks.map { bytes.xTickLabel($0) }, ["0 MiB", "2 MiB", "4 MiB", "6 MiB", "8 MiB"])
        XCTAssertTrue(bytes.xTicks.map { bytes.xTickLabel($0) }.allSatisfy { $0.hasSuffix(" MiB") })
    }

    /// Values at the ends of Double's range (whose span overflows to infinity) are left out
    /// like NaN, and a tiny span still gets ticks and labels: never a trap, never a NaN or
    /// infinite coordinate in the file.
    func testExtremeRangesStillPlot() throws {
        for (lo, hi) in [(-1e308, 1e308), (1e300, 1.7e308), (1, 1 + 1e-13), (-1e299, 1e299)] {
            let series = [PlotSeries(label: "x", points: [(1, lo), (2, hi), (3, 1)])]
            let svg = SVGPlot.lines(series, title: "t", xLabel: "step", yLabel: "loss")
            XCTAssertFalse(svg.lowercased().contains("nan") || svg.contains("inf"), "\(lo)…\(hi)")
            let doc = try Self.parse(svg)
            let texts = Self.elements(doc, "text").compactMap(\.stringValue)
            XCTAssertTrue(texts.contains("t"), "\(lo)…\(hi): \(texts)")
            let f = PlotFrame(xs: [1, 2], ys: [lo, hi])
            XCTAssertFalse(f.yTicks.isEmpty)
            XCTAssertTrue(f.yTicks.allSatisfy { !f.yTickLabel($0).isEmpty })
        }
    }

    func testTextIsEscaped() throws {
        let title = "loss <adamw> & \"galore\" 'x'"
        let svg = SVGPlot.lines([PlotSeries(label: "a<b>&\"c\"", points: [(0, 1), (1, 2)])], title: title, xLabel: "x & y", yLabel: "<y>")
        let doc = try Self.parse(svg)
        let texts = Self.elements(doc, "text").compactMap(\.stringValue)
        XCTAssertTrue(texts.contains(title) && texts.contains("a<b>&\"c\"") && texts.contains("x & y") && texts.contains("<y>"), "\(texts)")
        let series = Self.elements(doc, "path").first { Self.attr($0, "class") == "series" }
        XCTAssertEqual(Self.attr(series, "data-label"), "a<b>&\"c\"")
        let pareto = SVGPlot.pareto([ParetoPoint(label: "<&>", x: 1, y: 2)], title: "\u{1}'", xLabel: "x", yLabel: "y")
        XCTAssertTrue(Self.elements(try Self.parse(pareto), "text").compactMap(\.stringValue).contains("<&>"))
    }

    func testNonFiniteValuesAreSkipped() throws {
        let s = [PlotSeries(label: "a", points: [(0, 1), (1, .nan), (2, .infinity), (.nan, 3), (3, 2)]),
                 PlotSeries(label: "empty", points: [(0, .nan)])]
        let svg = SVGPlot.lines(s, title: "t", xLabel: "step", yLabel: "loss", smoothing: 2)
        let p = SVGPlot.pareto([ParetoPoint(label: "a", x: .nan, y: 1), ParetoPoint(label: "b", x: 1, y: .infinity), ParetoPoint(label: "c", x: 0, y: 1),
                                ParetoPoint(label: "d", x: 10, y: 0.5)], title: "t", xLabel: "bytes", yLabel: "loss", logX: true)
        for text in [svg, p, SVGPlot.lines([], title: "none", xLabel: "x", yLabel: "y"), SVGPlot.pareto([], title: "none", xLabel: "x", yLabel: "y")] {
            XCTAssertFalse(text.lowercased().contains("nan") || text.lowercased().contains("inf"), text)
            _ = try Self.parse(text)
        }
        XCTAssertEqual(Self.elements(try Self.parse(p), "circle").count, 1)   // c has x 0 on a log axis
        let d = Self.attr(Self.elements(try Self.parse(svg), "path").first, "d") ?? ""
        XCTAssertEqual(Self.coordinates(d).count, 2)
    }

    func testMetricsSeriesReadsAMetricAndSkipsOtherLines() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = """
        {"step": 1, "loss": 6.5, "lr": 0.001, "rss_bytes": 1000}
        {"step": 2, "loss": 6.25, "lr": 0.001, "rss_bytes": 2000}
        {"step": 2, "val_loss": 6.4, "val_ppl": 600}
        {"step": 3, "loss": 
        not json at all
        {"step": 4, "loss": null}
        {"step": 4, "loss": 5.75}
        {"step": 4, "val_loss": 5.9, "val_ppl": 365}

        """
        try Data(text.utf8).write(to: dir.appendingPathComponent("metrics.jsonl"))
        let loss = try MetricsSeries.read(dir, metric: "loss")
        XCTAssertEqual(loss.map(\.x), [1, 2, 4])
        XCTAssertEqual(loss.map(\.y), [6.5, 6.25, 5.75])
        let val = try MetricsSeries.read(dir.appendingPathComponent("metrics.jsonl"), metric: "val_loss")
        XCTAssertEqual(val.map(\.x), [2, 4])
        XCTAssertEqual(val.map(\.y), [6.4, 5.9])
        XCTAssertThrowsError(try MetricsSeries.read(dir, metric: "opt_state_bytes")) { e in
            XCTAssertTrue("\(e)".contains("metrics.jsonl") && "\(e)".contains("opt_state_bytes") && "\(e)".contains("val_loss"), "\(e)")
        }
        XCTAssertThrowsError(try MetricsSeries.read(dir.appendingPathComponent("nope"), metric: "loss")) { e in
            XCTAssertTrue("\(e)".contains("nope"), "\(e)")
        }
    }

    /// Renders a loss chart and a Pareto chart to PNG with headless Chromium, when installed.
    func testRendersToPNGWithHeadlessChromium() throws {
        let browser = ["chromium", "chromium-browser"].lazy.compactMap { name in
            (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
                .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
                .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        }.first
        guard let browser else { throw XCTSkip("no headless Chromium (chromium or chromium-browser) on PATH") }
        let keep = ProcessInfo.processInfo.environment["SVGPLOT_KEEP_PNG"]
        let dir = keep.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory.appendingPathComponent("svgplot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(at: dir) } }
        let charts = ["loss": SVGPlot.lines(Self.twoRuns, title: "training loss", xLabel: "step", yLabel: "loss", smoothing: 5),
                      "pareto": SVGPlot.pareto(Self.optimizers, title: "optimizer state vs validation loss", xLabel: "optimizer state bytes",
                                               yLabel: "validation loss", logX: true),
                      "pareto-linear": SVGPlot.pareto(Self.optimizers.dropLast(3).map { ParetoPoint(label: $0.label, x: $0.x * 40, y: $0.y) },
                                                      title: "optimizer state vs validation loss", xLabel: "optimizer state bytes", yLabel: "validation loss"),
                      "twenty": SVGPlot.lines((0..<20).map { k in PlotSeries(label: "run \(k)", points: (0...20).map { (x: Double($0), y: Double(k) + sqrt(Double($0))) }) },
                                              title: "twenty runs", xLabel: "step", yLabel: "loss")]
        for (name, svg) in charts {
            let svgURL = dir.appendingPathComponent("\(name).svg"), png = dir.appendingPathComponent("\(name).png")
            try Data(svg.utf8).write(to: svgURL)
            let p = Process()
            p.executableURL = browser
            p.arguments = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--screenshot=\(png.path)", "--window-size=900,560", svgURL.absoluteString]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let deadline = Date().addingTimeInterval(90)
            while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
            if p.isRunning { p.terminate(); XCTFail("\(browser.path) did not finish within 90 s"); continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: png.path)[.size] as? Int) ?? 0
            XCTAssertGreaterThan(size ?? 0, 5_000, "\(png.path): \(size ?? 0) bytes")
        }
    }
}
