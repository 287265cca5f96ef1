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
