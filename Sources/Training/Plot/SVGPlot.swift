// SVGPlot: self-contained SVG 1.1 charts written as text — a line per series (loss curves) and
// a labelled scatter with its lower-left Pareto frontier (memory vs loss). PlotFrame maps data to
// SVG coordinates with "nice" (1, 2, 5 × 10^k) ticks; both charts and their tests use it.
import Foundation

public struct PlotSeries: Sendable {
    public var label: String
    public var points: [(x: Double, y: Double)]   // (step, value)
    public init(label: String, points: [(x: Double, y: Double)]) { self.label = label; self.points = points }
}

public struct ParetoPoint: Sendable {
    public var label: String
    public var x: Double   // e.g. optimizer-state bytes
    public var y: Double   // e.g. final validation loss
    public init(label: String, x: Double, y: Double) { self.label = label; self.x = x; self.y = y }
}

public enum SVGPlot {
    public static let width = 900.0, height = 560.0
    /// 16 distinct colours; series 17… reuse them with dash patterns.
    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                 "#7f7f7f", "#bcbd22", "#393b79", "#e7298a", "#006d2c", "#b15928", "#6a3d9a", "#000000"]
    static let dashes = ["", "8 4", "2 3", "10 3 2 3"]

    /// The points a line plot draws for `series`: finite, sorted by x, trailing moving average
    /// over `smoothing` points (0 or 1 = raw).
    public static func drawnPoints(_ series: PlotSeries, smoothing: Int = 0) -> [(x: Double, y: Double)] {
        let raw = series.points.filter { $0.x.isPlottable && $0.y.isPlottable }.enumerated()
            .sorted { ($0.element.x, $0.offset) < ($1.element.x, $1.offset) }.map(\.element)
        guard smoothing > 1 else { return raw }
        var out: [(x: Double, y: Double)] = [], sum = 0.0
        for (i, p) in raw.enumerated() {
            sum += p.y
            if i >= smoothing { sum -= raw[i - smoothing].y }
            out.append((p.x, sum / Double(min(i + 1, smoothing))))
        }
        return out
    }

    /// The frame `lines` uses for these inputs.
    public static func linesFrame(_ series: [PlotSeries], xLabel: String, yLabel: String, smoothing: Int = 0) -> PlotFrame {
        let pts = series.flatMap { drawnPoints($0, smoothing: smoothing) }
        return PlotFrame(xs: pts.map(\.x), ys: pts.map(\.y), xBytes: mentionsBytes(xLabel), yBytes: mentionsBytes(yLabel),
                         plotArea: (left: 100, top: 56, right: 690, bottom: 490))
    }

    /// The frame `pareto` uses for these inputs (5% padding so points sit inside the axes).
    public static func paretoFrame(_ points: [ParetoPoint], xLabel: String, yLabel: String, logX: Bool = false) -> PlotFrame {
        let ok = points.filter { $0.x.isPlottable && $0.y.isPlottable && (!logX || $0.x > 0) }
        return PlotFrame(xs: ok.map(\.x), ys: ok.map(\.y), xBytes: mentionsBytes(xLabel), yBytes: mentionsBytes(yLabel),
                         logX: logX, pad: 0.06, plotArea: (left: 100, top: 56, right: 860, bottom: 490))
    }

    /// A line per series; optional moving-average smoothing over `smoothing` points (0 = raw);
    /// legend, axes with "nice" ticks and labels, title. Self-contained SVG 1.1 text.
    public static func lines(_ series: [PlotSeries], title: String, xLabel: String, yLabel: String, smoothing: Int = 0) -> String {
        let frame = linesFrame(series, xLabel: xLabel, yLabel: yLabel, smoothing: smoothing)
        var s = header(title: title, frame: frame, xLabel: xLabel, yLabel: yLabel)
        let legendX = frame.right + 18
        for (i, ser) in series.enumerated() {
            let (colour, dash) = style(i)
            let pts = drawnPoints(ser, smoothing: smoothing).map { frame.map(x: $0.x, y: $0.y) }
            let d = pts.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(num($0.element.0)) \(num($0.element.1))" }.joined(separator: " ")
            let dashAttr = dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\""
            s += "<path id=\"series-\(i)\" class=\"series\" data-label=\"\(xml(ser.label))\" d=\"\(d.isEmpty ? "M0 0" : d)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\" stroke-linejoin=\"round\"\(dashAttr)\(d.isEmpty ? " visibility=\"hidden\"" : "")/>\n"
            if pts.count <= 40 {
                s += "<g class=\"markers\" fill=\"\(colour)\">" + pts.map { "<circle cx=\"\(num($0.0))\" cy=\"\(num($0.1))\" r=\"2.6\"/>" }.joined() + "</g>\n"
            }
            let ly = frame.top + 8 + Double(i) * 20
            guard ly < height - 20 else { continue }
            s += "<g class=\"legend-entry\"><line x1=\"\(num(legendX))\" y1=\"\(num(ly))\" x2=\"\(num(legendX + 28))\" y2=\"\(num(ly))\" stroke=\"\(colour)\" stroke-width=\"2.5\"\(dashAttr)/>"
            s += "<text x=\"\(num(legendX + 36))\" y=\"\(num(ly + 4))\" font-size=\"13\">\(xml(truncated(ser.label, 22)))</text></g>\n"
        }
        if smoothing > 1 {
            s += "<text x=\"\(num(frame.right))\" y=\"\(num(frame.top - 8))\" font-size=\"11\" fill=\"#666\" text-anchor=\"end\">trailing mean over \(smoothing) points</text>\n"
        }
        return s + "</svg>\n"
    }

    /// The points not dominated by another (another with x ≤ and y ≤, one of them <), by x ascending.
    public static func paretoFrontier(_ points: [ParetoPoint]) -> [ParetoPoint] {
        points.filter { p in
            p.x.isPlottable && p.y.isPlottable && !points.contains { q in
                q.x.isPlottable && q.y.isPlottable && q.x <= p.x && q.y <= p.y && (q.x < p.x || q.y < p.y)
            }
        }.sorted { ($0.x, $0.y) < ($1.x, $1.y) }
    }

    /// One labelled point per entry, and the lower-left Pareto frontier (points not dominated in both x and y) drawn as a step line.
    public static func pareto(_ points: [ParetoPoint], title: String, xLabel: String, yLabel: String, logX: Bool = false) -> String {
        let frame = paretoFrame(points, xLabel: xLabel, yLabel: yLabel, logX: logX)
        var s = header(title: title, frame: frame, xLabel: xLabel, yLabel: yLabel)
        let ok = points.filter { $0.x.isPlottable && $0.y.isPlottable && (!logX || $0.x > 0) }
        let front = paretoFrontier(ok)
        var d = ""
        for (i, p) in front.enumerated() {
            let (px, py) = frame.map(x: p.x, y: p.y)
            if i == 0 { d = "M\(num(px)) \(num(py))" } else { d += " H\(num(px)) V\(num(py))" }
        }
        if !d.isEmpty {
            s += "<path id=\"frontier\" class=\"frontier\" d=\"\(d)\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"6 3\"/>\n"
        }
        // Labels go beside their point, at the first spot clear of the other points and labels.
        let centres = ok.map { frame.map(x: $0.x, y: $0.y) }
        var boxes = centres.map { (x0: $0.0 - 6, y0: $0.1 - 6, x1: $0.0 + 6, y1: $0.1 + 6) }
        for (i, p) in ok.enumerated() {
            let (cx, cy) = centres[i]
            let onFront = front.contains { $0.x == p.x && $0.y == p.y }
            s += "<circle id=\"point-\(i)\" class=\"point\(onFront ? " frontier-point" : "")\" cx=\"\(num(cx))\" cy=\"\(num(cy))\" r=\"5\" fill=\"\(palette[i % palette.count])\" stroke=\"\(onFront ? "#000" : "#666")\" stroke-width=\"1.2\"/>\n"
            let label = truncated(p.label, 28), w = Double(label.count) * 6.6
            let spots = [(9.0, -6.0), (9, 14), (-9, -6), (-9, 14), (9, -20), (-9, -20), (9, 28), (-9, 28)].map { (x: cx + $0.0, y: cy + $0.1, end: $0.0 < 0) }
            func box(_ t: (x: Double, y: Double, end: Bool)) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
                (t.end ? t.x - w : t.x, t.y - 10, t.end ? t.x : t.x + w, t.y + 3)
            }
            let spot = spots.first { t in
                let b = box(t)
                return b.x0 >= frame.left && b.x1 <= frame.right && b.y0 >= frame.top && b.y1 <= frame.bottom
                    && !boxes.indices.contains { j in j != i && boxes[j].x0 < b.x1 && b.x0 < boxes[j].x1 && boxes[j].y0 < b.y1 && b.y0 < boxes[j].y1 }
            } ?? spots[cx + 9 + w > frame.right ? 2 : 0]
            boxes.append(box(spot))
            s += "<text class=\"point-label\" x=\"\(num(spot.x))\" y=\"\(num(spot.y))\" font-size=\"12\"\(spot.end ? " text-anchor=\"end\"" : "")>\(xml(label))</text>\n"
        }
        s += "<text x=\"\(num(frame.right))\" y=\"\(num(frame.top - 8))\" font-size=\"11\" fill=\"#d62728\" text-anchor=\"end\">dashed: Pareto frontier (lower-left is better)</text>\n"
        return s + "</svg>\n"
    }

    // MARK: - pieces

    static func style(_ i: Int) -> (String, String) {
        (palette[i % palette.count], dashes[(i / palette.count) % dashes.count])
    }

    static func header(title: String, frame f: PlotFrame, xLabel: String, yLabel: String) -> String {
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(num(width))\" height=\"\(num(height))\" viewBox=\"0 0 \(num(width)) \(num(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
        s += "<text class=\"title\" x=\"\(num(width / 2))\" y=\"30\" font-size=\"18\" font-weight=\"bold\" text-anchor=\"middle\">\(xml(title))</text>\n"
        s += "<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">"
        for t in f.xTicks { let x = f.map(x: t, y: f.yMin).0; s += "<line x1=\"\(num(x))\" y1=\"\(num(f.top))\" x2=\"\(num(x))\" y2=\"\(num(f.bottom))\"/>" }
        for t in f.yTicks { let y = f.map(x: f.xMin, y: t).1; s += "<line x1=\"\(num(f.left))\" y1=\"\(num(y))\" x2=\"\(num(f.right))\" y2=\"\(num(y))\"/>" }
        s += "</g>\n<rect x=\"\(num(f.left))\" y=\"\(num(f.top))\" width=\"\(num(f.right - f.left))\" height=\"\(num(f.bottom - f.top))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<g class=\"x-ticks\" font-size=\"12\" text-anchor=\"middle\">"
        for t in f.xTicks {
            let x = f.map(x: t, y: f.yMin).0
            s += "<line x1=\"\(num(x))\" y1=\"\(num(f.bottom))\" x2=\"\(num(x))\" y2=\"\(num(f.bottom + 5))\" stroke=\"#333\"/><text x=\"\(num(x))\" y=\"\(num(f.bottom + 19))\">\(xml(f.xTickLabel(t)))</text>"
        }
        s += "</g>\n<g class=\"y-ticks\" font-size=\"12\" text-anchor=\"end\">"
        for t in f.yTicks {
            let y = f.map(x: f.xMin, y: t).1
            s += "<line x1=\"\(num(f.left - 5))\" y1=\"\(num(y))\" x2=\"\(num(f.left))\" y2=\"\(num(y))\" stroke=\"#333\"/><text x=\"\(num(f.left - 8))\" y=\"\(num(y + 4))\">\(xml(f.yTickLabel(t)))</text>"
        }
        s += "</g>\n<text class=\"x-label\" x=\"\(num((f.left + f.right) / 2))\" y=\"\(num(f.bottom + 46))\" font-size=\"14\" text-anchor=\"middle\">\(xml(xLabel))</text>\n"
        let yLabelX = max(16, f.left - 22 - Double(f.yTicks.map { f.yTickLabel($0).count }.max() ?? 0) * 6.7)
        s += "<text class=\"y-label\" transform=\"translate(\(num(yLabelX)) \(num((f.top + f.bottom) / 2))) rotate(-90)\" font-size=\"14\" text-anchor=\"middle\">\(xml(yLabel))</text>\n"
        return s
    }

    static func mentionsBytes(_ label: String) -> Bool { label.lowercased().contains("bytes") }

    static func truncated(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }

    /// A coordinate with at most two decimals (never NaN: callers pass finite values only).
    public static func num(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(format: "%.2f", r)
    }

    /// Text safe inside XML content and attribute values; control characters XML 1.0 forbids are dropped.
    public static func xml(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out += " "
            default: if u.value >= 0x20 && u.value != 0xFFFE && u.value != 0xFFFF { out.unicodeScalars.append(u) }
            }
        }
        return out
    }
}

