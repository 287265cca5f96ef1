// MetricsSeries: one metric of a run against its step, read from OUT/metrics.jsonl (or the run
// folder holding it) for plotting. Lines lacking the metric (e.g. eval lines when reading
// `loss`), null values and malformed lines are skipped; a missing file or no values is an error.
import Foundation

public enum MetricsSeries {
    /// The metrics file for `url`: the file itself, or `url/metrics.jsonl` for a folder.
    public static func file(_ url: URL) -> URL {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
            return url.appendingPathComponent("metrics.jsonl")
        }
        return url
    }

    /// `metric` (e.g. "loss", "val_loss", "rss_bytes", "opt_state_bytes") against "step" from a metrics.jsonl
    /// file or a run folder containing one; lines without that key are skipped; malformed lines are skipped,
    /// never fatal. Throws a clear error (naming the file) when the file is missing or has no such values.
    /// Every logged (step, metric) of the file, a non-finite value (written as null) as NaN;
    /// empty when the file is missing or unreadable. `compare` judges divergence from this.
    public static func all(_ url: URL, metric: String) -> [(x: Double, y: Double)] {
        guard let data = FileManager.default.contents(atPath: file(url).path) else { return [] }
        var points: [(x: Double, y: Double)] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let s = number(o["step"]), o.keys.contains(metric) else { continue }
            points.append((s, number(o[metric]) ?? .nan))
        }
        return points
    }

    public static func read(_ url: URL, metric: String) throws -> [(x: Double, y: Double)] {
        let f = file(url)
        guard FileManager.default.fileExists(atPath: f.path) else {
            throw ConfigError("\(f.path): no such metrics file (expected a metrics.jsonl or a run folder containing one)")
        }
        guard let data = FileManager.default.contents(atPath: f.path) else {
            throw ConfigError("\(f.path): cannot read the metrics file")
        }
        var points: [(x: Double, y: Double)] = [], keys = Set<String>()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { continue }
            keys.formUnion(o.keys)
            guard let s = number(o["step"]), let v = number(o[metric]), s.isFinite, v.isFinite else { continue }
            points.append((s, v))
        }
        guard !points.isEmpty else {
            let known = keys.subtracting(["step"]).sorted()
            throw ConfigError("\(f.path): no \"\(metric)\" values" + (known.isEmpty ? " (no readable lines)" : " (metrics in this file: \(known.joined(separator: ", ")))"))
        }
        return points
    }

    /// A JSON number as a Double (null, strings and absent keys are nil).
    static func number(_ v: Any?) -> Double? { (v as? NSNumber)?.doubleValue }
}
