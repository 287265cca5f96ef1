// Where a backward pass writes an input's gradient: into the existing buffer by adding
// (other ops already contributed), or into a fresh buffer by plain stores, which skips the
// zero fill and the extra read that `ensureGrad()` followed by += would cost.

extension Tensor {
    /// The gradient buffer and whether the caller must add into it (`accumulate`) or may
    /// overwrite every element (a fresh, uninitialised buffer now installed as `grad`).
    /// Only for backward passes that write every element of the gradient.
    func gradientDestination() -> (grad: Tensor, accumulate: Bool) {
        if let g = grad { return (g, true) }
        let g = Tensor(uninitializedShape: shape, kind: gradientKind)
        grad = g
        return (g, false)
    }
}
