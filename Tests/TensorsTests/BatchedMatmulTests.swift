// Tests of batchedMatmul: every transpose combination against a Double loop reference and
// its backward against finite differences, on the sequential and the spread-over-cores paths.
import XCTest
import GradientCheck
import Tensors

/// C[i] = op(A[i]) · op(B[i]) in Double with explicit index arithmetic.
private func referenceBatchedMatmul(_ a: Tensor, _ b: Tensor, transA: Bool, transB: Bool) -> [Double] {
    let items = a.shape[0]
    let m = transA ? a.shape[2] : a.shape[1], k = transA ? a.shape[1] : a.shape[2]
    let n = transB ? b.shape[1] : b.shape[2]
    var out = [Double](repeating: 0, count: items * m * n)
    for i in 0..<items {
        for r in 0..<m {
            for c in 0..<n {
                var s = 0.0
                for j in 0..<k {
                    let av = transA ? a[i * k * m + j * m + r] : a[i * m * k + r * k + j]
                    let bv = transB ? b[i * n * k + c * k + j] : b[i * k * n + j * n + c]
                    s += Double(av) * Double(bv)
                }
                out[i * m * n + r * n + c] = s
            }
        }
    }
    return out
}

private let flagCombinations = [(false, false), (false, true), (true, false), (true, true)]

/// Operands for op(A) [m×k], op(B) [k×n] stored as the flags say.
private func operands(items: Int, m: Int, k: Int, n: Int, transA: Bool, transB: Bool,
                      seed: UInt64) -> (Tensor, Tensor) {
    (randomInput(transA ? [items, k, m] : [items, m, k], seed: seed),
     randomInput(transB ? [items, n, k] : [items, k, n], seed: seed + 1))
}

final class BatchedMatmulTests: XCTestCase {
    /// Float32 dot products of k O(1) terms are within about k·ε·Σ|aᵢbᵢ| of the exact value:
    /// ≲ 1e-5 for k ≤ 40, so 1e-4 passes rounding but not an index or transpose mix-up (O(1)).
    func testForwardMatchesReferenceForAllTransposes() {
        // Small batch (stays on the caller) and a batch of 64 items of 32³ (spread over cores).
        for (items, m, k, n) in [(3, 4, 5, 6), (64, 32, 40, 24)] {
            for (ta, tb) in flagCombinations {
                let (a, b) = operands(items: items, m: m, k: k, n: n, transA: ta, transB: tb, seed: 1)
                let c = batchedMatmul(a, b, transA: ta, transB: tb)
                XCTAssertEqual(c.shape, [items, m, n])
                let ref = referenceBatchedMatmul(a, b, transA: ta, transB: tb)
                var worst = 0.0
                for i in 0..<ref.count { worst = max(worst, abs(Double(c[i]) - ref[i])) }
                XCTAssertLessThan(worst, 1e-4, "items \(items) transA \(ta) transB \(tb)")
            }
        }
    }

    // MARK: - Gradients

    /// The loss Σ C ⊙ R is linear in each operand, so central differences have no truncation
    /// error; what remains is Float32 rounding of the loss, about ε·|terms|·√count / h ≲ 1e-4
    /// relative. 1e-3 passes that and fails any wrong or mis-transposed gradient (O(1)).
    func testBackwardMatchesFiniteDifferencesForAllTransposes() {
        for (ta, tb) in flagCombinations {
            let (a, b) = operands(items: 2, m: 3, k: 5, n: 4, transA: ta, transB: tb, seed: 10)
            let result = gradCheck([a, b]) { batchedMatmul($0[0], $0[1], transA: ta, transB: tb) }
            XCTAssertEqual(result.relativeErrors.count, 2)
            XCTAssertLessThan(result.worst, 1e-3, "transA \(ta) transB \(tb): \(result.relativeErrors)")
        }
    }

    /// The spread-over-cores path (64 items of 16·16·16 = 2²⁰ multiply-adds in all) gives the
    /// same gradients as the Double reference dA = dC·op(B)ᵀ, dB = op(A)ᵀ·dC (checked with
    /// dC = 1, i.e. the gradient of Σ C) for every flag combination.
    func testBackwardOnParallelPathMatchesReference() {
        let items = 64, m = 16, k = 16, n = 16
        for (ta, tb) in flagCombinations {
            let (a, b) = operands(items: items, m: m, k: k, n: n, transA: ta, transB: tb, seed: 20)
            let (c, tape) = Tape.record { batchedMatmul(a, b, transA: ta, transB: tb) }
            tape.backward(from: c, seed: Tensor.filled(c.shape, with: 1))
            // d(Σ C)/dA[r][j] = Σ_c op(B)[j][c]; d(Σ C)/dB[j][c] = Σ_r op(A)[r][j].
            var worst: Float = 0
            for i in 0..<items {
                for j in 0..<k {
                    var rowSumB: Float = 0, colSumA: Float = 0
                    for c in 0..<n { rowSumB += tb ? b[i * n * k + c * k + j] : b[i * k * n + j * n + c] }
                    for r in 0..<m { colSumA += ta ? a[i * k * m + j * m + r] : a[i * m * k + r * k + j] }
                    for r in 0..<m {
                        let g = a.grad?[ta ? i * k * m + j * m + r : i * m * k + r * k + j] ?? .nan
                        worst = max(worst, abs(g - rowSumB))
                    }
                    for c in 0..<n {
                        let g = b.grad?[tb ? i * n * k + c * k + j : i * k * n + j * n + c] ?? .nan
                        worst = max(worst, abs(g - colSumA))
                    }
                }
            }
            // Sums of 16 O(1) terms in Float32: differences from reordering ≲ 1e-5.
            XCTAssertLessThan(worst, 1e-4, "transA \(ta) transB \(tb)")
        }
    }
}
