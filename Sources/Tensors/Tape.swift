// Tape: reverse-mode automatic differentiation by recording. While a tape is active, each
// op whose inputs require gradients appends its backward closure; `backward(from:)` seeds
// d(loss)/d(loss) = 1 and runs the closures in reverse order, each accumulating (+=) into
// its inputs' `grad`. Execution order is a valid topological order, so no graph sort is needed.
//
// Two memory levers live here:
// - completion hooks: ops name the weights they read (`push(touching:)`), so backward knows
//   the last step that adds to a weight's gradient and can hand the weight to a hook right
//   then (GaLore's per-layer update: update, then free that gradient);
// - `checkpointed(_:)` segments (activation checkpointing, Chen et al. 2016): a segment runs
//   forward without recording and keeps only its inputs; backward re-runs it on a fresh
//   tape and back-propagates through that, with the same ops in the same order, so every
//   gradient is bit-identical to the recorded run.

public final class Tape {
    /// The tape ops record onto; nil outside `Tape.record` (inference records nothing).
    /// Recording happens on one thread; ops parallelise internally.
    nonisolated(unsafe) public private(set) static var active: Tape?

    private var entries: [() -> Void] = []
    /// Weights read by each entry (only entries that read weights appear).
    private var touched: [Int: [Tensor]] = [:]

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

    /// Runs `body` with no tape active (nothing recorded, nothing kept for backward).
    public static func withoutRecording<R>(_ body: () throws -> R) rethrows -> R {
        let previous = active
        active = nil
        defer { active = previous }
        return try body()
    }

    /// Whether an op on these inputs should record a backward step.
    @inlinable public static func shouldRecord(_ inputs: Tensor...) -> Bool {
        active != nil && inputs.contains { $0.requiresGrad }
    }

    /// Appends a backward closure (called by ops).
    public static func push(_ backward: @escaping () -> Void) {
        active?.entries.append(backward)
    }

    /// Appends a backward closure that adds to the gradients of the weights `weights`
    /// (tensors of kind `.parameter`; others are ignored), for completion hooks.
    public static func push(touching weights: [Tensor], _ backward: @escaping () -> Void) {
        guard let tape = active else { return }
        let w = weights.filter { $0.kind == .parameter && $0.requiresGrad }
        if !w.isEmpty { tape.touched[tape.entries.count] = w }
        tape.entries.append(backward)
    }

    /// Back-propagates from a one-element `loss` and then drops the recorded closures,
    /// releasing the activations they saved.
    public func backward(from loss: Tensor) {
        precondition(loss.count == 1, "backward(from:) needs a scalar loss, got shape \(loss.shape)")
        loss.ensureGrad()[0] += 1
        run(completed: nil)
    }

    /// Vector-Jacobian product: back-propagates `seed` (same shape as `output`) as the
    /// gradient of `output`, i.e. the gradient of sum(output ⊙ seed). When `completed` is
    /// given, it is called with each weight as soon as the last step adding to its gradient
    /// has run (in reverse order of the weights' first use in forward).
    public func backward(from output: Tensor, seed: Tensor, completed: ((Tensor) -> Void)? = nil) {
        precondition(output.count == seed.count, "seed \(seed.shape) for output \(output.shape)")
        let g = output.ensureGrad()
        for i in 0..<g.count { g.pointer[i] += seed.pointer[i] }
        run(completed: completed)
    }

    private func run(completed: ((Tensor) -> Void)?) {
        guard let completed else {
            touched.removeAll()
            while let step = entries.popLast() { step() }
            return
        }
        // The entry with the lowest index that touches a weight is the last to run for it.
        var firstUse: [ObjectIdentifier: Int] = [:]
        for (i, ws) in touched {
            for w in ws { firstUse[ObjectIdentifier(w), default: i] = min(firstUse[ObjectIdentifier(w)] ?? i, i) }
        }
        var completing: [Int: [Tensor]] = [:]
        var seen = Set<ObjectIdentifier>()
        for i in touched.keys.sorted() {
            for w in touched[i]! where firstUse[ObjectIdentifier(w)] == i && seen.insert(ObjectIdentifier(w)).inserted {
                completing[i, default: []].append(w)
            }
        }
        touched.removeAll()
        while let step = entries.popLast() {
            step()
            if let done = completing[entries.count] { for w in done { completed(w) } }
        }
    }

    /// Activation checkpointing of one segment: runs `body(inputs)` now without recording
    /// (only `inputs` stay alive for backward) and records one backward step that re-runs
    /// it on a fresh tape and back-propagates the output's gradient through it, into the
    /// inputs' and `weights`' gradients. Without an active tape it simply runs `body`.
    public static func checkpointed(inputs: [Tensor], weights: [Tensor],
                                    _ body: @escaping ([Tensor]) -> Tensor) -> Tensor {
        guard active != nil, inputs.contains(where: { $0.requiresGrad }) || weights.contains(where: { $0.requiresGrad }) else {
            return body(inputs)
        }
        let out = withoutRecording { body(inputs) }
        out.requiresGrad = true
        push(touching: weights) {
            guard let dOut = out.grad else { return }
            defer { out.grad = nil }
            let (again, tape) = Tape.record { body(inputs) }
            precondition(again.shape == out.shape, "checkpointed segment changed its output shape")
            again.grad = dOut  // the segment's output gradient, handed over without a copy
            tape.run(completed: nil)
        }
        return out
    }
}
