// OpenBLAS's idle worker threads spin (calling sched_yield) for 2^OPENBLAS_THREAD_TIMEOUT
// cycles after each product before they sleep; the default, 2^28 cycles (about 0.1 s), keeps
// them spinning through all the elementwise work between a step's products, on the very
// cores the project's own threads use (a perf profile of a llama-tiny step: 10–14% of the
// time in sched_yield). 2^18 cycles (under 0.1 ms) covers the gap between back-to-back
// products and then lets the cores go: measured with `bench --config configs/llama-tiny.json`
// in five alternating pairs, the share of the cores' time outside BLAS fell from 0.16 to
// 0.13 (medians) and tokens/s rose from 20,977 to 22,220. OpenBLAS reads the variable once,
// when the library is loaded, so the program sets it and re-executes itself; a value the
// user has set is kept.
import Foundation

enum OpenBLASEnvironment {
    static let variable = "OPENBLAS_THREAD_TIMEOUT"
    static let value = "18"

    /// Re-executes this program with the variable set when it is not (returns when it is
    /// already set, or when the re-execution is impossible: then the default applies).
    static func ensureThreadTimeout() {
        guard getenv(variable) == nil else { return }
        setenv(variable, value, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
