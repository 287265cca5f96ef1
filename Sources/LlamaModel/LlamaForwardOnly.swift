// The forward-only path: the model's loss with no tape and no activation kept for backward
// (each block's intermediates are freed as soon as the next op has read them), summed over
// tokens in Double and returned as a Double. `eval`, the trainer's validation and the
// zeroth-order methods (MeZO, AdaZeta: spec optimizers-elementwise-zo.md §6–§7) use it; a
// zeroth-order pass reads its perturbed weights through a `Perturbation`. Calling it while
// a tape records is an error: it would silently keep every activation otherwise.
import Tensors

/// The forward-only path was called inside `Tape.record`.
public struct ForwardOnlyError: Error, CustomStringConvertible {
    public let description: String
}

extension Llama {
    /// Mean next-token cross-entropy over the B·T positions of `tokens`/`targets` (row-major
    /// [B, T]), forward only. With `perturbation`, every trainable tensor is read as θ + c·z
    /// (θ itself is never written). Throws ForwardOnlyError under a recording tape.
    public func forwardLoss(tokens: [Int32], targets: [Int32], batch: Int, seqLen: Int,
                            perturbation: Perturbation? = nil) throws -> Double {
        guard Tape.active == nil else {
            throw ForwardOnlyError(description: "the forward-only loss was called while an autograd tape is recording (inside Tape.record); it keeps no activations for backward, so call it outside the recording closure, or use loss(tokens:targets:batch:seqLen:) to train")
        }
        precondition(targets.count == tokens.count, "targets and tokens differ in count")
        let x = hidden(tokens: tokens, batch: batch, seqLen: seqLen, perturbation: perturbation)   // [N, d]
        return linearCrossEntropyMean(x, perturbation?.read(head) ?? head, targets: targets)
    }
}
