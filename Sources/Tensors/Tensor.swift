// Tensor: a contiguous, row-major Float32 array with a shape, an optional gradient and a
// flag saying whether the autograd tape should track it. One owner per buffer: a Tensor
// is a class, so passing it around never copies the data (no hidden copy-on-write).
import Foundation

public final class Tensor {
    /// Dimensions, outermost first, e.g. [B·T, d] for activations or [out, in] for a weight.
    public let shape: [Int]
    /// Number of elements (product of `shape`).
    public let count: Int
    /// The elements, row-major. Valid for the tensor's lifetime.
    public let pointer: UnsafeMutablePointer<Float>
    /// Gradient of the loss with respect to this tensor, allocated on first use by backward.
    public var grad: Tensor?
    /// Whether ops recorded on the tape propagate gradients into this tensor.
    public var requiresGrad: Bool
    /// Optional name (parameters carry their Hugging Face name).
    public var name: String?
    /// What the buffer counts as in the memory account; a parameter's gradient counts as
    /// `.gradient`. Changing it moves the bytes between the pool's tallies.
    public var kind: MemoryKind {
        didSet { BufferPool.shared.recount(count, from: oldValue, to: kind) }
    }

    /// A tensor with unspecified contents (recycled storage). Use `zeros` when they matter.
    /// `kind` defaults to the pool's current default (activation, or optimizer work during
    /// an optimizer step).
    public init(uninitializedShape shape: [Int], requiresGrad: Bool = false, kind: MemoryKind? = nil) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        let k = kind ?? BufferPool.shared.defaultKind
        self.kind = k
        self.pointer = BufferPool.shared.take(count, kind: k)
        self.requiresGrad = requiresGrad
    }

    /// A tensor holding `values` (row-major) with the given shape.
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        self.init(uninitializedShape: shape, requiresGrad: requiresGrad)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false, kind: MemoryKind? = nil) -> Tensor {
        let t = Tensor(uninitializedShape: shape, requiresGrad: requiresGrad, kind: kind)
        t.pointer.initialize(repeating: 0, count: t.count)
        return t
    }

    /// A tensor filled with `value`.
    public static func filled(_ shape: [Int], with value: Float, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape, requiresGrad: requiresGrad)
        t.pointer.initialize(repeating: value, count: t.count)
        return t
    }

    /// Normal(mean, std) entries drawn from `rng`.
    public static func randn(_ shape: [Int], std: Float = 1, mean: Float = 0,
                             rng: inout RandomGenerator, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape, requiresGrad: requiresGrad)
        rng.fillNormal(t.buffer, mean: mean, std: std)
        return t
    }

    deinit { BufferPool.shared.give(pointer, count: count, kind: kind) }

    /// The elements as a mutable buffer.
    @inlinable public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    /// A copy of the elements as an array (for tests and small reads).
    public var array: [Float] { Array(buffer) }

    /// Element access by flat index (not for hot loops).
    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    /// The single value of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with \(count) elements")
        return pointer[0]
    }

    /// Number of rows when viewed as a matrix [rows, lastDim].
    public var rows: Int { shape.count <= 1 ? 1 : count / (shape.last ?? 1) }
    /// Size of the last dimension.
    public var lastDim: Int { shape.last ?? 1 }

    /// A new tensor with the same shape and contents (an explicit copy).
    public func clone() -> Tensor {
        let t = Tensor(uninitializedShape: shape, requiresGrad: requiresGrad)
        t.pointer.update(from: pointer, count: count)
        t.name = name
        return t
    }

    /// Copies `other`'s elements into this tensor (shapes must hold the same count).
    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy of \(other.shape) into \(shape)")
        pointer.update(from: other.pointer, count: count)
    }

    /// Sets every element to zero.
    public func fillZero() { pointer.update(repeating: 0, count: count) }

    /// The gradient buffer, allocated (zeroed) if absent.
    @discardableResult
    public func ensureGrad() -> Tensor {
        if let g = grad { return g }
        let g = Tensor.zeros(shape, kind: gradientKind)
        grad = g
        return g
    }

    /// The memory kind of this tensor's gradient.
    public var gradientKind: MemoryKind { kind == .parameter ? .gradient : .activation }

    /// Clears the gradient (keeps the buffer, so the next step reuses it).
    public func zeroGrad() { grad?.fillZero() }
}
