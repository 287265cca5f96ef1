// OpenBLAS settings it reads only once, when the library is loaded; the program sets them
// and re-executes itself (a value the user has set is kept):
//
// - OPENBLAS_THREAD_TIMEOUT=18. OpenBLAS's own threads work only where it threads a routine
//   itself (LAPACK's factorisations, the reference sgemm rate; the training step's products
//   are split over the project's threads with OpenBLAS on one thread, see BLAS.sgemm). Its
//   idle workers spin (calling sched_yield) for 2^OPENBLAS_THREAD_TIMEOUT cycles after each
//   routine before they sleep; the default, 2^28 cycles (about 0.1 s), would keep them
//   spinning on the cores the project's threads need after every factorisation. 2^18 cycles
//   (under 0.1 ms) lets the cores go at once. (When OpenBLAS still threaded the step's
//   products, this setting took the share of a llama-tiny step outside BLAS from 0.16 to 0.13.)
// - OPENBLAS_CORETYPE=SkylakeX on AMD processors with AVX-512 (Zen 4 and later). OpenBLAS
//   0.3.21 (Debian 12) does not know these processors and runs its Haswell (AVX2) kernels
//   there; its SkylakeX kernels are the same library's AVX-512 code, which these processors
//   run. Measured on an AMD EPYC with AVX-512 (`bench`, 2 threads): sgemm 1024³ 253 → 392–
//   505 GFLOP/s, a llama-tiny step 89.9 → 56.6 ms. Intel processors with AVX-512 are
//   recognised by OpenBLAS itself, and processors without it keep OpenBLAS's own choice.
import Foundation

enum OpenBLASEnvironment {
    static let timeoutVariable = "OPENBLAS_THREAD_TIMEOUT"
    static let timeoutValue = "18"
    static let coreVariable = "OPENBLAS_CORETYPE"

    /// Re-executes this program with the settings above when one is missing (returns when
    /// they are already set, or when the re-execution is impossible: then the defaults apply).
    static func ensureSettings() {
        var missing = false
        if getenv(timeoutVariable) == nil {
            setenv(timeoutVariable, timeoutValue, 1)
            missing = true
        }
        if getenv(coreVariable) == nil, let core = preferredCore() {
            setenv(coreVariable, core, 1)
            missing = true
        }
        if missing { execv("/proc/self/exe", CommandLine.unsafeArgv) }
    }

    /// "SkylakeX" for an AMD processor whose flags include the AVX-512 subsets the SkylakeX
    /// kernels use (F, CD, BW, DQ, VL); nil otherwise (OpenBLAS decides).
    static func preferredCore(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> String? {
        guard let text = cpuinfo else { return nil }
        var vendor = "", flags: Set<Substring> = []
        for line in text.split(separator: "\n") {
            if vendor.isEmpty, line.hasPrefix("vendor_id") { vendor = line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "" }
            if flags.isEmpty, line.hasPrefix("flags") { flags = Set((line.split(separator: ":").last ?? "").split(separator: " ")) }
            if !vendor.isEmpty && !flags.isEmpty { break }
        }
        let needed: [Substring] = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        return vendor == "AuthenticAMD" && needed.allSatisfy(flags.contains) ? "SkylakeX" : nil
    }

    /// A note when the environment holds another OPENBLAS_CORETYPE than the one this
    /// processor would get (the user's value is kept; this says what it costs).
    static var hint: String? {
        guard let set = ProcessInfo.processInfo.environment[coreVariable], let preferred = preferredCore(),
              set.lowercased() != preferred.lowercased() else { return nil }
        return "note: the environment sets \(coreVariable)=\(set), so OpenBLAS runs its \(set) kernels; this processor runs its \(preferred) (AVX-512) kernels, which swift-train picks when the variable is unset (sgemm about 1.9× faster on an AMD EPYC with AVX-512)"
    }
}