/// Data ↔ SVG coordinates of a chart: the plot area (SVG px, y down), the axis ranges (extended
/// to enclosing nice ticks on linear axes) and the ticks. Byte axes tick at 1, 2, 5 × 10^k KiB/MiB/GiB.
public struct PlotFrame: Sendable {
    public let left, top, right, bottom: Double
    public let xMin, xMax, yMin, yMax: Double
    public let logX: Bool
    public let xTicks, yTicks: [Double]
    let xUnit, yUnit: Double, xStep, yStep: Double   // unit 0 = plain numbers, else bytes per unit

    public init(xs: [Double], ys: [Double], xBytes: Bool = false, yBytes: Bool = false, logX: Bool = false, pad: Double = 0,
                plotArea: (left: Double, top: Double, right: Double, bottom: Double) = (84, 56, 690, 490)) {
        (left, top, right, bottom) = plotArea
        self.logX = logX
        let fx = xs.filter { $0.isPlottable && (!logX || $0 > 0) }, fy = ys.filter(\.isPlottable)
        let yr = Self.padded(fy, pad), yu = yBytes ? Self.byteUnit(yr) : 0
        let ya = Self.niceLinear(yr.0 / max(yu, 1), yr.1 / max(yu, 1))
        (yMin, yMax, yStep, yUnit) = (ya.lo * max(yu, 1), ya.hi * max(yu, 1), ya.step, yu)
        yTicks = ya.ticks.map { $0 * max(yu, 1) }
        if logX {
            let lx = Self.padded(fx.map(log10), pad, empty: (0, 1))
            (xMin, xMax, xUnit, xStep) = (pow(10, lx.0), pow(10, lx.1), xBytes ? 1 : 0, 0)
            xTicks = Self.logTicks(xMin, xMax, bytes: xBytes)
        } else {
            let xr = Self.padded(fx, pad), xu = xBytes ? Self.byteUnit(xr) : 0
            let xa = Self.niceLinear(xr.0 / max(xu, 1), xr.1 / max(xu, 1))
            (xMin, xMax, xStep, xUnit) = (xa.lo * max(xu, 1), xa.hi * max(xu, 1), xa.step, xu)
            xTicks = xa.ticks.map { $0 * max(xu, 1) }
        }
    }

