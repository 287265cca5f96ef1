// Interrupt: turns SIGINT / SIGTERM into a flag the training loop polls between steps, so
// Ctrl-C or a polite kill finishes the current step, writes a checkpoint and exits.
// A second signal of the same kind stops the process at once (default action restored).
// A run started by `compare` also stops this way when compare dies without stopping it.
import Foundation

public enum Interrupt {
    nonisolated(unsafe) static var received: Int32 = 0

    /// The signal received so far (SIGINT or SIGTERM), or nil.
    public static var signal: Int32? { received == 0 ? nil : received }

    /// Installs the handlers, and the parent watch when `parentVariable` is set.
    public static func install() {
        for sig in [SIGINT, SIGTERM] {
            Foundation.signal(sig) { s in
                Interrupt.received = s
                Foundation.signal(s, SIG_DFL)
            }
        }
        watchParent()
    }

    /// Environment variable holding the pid of a parent that runs this process as one of
    /// its jobs (`compare`): if that parent dies without stopping it (SIGKILL, a crash), the
    /// process stops as on SIGTERM, with a checkpoint, instead of running on orphaned.
    public static let parentVariable = "SWIFT_TRAIN_PARENT_PID"
    nonisolated(unsafe) private static var watching = false

    private static func watchParent() {
        guard !watching, let text = ProcessInfo.processInfo.environment[parentVariable],
              let parent = pid_t(text), parent == getppid() else { return }
        watching = true
        let watcher = Thread {
            while getppid() == parent { sleep(1) }
            if received == 0 { kill(getpid(), SIGTERM) }
        }
        watcher.start()
    }
}
