// MetricsLog: OUT/metrics.jsonl, one JSON object per line — a line per logged training step
// (step, loss, lr, grad_norm, tokens_per_s, step_ms, opt_state_bytes, rss_bytes) and one
// per evaluation (step, val_loss, val_ppl), and one per optimizer event (step, optimizer_event). Each line is flushed as written, so a killed run
// keeps every line it logged.
import Foundation
import Tensors
import TextData

public final class MetricsLog {
    public let url: URL
    private let handle: FileHandle

    /// Opens `url` for appending, first dropping lines whose step is after `keepThrough`
    /// (a resume from step k discards what an interrupted run logged after its checkpoint).
    public init(url: URL, keepThrough: Int?) throws {
        self.url = url
        let fm = FileManager.default
        if let k = keepThrough, fm.fileExists(atPath: url.path) {
            let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
            let kept = text.split(separator: "\n").filter { line in
                guard let d = line.data(using: .utf8),
                      let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
                      let s = o["step"] as? Int else { return false }
                return s <= k
            }
            let body = kept.isEmpty ? "" : kept.joined(separator: "\n") + "\n"
            try AtomicFile.write(Data(body.utf8), to: url.path)
        } else if keepThrough == nil {
            try AtomicFile.write(Data(), to: url.path)
        }
        guard let h = try? FileHandle(forWritingTo: url) else {
            throw ConfigError("\(url.path): cannot open the metrics log for writing; check that the out folder is writable")
        }
        handle = h
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    /// Appends one line. Keys are written in the given order; numbers in shortest round-trip form.
    public func write(_ fields: [(String, MetricValue)]) {
        let body = fields.map { "\"\($0.0)\": \($0.1.json)" }.joined(separator: ", ")
        handle.write(Data(("{" + body + "}\n").utf8))
    }
}

/// A number in a metrics line.
public enum MetricValue {
    case int(Int), double(Double), string(String)

    var json: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? "\(d)" : "null"
        case .string(let s): return JSONValue.quoted(s)
        }
    }
}
