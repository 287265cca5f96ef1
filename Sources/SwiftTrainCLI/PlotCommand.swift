// `swift-train plot`: one metric of one or more runs against the step, as an SVG line chart
// (a line per run, labelled with the run folder's name), optionally smoothed by a trailing
// moving average. The file is written to OUT.tmp and renamed into place.
import ArgumentParser
import Foundation
import TextData
import Training

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot a metric of runs against the step as an SVG chart.",
        discussion: """
        Each input is a run folder (its metrics.jsonl is read) or a metrics.jsonl file.
        Metrics: loss, val_loss, val_ppl, lr, grad_norm, tokens_per_s, step_ms, opt_state_bytes, rss_bytes, …
        Open the SVG in a browser; `chromium --headless --screenshot=plot.png file://$PWD/plot.svg` makes a PNG.
        """)

    @Argument(help: "Run folders or metrics.jsonl files, one line each.")
    var inputs: [String] = []
    @Option(help: "The SVG file to write.")
    var out: String
    @Option(help: "The metric to plot against the step.")
    var metric = "loss"
    @Option(help: "Trailing moving average over N logged points (0 = raw).")
    var smooth = 0
    @Option(help: "Chart title (default: the metric).")
    var title: String?

    func run() throws {
        guard !inputs.isEmpty else { throw CLIError("plot needs at least one run folder or metrics.jsonl file") }
        guard smooth >= 0 else { throw CLIError("--smooth must be 0 or more, got \(smooth)") }
        guard !metric.isEmpty else { throw CLIError("--metric needs a name, e.g. loss or val_loss") }
        let outURL = URL(fileURLWithPath: out)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: outURL.path, isDirectory: &isDir), isDir.boolValue {
            throw CLIError("--out \(out) is a folder; give a file name such as \(out)/plot.svg")
        }
        let folder = outURL.deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw CLIError("--out \(out): the folder \(folder.path) does not exist")
        }
        var series: [PlotSeries] = []
        for input in inputs {
            do {
                let points = try MetricsSeries.read(URL(fileURLWithPath: input), metric: metric)
                series.append(PlotSeries(label: Self.label(input), points: points))
            } catch let e as ConfigError {
                throw CLIError(e.description)
            }
        }
        // Two runs with the same folder name: label them with the paths as given instead.
        let labels = series.map(\.label)
        for i in series.indices where labels.filter({ $0 == labels[i] }).count > 1 { series[i].label = inputs[i] }
        let svg = SVGPlot.lines(series, title: title ?? "\(metric) vs step", xLabel: "step", yLabel: metric, smoothing: smooth)
        try Self.writeAtomically(svg, to: outURL)
        print("wrote \(out): \(metric) of \(series.count) run\(series.count == 1 ? "" : "s")" + (smooth > 1 ? ", trailing mean over \(smooth)" : ""))
    }

    /// The run folder's name: the input itself for a folder, its parent's for a file.
    static func label(_ input: String) -> String {
        let url = URL(fileURLWithPath: input).standardizedFileURL
        var isDir: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue ? url : url.deletingLastPathComponent()
        return folder.lastPathComponent
    }

    /// Writes `text` onto `url` atomically (AtomicFile: a temporary file in the same folder,
    /// removed on failure, renamed into place; readers never see half a file).
    static func writeAtomically(_ text: String, to url: URL) throws {
        do {
            try AtomicFile.write(Data(text.utf8), to: url.path)
        } catch let e as TextDataError {
            throw CLIError("--out: \(e.description)")
        }
    }
}
