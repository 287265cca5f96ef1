// Tape: reverse-mode automatic differentiation by recording. While a tape is active, each
// op whose inputs require gradients appends its backward closure; `backward(from:)` seeds
// d(loss)/d(loss) = 1 and runs the closures in reverse order, each accumulating (+=) into
// its inputs' `grad`. Execution order is a valid topological order, so no graph sort is needed.

public final class Tape {
    /// The tape ops record onto; nil outside `Tape.record` (inference records nothing).
    /// Recording happens on one thread; ops parallelise internally.
    nonisolated(unsafe) public private(set) static var active: Tape?

    private var entries: [() -> Void] = []

    public init() {}

    /// Number of recorded backward steps.
    public var count: Int { entries.count }

    /// Runs `body` with a fresh tape active and returns its result with the tape.
    public static func record<R>(_ body: () throws -> R) rethrows -> (R, Tape) {
        let tape = Tape()
        let previous = active
        active = tape
        defer { active = previous }
        let result = try body()
        return (result, tape)
    }

    /// Whether an op on these inputs should record a backward step.
    @inlinable public static func shouldRecord(_ inputs: Tensor...) -> Bool {
        active != nil && inputs.contains { $0.requiresGrad }
    }

    /// Appends a backward closure (called by ops).
    public static func push(_ backward: @escaping () -> Void) {
        active?.entries.append(backward)
    }

    /// Back-propagates from a one-element `loss` and then drops the recorded closures,
    /// releasing the activations they saved.
    public func backward(from loss: Tensor) {
        precondition(loss.count == 1, "backward(from:) needs a scalar loss, got shape \(loss.shape)")
        loss.ensureGrad()[0] += 1
        while let step = entries.popLast() { step() }
    }

    /// Vector-Jacobian product: back-propagates `seed` (same shape as `output`) as the
    /// gradient of `output`, i.e. the gradient of sum(output ⊙ seed). Used by gradient checks.
    public func backward(from output: Tensor, seed: Tensor) {
        precondition(output.count == seed.count, "seed \(seed.shape) for output \(output.shape)")
        let g = output.ensureGrad()
        for i in 0..<g.count { g.pointer[i] += seed.pointer[i] }
        while let step = entries.popLast() { step() }
    }
}
