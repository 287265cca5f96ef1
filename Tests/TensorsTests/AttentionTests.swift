// Tests of causalAttention: forward against a Double reference, the causal mask, T = 1,
// gradients against finite differences, independence from the thread count and from what
// the pool's scratch held before, and what recording keeps for backward (row statistics, no P).
import Foundation
import XCTest
import GradientCheck
import Tensors

/// softmax(q kᵀ/√hd + causal mask) v per (b, h) with triple loops in Double.
private func referenceAttention(q: Tensor, k: Tensor, v: Tensor,
                                batch: Int, seqLen: Int, heads: Int) -> [Double] {
    let width = q.lastDim, hd = width / heads
    var out = [Double](repeating: 0, count: q.count)
    for b in 0..<batch {
        for h in 0..<heads {
            for t in 0..<seqLen {
                let qi = (b * seqLen + t) * width + h * hd
                var scores = [Double](repeating: 0, count: t + 1)
                for s in 0...t {
                    let ki = (b * seqLen + s) * width + h * hd
                    var dot = 0.0
                    for c in 0..<hd { dot += Double(q[qi + c]) * Double(k[ki + c]) }
                    scores[s] = dot / Double(hd).squareRoot()
                }
                let top = scores.max() ?? 0
                let weights = scores.map { Foundation.exp($0 - top) }
                let total = weights.reduce(0, +)
                for s in 0...t {
                    let vi = (b * seqLen + s) * width + h * hd
                    for c in 0..<hd { out[qi + c] += weights[s] / total * Double(v[vi + c]) }
                }
            }
        }
    }
    return out
}

private func qkv(batch: Int, seqLen: Int, width: Int, seed: UInt64) -> (Tensor, Tensor, Tensor) {
    (randomInput([batch * seqLen, width], seed: seed),
     randomInput([batch * seqLen, width], seed: seed + 1),
     randomInput([batch * seqLen, width], seed: seed + 2))
}

final class AttentionTests: XCTestCase {
    /// Float32 scores carry a relative error of a few ε·hd and the exp about 1.5e-7, so each
    /// output (a convex combination of O(1) values) is within ~1e-6 of the Double result;
    /// 2e-5 leaves margin while a wrong scale, mask or normalisation gives errors ≥ 1e-2.
    func testForwardMatchesDoubleReference() {
        // T = 7 and 67: a last 8-row block with padding rows; hd = 4 and 8: padded and exact columns.
        // hd = 40 and 64: output tiles 24 + 16 and 24 + 24 + 16 wide.
        for (batch, seqLen, heads, hd) in [(2, 7, 2, 4), (2, 67, 3, 8), (1, 37, 2, 40), (1, 29, 1, 64)] {
            let (q, k, v) = qkv(batch: batch, seqLen: seqLen, width: heads * hd, seed: 10)
            let out = causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
            XCTAssertEqual(out.shape, q.shape)
            let ref = referenceAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
            var worst = 0.0
            for i in 0..<ref.count { worst = max(worst, abs(Double(out[i]) - ref[i])) }
            XCTAssertLessThan(worst, 2e-5, "T=\(seqLen): max |out − reference| = \(worst)")
        }
    }

    /// Changing q, k or v at positions > t0 must leave every output at positions ≤ t0 bitwise
    /// unchanged (masked keys get probability exactly 0 and their products add exact zeros).
    func testCausalMaskIgnoresFuturePositions() {
        for (seqLen, cut) in [(7, 3), (67, 40), (67, 10)] {
            let batch = 2, heads = 2, hd = 4, width = heads * hd
            let (q, k, v) = qkv(batch: batch, seqLen: seqLen, width: width, seed: 20)
            let before = causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
            var rng = RandomGenerator(seed: 99)
            for x in [q, k, v] {
                for b in 0..<batch {
                    for t in (cut + 1)..<seqLen {
                        for c in 0..<width { x[(b * seqLen + t) * width + c] += 50 * rng.uniform() - 25 }
                    }
                }
            }
            let after = causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
            var changedLater = false
            for b in 0..<batch {
                for t in 0..<seqLen {
                    for c in 0..<width {
                        let i = (b * seqLen + t) * width + c
                        if t <= cut {
                            XCTAssertEqual(before[i].bitPattern, after[i].bitPattern,
                                           "T=\(seqLen) b=\(b) t=\(t) c=\(c) changed")
                        } else if before[i] != after[i] {
                            changedLater = true
                        }
                    }
                }
            }
            XCTAssertTrue(changedLater, "perturbing positions > \(cut) changed nothing")
        }
    }

