// The OpenBLAS settings the program gives itself: on an AMD processor with AVX-512 it runs
// OpenBLAS's SkylakeX (AVX-512) kernels unless OPENBLAS_CORETYPE is set, and a value the
// user sets is always kept (`bench --json` reports the kernels in use as "openblas_core").
import Foundation
import XCTest

final class OpenBLASEnvironmentTests: XCTestCase {
    func core(environment: [String: String?]) throws -> String {
        let p = Process()
        p.executableURL = try CLIRunner.binary()
        p.arguments = ["bench", "--json", "--quick", "--threads", "1"]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let r = try CLIRunner.runToEnd(p)
        XCTAssertEqual(r.status, 0, r.err)
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        return object["openblas_core"] as! String
    }

    func testAVX512KernelsOnAMDUnlessTheUserChoseOthers() throws {
        XCTAssertEqual(try core(environment: ["OPENBLAS_CORETYPE": "Haswell"]), "Haswell", "the user's choice is kept")
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = Set((cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? "").split(separator: " ").map(String.init))
        let amd = cpuinfo.contains("AuthenticAMD")
        let avx512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
        let chosen = try core(environment: ["OPENBLAS_CORETYPE": nil])
        if amd && avx512 {
            XCTAssertEqual(chosen, "SkylakeX")
        } else {
            XCTAssertNotEqual(chosen, "unknown")
        }
    }
}
