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
            // Line by line on the bytes: a torn last line or a stray byte costs only its own
            // line, never the history around it.
            let data = (try? Data(contentsOf: url)) ?? Data()
            var kept = Data()
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let s = o["step"] as? Int, s <= k else { continue }
                kept.append(contentsOf: line)
                kept.append(UInt8(ascii: "\n"))
            }
            try AtomicFile.write(kept, to: url.path)
        } else {  // a new run, or a resume into a folder without a log yet
            try AtomicFile.write(Data(), to: url.path)
        }
        guard let h = try? FileHandle(forWritingTo: url) else {
            throw ConfigError("\(url.path): cannot open the metrics log for writing; check that the out folder is writable")
        }
        handle = h
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    /// Appends one line. Keys are written in the given order; numbers in shortest round-trip
    /// form. Throws when the write fails (a full disk), naming the file.
    public func write(_ fields: [(String, MetricValue)]) throws {
        let body = fields.map { "\"\($0.0)\": \($0.1.json)" }.joined(separator: ", ")
        let end = (try? handle.offset()) ?? 0
        do { try handle.write(contentsOf: Data(("{" + body + "}\n").utf8)) } catch {
            try? handle.truncate(atOffset: end)  // no torn line: the log ends with its last whole line
            throw ConfigError("\(url.path): writing the metrics log failed (\(error.localizedDescription); is the disk full?)")
        }
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
