// CompareReport: the plan and the results of `swift-train compare` — which runs (label,
// optimizer, settings), where each stands (pending, done, diverged, failed, interrupted), and
// the table a row per run: final train loss (mean of the last 10% of steps), validation loss
// and perplexity, optimizer-state bytes and their ratio to AdamW's, peak RSS, tokens/s, wall
// time. Every figure is read back from the run's own metrics.jsonl and summary.json.
import Foundation
import Tensors
import TextData

/// One run of a comparison.
public struct CompareRun: Codable, Equatable, Sendable {
    public var label: String
    public var optimizer: String
    /// Run-config keys (snake_case) and values, passed as flags.
    public var settings: [String: String]
    /// pending, running, done, diverged, failed or interrupted.
    public var status: String
    public var message: String?
    public var wallSeconds: Double

    public init(label: String, optimizer: String, settings: [String: String] = [:]) {
        self.label = label
        self.optimizer = optimizer
        self.settings = settings
        self.status = "pending"
        self.wallSeconds = 0
    }
}

/// What `compare` keeps in DIR/compare.json, so `--resume DIR` can continue.
public struct ComparePlan: Codable, Equatable, Sendable {
    public var formatVersion = 1
    /// The run config every run starts from (absolute path).
    public var config: String
    public var steps: Int
    public var runs: [CompareRun]
    /// Flags given to every run (e.g. --threads).
    public var common: [String: String]

    public init(config: String, steps: Int, runs: [CompareRun], common: [String: String] = [:]) {
        self.config = config
        self.steps = steps
        self.runs = runs
        self.common = common
    }
}

/// One row of the table.
public struct CompareRow: Sendable {
    public var label: String
    public var optimizer: String
    public var status: String
    public var finalLoss: Double?
    public var valLoss: Double?
    public var stateBytes: Int?
    public var ratioToAdamW: Double?
    public var peakRSSBytes: Int?
    public var tokensPerSecond: Double?
    public var wallSeconds: Double
    /// (step, loss) and (step, val_loss) of the run, for the plots.
    public var losses: [(x: Double, y: Double)]
    public var valLosses: [(x: Double, y: Double)]
}

