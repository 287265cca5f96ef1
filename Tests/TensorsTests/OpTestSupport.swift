// Shared checks for the element-wise, reduction and row-wise op tests: running an op
// forward and backward under a seed gradient, and the accumulate-into-existing-grad check.
import XCTest
import Tensors

/// Output values and input gradients of one recorded forward + backward pass.
struct RecordedRun {
    var output: [Float]
    var grads: [[Float]]
}

/// Clears the inputs' gradients, runs `f` on a tape and back-propagates `seed` (same shape as
/// the output). Returns the output and every input's gradient (empty when it has none).
func recordedRun(_ inputs: [Tensor], seed: Tensor, _ f: ([Tensor]) -> Tensor) -> RecordedRun {
    for x in inputs { x.grad = nil }
    let (out, tape) = Tape.record { f(inputs) }
    tape.backward(from: out, seed: seed)
    return RecordedRun(output: out.array, grads: inputs.map { $0.grad?.array ?? [] })
}

/// A seed gradient for `f`'s output: Normal(0, 1) values from a fixed generator.
func randomSeed(for inputs: [Tensor], seed: UInt64 = 99, _ f: ([Tensor]) -> Tensor) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.randn(f(inputs).shape, rng: &rng)
}

/// Runs backward twice without clearing gradients and returns, per input, the largest
/// |g₂ − 2·g₁| relative to max |g₁|. A backward that overwrote instead of adding gives ≈ 0.5.
/// The two passes compute the same values, so the sum is exact up to one rounding of an
/// FMA (relative 6e-8) where the accumulate path fuses the add.
func accumulationErrors(_ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> [Float] {
    let seed = randomSeed(for: inputs, f)
    let once = recordedRun(inputs, seed: seed, f).grads
    let (out, tape) = Tape.record { f(inputs) }
    tape.backward(from: out, seed: seed)
    var errors: [Float] = []
    for (k, x) in inputs.enumerated() where x.requiresGrad {
        let twice = x.grad!.array
        var maxDiff: Float = 0, scale: Float = 1e-30
        for i in 0..<twice.count {
            maxDiff = max(maxDiff, abs(twice[i] - 2 * once[k][i]))
            scale = max(scale, abs(once[k][i]))
        }
        errors.append(maxDiff / scale)
    }
    return errors
}

/// Asserts that `f`'s output and its inputs' gradients are bitwise the same with the 16-float
/// element-wise kernels (WideTiles) as with the 8-float ones. Skipped without AVX-512.
func assertSameOnEightAndSixteenLanes(_ inputs: [Tensor], seed: Tensor, file: StaticString = #filePath,
                                      line: UInt = #line, _ f: ([Tensor]) -> Tensor) throws {
    try XCTSkipUnless(WideLanes.supported, "this processor has no AVX-512")
    let previous = WideLanes.enabled
    defer { WideLanes.enabled = previous }
    WideLanes.enabled = false
    let eight = recordedRun(inputs, seed: seed, f)
    WideLanes.enabled = true
    let sixteen = recordedRun(inputs, seed: seed, f)
    XCTAssertEqual(eight.output.map(\.bitPattern), sixteen.output.map(\.bitPattern), "output differs", file: file, line: line)
    for (k, (a, b)) in zip(eight.grads, sixteen.grads).enumerated() {
        XCTAssertFalse(a.isEmpty, "input \(k) got no gradient", file: file, line: line)
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "gradient \(k) differs", file: file, line: line)
    }
}