    /// SVG coordinates of a data point (y grows downwards).
    public func map(x: Double, y: Double) -> (Double, Double) {
        let fx = logX ? (log10(x) - log10(xMin)) / (log10(xMax) - log10(xMin)) : (x - xMin) / (xMax - xMin)
        return (left + fx * (right - left), bottom - (y - yMin) / (yMax - yMin) * (bottom - top))
    }

    public func xTickLabel(_ v: Double) -> String { logX ? Self.label(v, step: 0, unit: xUnit) : Self.label(v, step: xStep, unit: xUnit) }
    public func yTickLabel(_ v: Double) -> String { Self.label(v, step: yStep, unit: yUnit) }

    static func padded(_ v: [Double], _ pad: Double, empty: (Double, Double) = (0, 1)) -> (Double, Double) {
        guard var lo = v.min(), var hi = v.max() else { return empty }
        if hi - lo < 1e-12 * max(abs(lo), 1) { let d = max(abs(lo) * 0.1, 1e-9); return (lo - d, hi + d) }
        let p = (hi - lo) * pad
        lo = lo >= 0 ? max(0, lo - p) : lo - p   // padding never makes a non-negative axis go negative
        hi += p
        return (lo, hi)
    }

    /// 1024^k so that the larger end is at least one unit (KiB … TiB).
    static func byteUnit(_ r: (Double, Double)) -> Double {
        let m = max(abs(r.0), abs(r.1))
        return pow(1024, Double(max(0, min(4, Int(floor(log(max(m, 1)) / log(1024)))))))
    }