    /// Scores of later keys are masked by replacement, so even an infinite or NaN key at a
    /// later position (in the same 8-row block as earlier rows) leaves every earlier output's
    /// bits alone.
    func testNonFiniteLaterKeysDoNotReachEarlierRows() {
        let batch = 1, seqLen = 13, heads = 2, hd = 8, width = heads * hd, cut = 5
        let (q, k, v) = qkv(batch: batch, seqLen: seqLen, width: width, seed: 25)
        let before = causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
        for c in 0..<width { k[(cut + 1) * width + c] = c % 2 == 0 ? .infinity : .nan }
        let after = causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
        for i in 0..<((cut + 1) * width) {
            XCTAssertEqual(before[i].bitPattern, after[i].bitPattern, "row \(i / width) changed")
        }
    }

    /// With one position the softmax is exactly 1, so the output is exactly v.
    func testSinglePositionReturnsValues() {
        let (q, k, v) = qkv(batch: 3, seqLen: 1, width: 8, seed: 30)
        let out = causalAttention(q: q, k: k, v: v, batch: 3, seqLen: 1, heads: 2)
        XCTAssertEqual(out.array, v.array)
    }

    /// Recording (which also stores each row's max and inverse sum) and inference give the same
    /// bits, for T = 1, 67 and 130 (padding rows in the last 8-row block).
    func testRecordingDoesNotChangeForward() {
        for (batch, seqLen, heads, hd) in [(2, 1, 2, 4), (2, 67, 2, 8), (2, 130, 4, 8)] {
            let (q, k, v) = qkv(batch: batch, seqLen: seqLen, width: heads * hd, seed: 40)
            let plain = causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
            let (recorded, _) = Tape.record {
                causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
            }
            XCTAssertEqual(plain.array.map(\.bitPattern), recorded.array.map(\.bitPattern),
                           "T=\(seqLen)")
        }
    }

    /// While recording, forward keeps only the output and two floats per row (softmax max and
    /// inverse exp sum, [B, H, T] each): no [T, T] block per head stays live for backward.
    func testRecordingKeepsRowStatisticsNotProbabilities() {
        let batch = 2, seqLen = 130, heads = 4, hd = 8
        let (q, k, v) = qkv(batch: batch, seqLen: seqLen, width: heads * hd, seed: 45)
        let before = BufferPool.shared.liveBytes
        let (out, tape) = Tape.record {
            causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
        }
        let after = BufferPool.shared.liveBytes
        withExtendedLifetime(tape) {
            let floats = out.count + 2 * batch * heads * seqLen
            XCTAssertEqual(after - before, floats * MemoryLayout<Float>.stride,
                           "P alone would be \(batch * heads * seqLen * seqLen) floats")
        }
    }

    // MARK: - Gradients

    /// Central differences with h = 1e-2 on Float32 forwards: truncation O(h²·f‴) ≲ 1e-4 of the
    /// gradient scale, and rounding about ε·√(outputs touched)·|out| / h ≲ 1e-4 (outputs the
    /// perturbed element cannot reach are recomputed bitwise identically); observed ≤ 4e-5.
    /// A wrong term of the backward (missing scale, mask or rowsum) gives relative errors
    /// ≥ 1e-1, so 1e-3 passes the correct code with margin and catches real mistakes.
    func testBackwardMatchesFiniteDifferences() {
        // T = 5 and 7 (padding rows and columns in every copy) and 67 (17 row blocks).
        // (1, 21, 1, 24): score rows 24 wide and 24-wide output tiles.
        for (batch, seqLen, heads, hd) in [(2, 5, 2, 4), (3, 7, 2, 4), (2, 67, 2, 4), (1, 21, 1, 24)] {
            let (q, k, v) = qkv(batch: batch, seqLen: seqLen, width: heads * hd, seed: 50)
            let result = gradCheck([q, k, v]) {
                causalAttention(q: $0[0], k: $0[1], v: $0[2], batch: batch, seqLen: seqLen, heads: heads)
            }
            XCTAssertEqual(result.relativeErrors.count, 3)
            XCTAssertLessThan(result.worst, 1e-3, "T=\(seqLen): errors (q, k, v) \(result.relativeErrors)")
        }
    }

    /// Only the inputs that require gradients receive them, and the others are left alone.
    func testBackwardOnlyIntoInputsThatRequireGrad() {
        let (q, k, v) = qkv(batch: 2, seqLen: 7, width: 8, seed: 60)
        k.requiresGrad = false
        let result = gradCheck([q, k, v]) {
            causalAttention(q: $0[0], k: $0[1], v: $0[2], batch: 2, seqLen: 7, heads: 2)
        }
        XCTAssertNil(k.grad)
        XCTAssertEqual(result.relativeErrors.count, 2)
        XCTAssertLessThan(result.worst, 1e-3, "errors (q, v) \(result.relativeErrors)")
    }

