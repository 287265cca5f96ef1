// Tests of `swift-train bench` through the built binary (run as a child process): the JSON
// reports carry every documented field with positive finite values and consistent derived
// figures, and bad input ends with a message and a non-zero exit, not a trap. No speed bounds.
import Foundation
import XCTest

final class BenchCommandTests: XCTestCase {
    /// Runs the binary (see CLIRunner); returns (exit status, stdout, stderr, exited normally).
    static func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String, exited: Bool) {
        let r = try CLIRunner.run(arguments)
        return (r.status, r.out, r.err, r.exited)
    }

    static func object(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let data = Data(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        let parsed = try JSONSerialization.jsonObject(with: data)
        return try XCTUnwrap(parsed as? [String: Any], "not a JSON object: \(text)", file: file, line: line)
    }

    static func positive(_ o: [String: Any], _ key: String, _ context: String,
                         file: StaticString = #filePath, line: UInt = #line) -> Double {
        guard let v = (o[key] as? NSNumber)?.doubleValue else {
            XCTFail("\(context): missing number \"\(key)\" in \(o)", file: file, line: line)
            return .nan
        }
        XCTAssert(v.isFinite && v > 0, "\(context).\(key) = \(v) is not positive and finite", file: file, line: line)
        return v
    }

    /// `bench --json --quick`: one JSON object with threads, the three sgemm sizes and every
    /// op with its times and its rate (GFLOP/s for matmul ops, GB/s for the others).
    func testOpsJSONHasEveryFieldPositive() throws {
        let r = try Self.run(["bench", "--json", "--quick", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.err)
        let o = try Self.object(r.out)
        XCTAssertEqual(o["threads"] as? Int, 2)
        let sgemm = try XCTUnwrap(o["sgemm_gflops"] as? [String: Any])
        XCTAssertEqual(Set(sgemm.keys), ["512", "1024", "2048"])
        for n in ["512", "1024", "2048"] { _ = Self.positive(sgemm, n, "sgemm_gflops") }
        let ops = try XCTUnwrap(o["ops"] as? [String: Any])
        let matmul = ["linear", "attention"]
        let memory = ["rmsnorm", "swiglu", "silu", "rotary", "embedding", "cross_entropy", "add", "mul"]
        XCTAssertEqual(Set(ops.keys), Set(matmul + memory))
        for name in matmul + memory {
            let op = try XCTUnwrap(ops[name] as? [String: Any], name)
            _ = Self.positive(op, "forward_ms", name)
            let fb = Self.positive(op, "forward_backward_ms", name)
            // backward_ms is documented as the same forward+backward figure; both are printed
            // from one Double with 6 significant digits, so they agree exactly.
            XCTAssertEqual(Self.positive(op, "backward_ms", name), fb, name)
            XCTAssertNotNil(op["seed_ms"] as? NSNumber, name)
            let rate = matmul.contains(name) ? "gflops" : "gbps"
            _ = Self.positive(op, rate, name)
            _ = Self.positive(op, "forward_" + rate, name)
            XCTAssertNil(op[matmul.contains(name) ? "gbps" : "gflops"], "\(name) has the other unit's rate")
        }
    }

    /// `bench --config` on a tiny model: the step figures are present, and the derived ones
    /// follow from the others (ratio = model/sgemm, tokens/s = tokens/step ÷ step time,
    /// GFLOP per step and parameters from the formulas). The 6-significant-digit printing
    /// bounds each relative error by about 1e-5, so 1e-4 is the tolerance.
    func testStepJSONOnTinyConfig() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("tiny.json")
        try Data("""
        {"model": {"vocab_size": 256, "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "max_position_embeddings": 64},
         "optimizer": "adamw", "lr": 0.001, "batch_size": 2, "seq_len": 32, "grad_accum": 2, "grad_clip": 1.0}
        """.utf8).write(to: config)
        let r = try Self.run(["bench", "--json", "--quick", "--threads", "1", "--config", config.path])
        XCTAssertEqual(r.status, 0, r.err)
        let o = try Self.object(r.out)
        XCTAssertEqual(o["threads"] as? Int, 1)
        // 2·V·d + L·(4d² + 3·d·I + 2d) + d = 32768 + 2·50304 + 64
        XCTAssertEqual(o["parameters"] as? Int, 133_440)
        XCTAssertEqual(o["tokens_per_step"] as? Int, 2 * 32 * 2)
        let tps = Self.positive(o, "tokens_per_s", "step"), stepMs = Self.positive(o, "step_ms", "step")
        let model = Self.positive(o, "model_gflops", "step"), sgemm = Self.positive(o, "sgemm_gflops", "step")
        let ratio = Self.positive(o, "ratio", "step"), perStep = Self.positive(o, "model_gflop_per_step", "step")
        XCTAssertEqual(ratio, model / sgemm, accuracy: 1e-4 * ratio)
        XCTAssertEqual(tps, 128 / (stepMs / 1000), accuracy: 1e-4 * tps)
        // 6·P_mat·tokens + accum·L·3·2·(B·H·hd·T(T+1)): P_mat = P − V·d (embedding) − (2L+1)·d
        // (norms) = 133440 − 16384 − 320; attention over the causal half.
        let weightFlops: Double = 6 * 116_736 * 128
        let attentionFlops: Double = 2 * 2 * 6 * (2 * 4 * 16 * 32 * 33)
        let expectedFlops = weightFlops + attentionFlops
        XCTAssertEqual(perStep, expectedFlops / 1e9, accuracy: 1e-4 * perStep)
        XCTAssertEqual(Self.positive(o, "flops_per_step", "step"), expectedFlops, accuracy: 1e-4 * expectedFlops)
        XCTAssertEqual(Self.positive(o, "attention_flops_per_step", "step"), attentionFlops, accuracy: 1e-4 * attentionFlops)
        XCTAssertEqual(model, perStep / (stepMs / 1000), accuracy: 1e-4 * model)
        // The profile: every product shape with its rate alone; the share outside BLAS.
        let outside = o["outside_blas_share"] as? Double ?? -1
        XCTAssertTrue(outside >= 0 && outside < 1, "\(outside)")
        _ = Self.positive(o, "product_ceiling_gflops", "step")
        _ = Self.positive(o, "optimizer_alone_ms", "step")
        let products = o["products"] as? [[String: Any]] ?? []
        XCTAssertFalse(products.isEmpty)
        // The lm_head product of forward: [B·T, d]·[d, V]ᵀ = 64×64 · 64×256 (per micro-batch).
        XCTAssertTrue(products.contains { ($0["m"] as? Int) == 64 && ($0["n"] as? Int) == 256 && ($0["k"] as? Int) == 64 }, "\(products)")
        for p in products { XCTAssertGreaterThan(p["gflops"] as? Double ?? 0, 0, "\(p)") }
        // The sgemm products are the weight products (attention multiplies with its own tiles).
        let productFlops = products.reduce(0.0) { $0 + ($1["flops_per_step"] as? Double ?? 0) }
        XCTAssertEqual(productFlops, weightFlops, accuracy: 1e-3 * weightFlops)
        let attentionMs = Self.positive(o, "attention_alone_ms", "step")
        XCTAssertEqual(Self.positive(o, "attention_gflops", "step"), attentionFlops / (attentionMs / 1000) / 1e9,
                       accuracy: 1e-3 * attentionFlops / (attentionMs / 1000) / 1e9)
    }

    /// Bad input gives a message naming the problem and a non-zero exit status, no signal.
    func testBadInputFailsCleanly() throws {
        let missing = "/nonexistent/bench-config-\(UUID().uuidString).json"
        let r1 = try Self.run(["bench", "--config", missing])
        XCTAssertTrue(r1.exited, "terminated by a signal")
        XCTAssertNotEqual(r1.status, 0)
        XCTAssertTrue(r1.err.contains(missing), r1.err)
        let r2 = try Self.run(["bench", "--threads", "-3"])
        XCTAssertTrue(r2.exited, "terminated by a signal")
        XCTAssertNotEqual(r2.status, 0)
        XCTAssertTrue(r2.err.contains("--threads"), r2.err)
    }
}