public enum CompareReport {
    /// Runs from "adamw,galore,apollo-r128=apollo:rank=128" and `--set LABEL_OR_OPTIMIZER.key=value`.
    public static func parseRuns(_ list: String, sets: [String]) throws -> [CompareRun] {
        var runs: [CompareRun] = []
        for raw in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !raw.isEmpty {
            var label: String?, rest = raw
            if let eq = raw.firstIndex(of: "="), !raw[..<eq].contains(":") {
                label = String(raw[..<eq])
                rest = String(raw[raw.index(after: eq)...])
            }
            let parts = rest.split(separator: ":").map(String.init)
            guard let optimizer = parts.first, !optimizer.isEmpty else {
                throw ConfigError("--optimizers: \"\(raw)\" names no optimizer (write NAME, or LABEL=NAME:key=value:…)")
            }
            var settings: [String: String] = [:]
            for kv in parts.dropFirst() {
                guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else {
                    throw ConfigError("--optimizers: \"\(kv)\" in \"\(raw)\" is not key=value (write LABEL=NAME:key=value:…)")
                }
                settings[String(kv[..<eq]).replacingOccurrences(of: "-", with: "_")] = String(kv[kv.index(after: eq)...])
            }
            let name = label ?? ([optimizer] + settings.keys.sorted().map { "\($0)\(settings[$0]!)" }).joined(separator: "-")
            guard name.range(of: #"^[A-Za-z0-9._-]+$"#, options: .regularExpression) != nil, name.count <= 100,
                  !name.allSatisfy({ $0 == "." }), !["compare.md", "compare.json", "loss.svg", "val.svg", "pareto.svg"].contains(name) else {
                throw ConfigError("--optimizers: run label \"\(name)\" may hold only letters, digits, '.', '_' and '-', at most 100 of them, and not be \".\", \"..\" or a report's name (it names a folder inside --out)")
            }
            if let key = settings.keys.first(where: { ["out", "resume", "config"].contains($0) }) {
                throw ConfigError("--optimizers: \"\(raw)\" sets \(key), which compare chooses for each run (its folder is --out/\(name)); drop it")
            }
            guard !runs.contains(where: { $0.label == name }) else {
                throw ConfigError("--optimizers: the label \"\(name)\" is used twice; name each run (LABEL=NAME:…)")
            }
            runs.append(CompareRun(label: name, optimizer: optimizer, settings: settings))
        }
        guard !runs.isEmpty else { throw ConfigError("--optimizers is empty; give a comma-separated list such as adamw,galore,apollo-mini") }
        for s in sets {
            guard let dot = s.firstIndex(of: "."), let eq = s.firstIndex(of: "="), dot < eq else {
                throw ConfigError("--set \"\(s)\": write LABEL.key=value (LABEL a run label or an optimizer name)")
            }
            let target = String(s[..<dot]), key = String(s[s.index(after: dot)..<eq]).replacingOccurrences(of: "-", with: "_")
            if ["out", "resume", "config"].contains(key) {
                throw ConfigError("--set \"\(s)\": compare chooses \(key) for each run; drop it")
            }
            let value = String(s[s.index(after: eq)...])
            var hit = false
            for i in runs.indices where runs[i].label == target || runs[i].optimizer == target {
                runs[i].settings[key] = value
                hit = true
            }
            if !hit { throw ConfigError("--set \"\(s)\": no run is labelled or uses an optimizer named \"\(target)\" (runs: \(runs.map(\.label).joined(separator: ", ")))") }
        }
        return runs
    }

    /// (step, value) of `key` in a run's metrics.jsonl; a non-finite value (written as null) is NaN.
    public static func series(_ folder: URL, key: String) -> [(x: Double, y: Double)] {
        MetricsSeries.all(folder, metric: key)
    }

    /// Mean of the last 10% of the logged training losses (at least one).
    public static func finalLoss(_ losses: [(x: Double, y: Double)]) -> Double? {
        guard !losses.isEmpty else { return nil }
        let tail = losses.suffix(max(1, losses.count / 10))
        return tail.map(\.y).reduce(0, +) / Double(tail.count)
    }

    /// A non-finite loss, a loss more than 3× the first one at any step, or a final loss more
    /// than 10% above the first one.
    public static func diverged(_ losses: [(x: Double, y: Double)]) -> Bool {
        guard let first = losses.first?.y, let last = finalLoss(losses) else { return false }
        return losses.contains { !$0.y.isFinite || $0.y > 3 * first } || !(last <= first * 1.1)
    }

    /// The rows of `plan`, read from DIR/LABEL of each run.
    public static func rows(_ plan: ComparePlan, dir: URL) -> [CompareRow] {
        var rows = plan.runs.map { run -> CompareRow in
            let folder = dir.appendingPathComponent(run.label)
            let losses = series(folder, key: "loss"), vals = series(folder, key: "val_loss")
            let summary = (try? Data(contentsOf: folder.appendingPathComponent("summary.json")))
                .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
            return CompareRow(label: run.label, optimizer: run.optimizer, status: run.status, finalLoss: finalLoss(losses),
                              valLoss: vals.last?.y, stateBytes: summary["opt_state_bytes"] as? Int, ratioToAdamW: nil,
                              peakRSSBytes: summary["peak_rss_bytes"] as? Int, tokensPerSecond: summary["tokens_per_s"] as? Double,
                              wallSeconds: run.wallSeconds, losses: losses, valLosses: vals)
        }
        let adamw = plan.runs.firstIndex { $0.optimizer == "adamw" && ($0.settings["state_bits"] ?? "32") == "32" }
        if let a = adamw, let base = rows[a].stateBytes, base > 0 {
            for i in rows.indices { rows[i].ratioToAdamW = rows[i].stateBytes.map { Double($0) / Double(base) } }
        }
        return rows
    }

    static func fmt(_ x: Double?, _ f: String) -> String { x.map { $0.isFinite ? String(format: f, $0) : "—" } ?? "—" }

    /// The Markdown table, a row per run.
    public static func markdown(_ rows: [CompareRow], steps: Int) -> String {
        var lines = ["| run | optimizer | status | final train loss | val loss | val ppl | optimizer state | ÷ AdamW | peak RSS | tokens/s | wall time |",
                     "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in rows {
            let ppl = r.valLoss.map { Foundation.exp($0) }
            let state = r.stateBytes.map { String(format: "%.2f MiB", Double($0) / 1_048_576) } ?? "—"
            let rss = r.peakRSSBytes.map { String(format: "%.0f MiB", Double($0) / 1_048_576) } ?? "—"
            lines.append("| \(r.label) | \(r.optimizer) | \(r.status) | \(fmt(r.finalLoss, "%.4f")) | \(fmt(r.valLoss, "%.4f")) | \(fmt(ppl, "%.1f")) | \(state) | \(fmt(r.ratioToAdamW, "%.2f")) | \(rss) | \(fmt(r.tokensPerSecond, "%.0f")) | \(fmt(r.wallSeconds, "%.0f s")) |")
        }
        lines.append("")
        lines.append("Final train loss: mean of the last 10% of the \(steps) steps' logged losses; val: the last evaluation.")
        return lines.joined(separator: "\n")
    }
}