    /// The 8-lane tiles and (where the processor has AVX-512) the 16-lane ones give the same
    /// output and gradients, bit for bit: each element sums the same terms in the same order,
    /// and the wider padding only adds exact zeros. Shapes with padding rows and columns.
    func testEightAndSixteenLaneTilesBitwiseIdentical() throws {
        try XCTSkipUnless(WideLanes.supported, "this processor has no AVX-512")
        let previous = WideLanes.enabled
        defer { WideLanes.enabled = previous }
        for (batch, seqLen, heads, hd) in [(2, 37, 2, 8), (1, 70, 3, 40), (2, 16, 2, 32)] {
            let (q, k, v) = qkv(batch: batch, seqLen: seqLen, width: heads * hd, seed: 75)
            let seed = randomInput([batch * seqLen, heads * hd], seed: 76)
            func run(lanes: Int) -> [[UInt32]] {
                WideLanes.enabled = lanes == 16
                for x in [q, k, v] { x.grad = nil }
                let (out, tape) = Tape.record {
                    causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
                }
                let forward = out.array
                tape.backward(from: out, seed: seed)
                return ([forward] + [q, k, v].map { $0.grad?.array ?? [] }).map { $0.map(\.bitPattern) }
            }
            let eight = run(lanes: 8), sixteen = run(lanes: 16)
            for (name, (a, b)) in zip(["out", "dq", "dk", "dv"], zip(eight, sixteen)) {
                XCTAssertEqual(a.count, batch * seqLen * heads * hd)
                XCTAssertEqual(a, b, "T=\(seqLen) hd=\(hd): \(name) differs")
            }
        }
    }

    /// Forward and all three gradients are bitwise the same on 1 and 2 threads, at a size
    /// where the 2·4 heads really split over the workers and each head has 24 row blocks.
    func testOneAndTwoThreadsBitwiseIdentical() {
        let previous = Parallel.threads
        defer { Parallel.setThreads(previous) }
        let batch = 2, seqLen = 96, heads = 4, hd = 16
        let (q, k, v) = qkv(batch: batch, seqLen: seqLen, width: heads * hd, seed: 70)
        let seed = randomInput([batch * seqLen, heads * hd], seed: 80)
        func run(threads: Int) -> [[Float]] {
            Parallel.setThreads(threads)
            for x in [q, k, v] { x.grad = nil }
            let (out, tape) = Tape.record {
                causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
            }
            let forward = out.array
            tape.backward(from: out, seed: seed)
            return [forward] + [q, k, v].map { $0.grad?.array ?? [] }
        }
        let one = run(threads: 1), two = run(threads: 2)
        for (name, (a, b)) in zip(["out", "dq", "dk", "dv"], zip(one, two)) {
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(name) differs")
        }
    }

    /// Forward and backward work in per-worker scratch from the pool (padded copies of the
    /// head, rows of P, P and dS). Filling the pool's free buffers of those sizes with NaN
    /// first must change no bit of the output or the gradients: every entry a product reads is
    /// written for this head before it is read. T = 130 and hd = 6 leave padded rows and
    /// columns in every copy.
    func testForwardAndBackwardIgnoreStaleScratch() {
        let batch = 2, seqLen = 130, heads = 4, hd = 6
        let (q, k, v) = qkv(batch: batch, seqLen: seqLen, width: heads * hd, seed: 90)
        let seed = randomInput([batch * seqLen, heads * hd], seed: 91)
        func run(poison: Bool) -> [[UInt32]] {
            if poison {
                for backward in [false, true] {
                    let count = causalAttentionScratchCount(batch: batch, seqLen: seqLen, heads: heads,
                                                            headDim: hd, backward: backward)
                    let buffers = (0..<4).map { _ in BufferPool.shared.take(count) }
                    for p in buffers {
                        p.update(repeating: .nan, count: count)
                        BufferPool.shared.give(p, count: count)
                    }
                }
            }
            for x in [q, k, v] { x.grad = nil }
            let (out, tape) = Tape.record {
                causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)
            }
            let forward = out.array.map(\.bitPattern)
            tape.backward(from: out, seed: seed)
            return [forward] + [q, k, v].map { ($0.grad?.array ?? []).map(\.bitPattern) }
        }
        let clean = run(poison: false), poisoned = run(poison: true)
        for (name, (a, b)) in zip(["out", "dq", "dk", "dv"], zip(clean, poisoned)) {
            XCTAssertEqual(a.count, batch * seqLen * heads * hd)
            XCTAssertEqual(a, b, "\(name) depends on the scratch's previous contents")
            XCTAssertFalse(b.contains { Float(bitPattern: $0).isNaN }, "\(name) has NaN")
        }
    }
}
