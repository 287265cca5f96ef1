// Progress: what a person watching a run sees — on a terminal, one line rewritten in place
// (step/total, loss, lr, tokens/s, ETA) on stderr; every log step, a plain line on stdout,
// which is also all that is printed when output goes to a file or a pipe.
import Foundation

public struct Progress {
    let total: Int
    let live: Bool
    /// Prints nothing (the ranks of a data-parallel run other than rank 0).
    let silent: Bool

    public init(total: Int, silent: Bool = false) {
        self.total = total
        self.silent = silent
        live = !silent && isatty(STDERR_FILENO) != 0
    }

    static func eta(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }

    static func rate(_ r: Double) -> String { r >= 10_000 ? String(format: "%.1fk", r / 1000) : String(format: "%.0f", r) }

    func line(step: Int, loss: Double, lr: Double, tokensPerSecond: Double, etaSeconds: Double) -> String {
        String(format: "step %ld/%ld | loss %.4f | lr %.2e | %@ tok/s | ETA %@", step, total, loss, lr,
               Progress.rate(tokensPerSecond), Progress.eta(etaSeconds))
    }

    /// Rewrites the live line (terminal only).
    public func update(step: Int, loss: Double, lr: Double, tokensPerSecond: Double, etaSeconds: Double) {
        guard live else { return }
        let text = line(step: step, loss: loss, lr: lr, tokensPerSecond: tokensPerSecond, etaSeconds: etaSeconds)
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text).utf8))
    }

    /// Prints a permanent line on stdout (clearing the live line first).
    public func print(_ text: String) {
        if silent { return }
        if live { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// A plain log line; `gradientLabel` names the last figure ("grad norm", or "p̂" for a
    /// zeroth-order step's projected gradient).
    public func logLine(step: Int, loss: Double, lr: Double, gradNorm: Double, tokensPerSecond: Double, etaSeconds: Double,
                        gradientLabel: String = "grad norm") {
        print(line(step: step, loss: loss, lr: lr, tokensPerSecond: tokensPerSecond, etaSeconds: etaSeconds)
              + " | \(gradientLabel) " + String(format: "%.3f", gradNorm))
    }
}
