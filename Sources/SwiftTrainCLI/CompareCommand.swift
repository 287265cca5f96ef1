// `swift-train compare`: trains several optimizers from the same config (same initial weights,
// same batches, same seed), one after another, each as its own `swift-train train` process in
// DIR/LABEL (so each has its own metrics, checkpoints and peak RSS, and one crash cannot take
// the others down), then writes DIR/compare.md (the table) and DIR/loss.svg, val.svg and
// pareto.svg. `--resume DIR` continues an interrupted comparison.
import ArgumentParser
import Foundation
import TextData
import Training

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Train several optimizers on the same config and compare loss, memory and speed.",
        discussion: """
        --optimizers takes NAME or LABEL=NAME:key=value:… entries, comma-separated
        (adamw,galore,apollo-r128=apollo:rank=128); --set LABEL_OR_NAME.key=value adds a setting.
        A run whose loss becomes non-finite or ends more than 10% above its start is marked
        diverged, a run that fails is marked failed, and the others go on. Ctrl-C stops the
        current run at a checkpoint; `swift-train compare --resume DIR` continues.
        """)

    @Option(help: "Run config (JSON) every run starts from.")
    var config: String?
    @Option(help: "Comma-separated runs: NAME or LABEL=NAME:key=value:….")
    var optimizers: String?
    @Option(help: "Optimizer steps per run.")
    var steps: Int?
    @Option(help: "Output folder: one sub-folder per run, compare.md and the plots.")
    var out: String?
    @Option(name: .customLong("set"), help: "LABEL_OR_NAME.key=value: a setting for the runs of that label or optimizer (repeatable).")
    var sets: [String] = []
    @Option(help: "Threads for each run (0 = all cores).")
    var threads: Int?
    @Option(help: "Moving-average window of the loss plot (0 = raw).")
    var smooth: Int = 0
    @Option(help: "Continue the comparison in this folder (finished runs are kept).")
    var resume: String?

    func run() throws {
        do { try compare() } catch let e as ConfigError { throw CLIError(e.description) }
    }

    func compare() throws {
        let fm = FileManager.default
        var plan: ComparePlan
        let dir: URL
        if let r = resume {
            dir = URL(fileURLWithPath: r)
            let file = dir.appendingPathComponent("compare.json")
            guard let data = try? Data(contentsOf: file) else {
                throw ConfigError("\(file.path): no comparison to resume (start one with --config, --optimizers, --steps, --out)")
            }
            do { plan = try JSONDecoder().decode(ComparePlan.self, from: data) } catch {
                throw ConfigError("\(file.path): unreadable comparison plan (\(error)); start a new comparison in another --out")
            }
            if let s = steps { plan.steps = s }
        } else {
            guard let config, let optimizers, let steps, let out else {
                throw ConfigError("compare needs --config, --optimizers, --steps and --out (or --resume DIR)")
            }
            guard steps > 0 else { throw ConfigError("--steps must be at least 1, got \(steps)") }
            dir = URL(fileURLWithPath: out)
            if fm.fileExists(atPath: dir.appendingPathComponent("compare.json").path) {
                throw ConfigError("\(dir.path) already holds a comparison; continue it with --resume \(dir.path) or choose another --out")
            }
            let configURL = URL(fileURLWithPath: config).standardizedFileURL
            _ = try RunConfig.load(configURL)  // a bad config is reported before any run starts
            var common: [String: String] = [:]
            if let t = threads { common["threads"] = String(t) }
            plan = ComparePlan(config: configURL.path, steps: steps, runs: try CompareReport.parseRuns(optimizers, sets: sets), common: common)
            do { try fm.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
                throw ConfigError("\(dir.path): cannot create the output folder (\(error.localizedDescription)); choose another --out")
            }
        }
        try save(plan, dir)
        Interrupt.install()
        for i in plan.runs.indices where !["done", "diverged", "failed"].contains(plan.runs[i].status) {
            let run = plan.runs[i]
            print("[\(i + 1)/\(plan.runs.count)] \(run.label): \(run.optimizer) \(run.settings.keys.sorted().map { "\($0)=\(run.settings[$0]!)" }.joined(separator: " "))")
            plan.runs[i].status = "running"
            try save(plan, dir)
            let started = Date()
            let (status, message) = try train(run, plan: plan, dir: dir)
            plan.runs[i].wallSeconds += Date().timeIntervalSince(started)
            plan.runs[i].status = status
            plan.runs[i].message = message
            try save(plan, dir)
            print("    \(status)\(message.map { ": \($0)" } ?? "") (\(String(format: "%.0f", plan.runs[i].wallSeconds)) s)")
            if status == "interrupted" {
                try report(plan, dir)
                print("interrupted; continue with: swift-train compare --resume \(dir.path)")
                throw ExitCode(128 + (Interrupt.signal ?? SIGINT))
            }
        }
        try report(plan, dir)
        // A diverged run is a result of the comparison; a failed one is not.
        let failed = plan.runs.filter { $0.status == "failed" }.map(\.label)
        if !failed.isEmpty {
            throw CLIError("\(failed.count) of \(plan.runs.count) runs failed (\(failed.joined(separator: ", "))); the report covers the others, each failed run's train.log in \(dir.path) says why")
        }
    }

    /// Runs one `swift-train train` child; returns its status and a message.
    func train(_ run: CompareRun, plan: ComparePlan, dir: URL) throws -> (String, String?) {
        let folder = dir.appendingPathComponent(run.label)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var args: [String]
        if !Checkpoint.list(in: folder.appendingPathComponent("checkpoints")).isEmpty {
            args = ["train", "--resume", folder.path, "--steps", String(plan.steps)]
        } else {
            args = ["train", "--config", plan.config, "--optimizer", run.optimizer, "--steps", String(plan.steps), "--out", folder.path]
            for (k, v) in run.settings.sorted(by: { $0.key < $1.key }) { args += ["--" + k.replacingOccurrences(of: "_", with: "-"), v] }
        }
        for (k, v) in plan.common.sorted(by: { $0.key < $1.key }) { args += ["--" + k, v] }
        let log = folder.appendingPathComponent("train.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        defer { try? handle.close() }
        let p = Process()
        p.executableURL = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        p.arguments = args
        // The child stops (checkpointing) if this process dies without stopping it.
        p.environment = ProcessInfo.processInfo.environment.merging([Interrupt.parentVariable: String(getpid())]) { $1 }
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        var forwarded = false
        while p.isRunning {
            usleep(50_000)
            if Interrupt.signal != nil && !forwarded { p.interrupt(); forwarded = true }
        }
        let code = p.terminationStatus
        if code == 130 || code == 143 || forwarded { return ("interrupted", nil) }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        if code != 0 || p.terminationReason != .exit {
            let error = text.split(separator: "\n").last { $0.lowercased().hasPrefix("error:") }.map(String.init)
                ?? "exit \(code)\(p.terminationReason == .uncaughtSignal ? " (signal)" : ""); see \(log.path)"
            return (error.contains("not finite") || error.contains("the run diverged") ? "diverged" : "failed", error)
        }
        let losses = CompareReport.rows(ComparePlan(config: plan.config, steps: plan.steps, runs: [run]), dir: dir)[0].losses
        let norms = CompareReport.series(folder, key: "grad_norm")
        if let bad = norms.first(where: { !$0.y.isFinite }) {
            return ("diverged", String(format: "non-finite gradient at step %.0f (updates skipped from there)", bad.x))
        }
        if let last = norms.last, last.y == 0 {
            return ("diverged", String(format: "zero gradient at step %.0f: the model has collapsed (loss %.4f)", last.x, losses.last?.y ?? .nan))
        }
        if CompareReport.diverged(losses) {
            let last = CompareReport.finalLoss(losses) ?? .nan
            return ("diverged", String(format: "loss %.4f → %.4f", losses.first?.y ?? .nan, last))
        }
        return ("done", nil)
    }

    func save(_ plan: ComparePlan, _ dir: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(plan), to: dir.appendingPathComponent("compare.json").path)
    }

    /// compare.md, the terminal table, loss.svg, val.svg and pareto.svg.
    func report(_ plan: ComparePlan, _ dir: URL) throws {
        let rows = CompareReport.rows(plan, dir: dir)
        let table = CompareReport.markdown(rows, steps: plan.steps)
        let md = "# Optimizer comparison\n\nConfig `\(plan.config)`, \(plan.steps) steps per run, same seed and batches.\n\n" + table +
            "\n\n![training loss](loss.svg)\n\n![validation loss](val.svg)\n\n![loss against optimizer state](pareto.svg)\n"
        try AtomicFile.write(Data(md.utf8), to: dir.appendingPathComponent("compare.md").path)
        print(table)
        // Diverged runs would stretch the axes over their blow-up; they are named in the title instead.
        let ok = rows.filter { $0.status == "done" }
        let left = rows.filter { $0.status != "done" }.map(\.label)
        let omitted = left.isEmpty ? "" : " (not shown: \(left.joined(separator: ", ")))"
        let loss = SVGPlot.lines(ok.map { PlotSeries(label: $0.label, points: $0.losses) }, title: "Training loss" + omitted,
                                 xLabel: "step", yLabel: "loss", smoothing: smooth)
        let val = SVGPlot.lines(ok.filter { !$0.valLosses.isEmpty }.map { PlotSeries(label: $0.label, points: $0.valLosses) },
                                title: "Validation loss" + omitted, xLabel: "step", yLabel: "val loss")
        let points = rows.filter { $0.status == "done" }.compactMap { r -> ParetoPoint? in
            guard let b = r.stateBytes, let y = r.valLoss ?? r.finalLoss, y.isFinite else { return nil }
            return ParetoPoint(label: r.label, x: Double(b), y: y)
        }
        let sizes = points.map(\.x).filter { $0 > 0 }
        let spread = (sizes.max() ?? 1) / max(sizes.min() ?? 1, 1)
        let pareto = SVGPlot.pareto(points, title: "Final \(rows.contains { $0.valLoss != nil } ? "validation" : "training") loss against optimizer state",
                                    xLabel: "optimizer state (bytes)", yLabel: "final loss", logX: spread > 20 && sizes.count == points.count)
        for (name, svg) in [("loss.svg", loss), ("val.svg", val), ("pareto.svg", pareto)] {
            try AtomicFile.write(Data(svg.utf8), to: dir.appendingPathComponent(name).path)
        }
        print("wrote \(dir.appendingPathComponent("compare.md").path), loss.svg, val.svg, pareto.svg")
    }
}