    /// Ticks at 1, 2, 5 × 10^k covering [lo, hi], 4–8 of them (closest to 6).
    static func niceLinear(_ lo: Double, _ hi: Double) -> (lo: Double, hi: Double, step: Double, ticks: [Double]) {
        let mag = pow(10, floor(log10((hi - lo) / 5)))
        var best = (lo: lo, hi: hi, step: hi - lo, ticks: [lo, hi]), bestScore = Int.max
        // A span past Double's range (values near ±1.8e308) or of zero gets the two ends only.
        guard mag.isFinite, mag > 0 else { return best }
        for m in [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50] {
            let st = m * mag, a = floor(lo / st + 1e-9), b = ceil(hi / st - 1e-9)
            guard (b - a).isFinite, b - a < 1000 else { continue }
            let n = Int(b - a) + 1
            let score = (4...8).contains(n) ? abs(n - 6) : 100 + abs(n - 6)
            if score < bestScore {
                bestScore = score
                best = (a * st, b * st, st, (0..<n).map { (a + Double($0)) * st })
            }
        }
        return best
    }

    /// Ticks on a log axis inside [lo, hi]: powers of 10 (of 2 for bytes) thinned to ≤ 8, with
    /// 2 and 5 (2^k) between them when the range is short.
    static func logTicks(_ lo: Double, _ hi: Double, bytes: Bool) -> [Double] {
        let base: Double = bytes ? 2 : 10, l = log(lo) / log(base), h = log(hi) / log(base)
        let inside = { (v: Double) -> Bool in v >= lo * 0.999 && v <= hi * 1.001 }
        for stride in [1, 2, 5, 10, 20, 50] {
            let s = Double(stride), a = Int(ceil(l / s - 1e-9)), b = Int(floor(h / s + 1e-9))
            guard b - a + 1 <= 8 else { continue }
            let powers: [Double] = a <= b ? (a...b).map { pow(base, Double($0 * stride)) } : []
            if powers.count >= 3 || (bytes && powers.count >= 2) { return powers }
            if !bytes {
                var more: [Double] = []
                for k in Int(floor(l))...Int(ceil(h)) {
                    for m in [1.0, 2, 5] where inside(m * pow(10, Double(k))) { more.append(m * pow(10, Double(k))) }
                }
                if more.count >= 3 { return more }
            }
            break
        }
        return niceLinear(lo, hi).ticks.filter { inside($0) && $0 > 0 }
    }

    /// A tick label: decimals enough for `step` (0 = up to 3 significant digits); bytes as KiB/MiB/GiB.
    static func label(_ v: Double, step: Double, unit: Double) -> String {
        if unit > 0 {
            let u = unit > 1 ? unit : pow(1024, Double(max(0, min(4, Int(floor(log(max(abs(v), 1)) / log(1024)))))))
            let names = [1: "B", 1024: "KiB", 1_048_576: "MiB", 1_073_741_824: "GiB", 1_099_511_627_776: "TiB"]
            return plain(v / u, step: step) + " " + (names[Int(u)] ?? "B")
        }
        return plain(v, step: step)
    }

    static func plain(_ v: Double, step: Double) -> String {
        if step == 0 || !step.isFinite || abs(v) >= 1e6 || abs(step) < 1e-12 { return String(format: "%.3g", v + 0) }
        let decimals = max(0, Int(-floor(log10(abs(step)) + 1e-9)))
        return String(format: "%.\(decimals)f", v + 0)
    }
}

extension Double {
    /// A value the plots can place: finite and within ±1e300, so that differences of two
    /// values (axis spans, positions in the frame) stay finite. Others are left out like NaN.
    var isPlottable: Bool { isFinite && abs(self) < 1e300 }
}
