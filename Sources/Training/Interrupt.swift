// Interrupt: turns SIGINT / SIGTERM into a flag the training loop polls between steps, so
// Ctrl-C or a polite kill finishes the current step, writes a checkpoint and exits.
// A second signal of the same kind stops the process at once (default action restored).
import Foundation

public enum Interrupt {
    nonisolated(unsafe) static var received: Int32 = 0

    /// The signal received so far (SIGINT or SIGTERM), or nil.
    public static var signal: Int32? { received == 0 ? nil : received }

    /// Installs the handlers.
    public static func install() {
        for sig in [SIGINT, SIGTERM] {
            Foundation.signal(sig) { s in
                Interrupt.received = s
                Foundation.signal(s, SIG_DFL)
            }
        }
    }
}
