// RuleState: the persistent optimizer state of one parameter, typed: Float32 buffers,
// UInt8 buffers (8-bit block-wise codes, optimizers-elementwise-zo.md §8.2) and named
// scalars. Rules declare every buffer when the plan is built (zero-filled, as every moment
// starts), so the state's byte count equals the memory formula from step 0, and a restore
// can check each buffer's presence, dtype and shape.
import Tensors

/// A zero-filled UInt8 buffer with a shape (8-bit state codes).
public final class ByteBuffer {
    public let shape: [Int]
    public let count: Int
    public let pointer: UnsafeMutablePointer<UInt8>

    public init(shape: [Int], zeroed: Bool = true) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        pointer = BufferPool.systemAllocate(bytes: max(count, 1)).bindMemory(to: UInt8.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
    }

    deinit { BufferPool.systemRelease(UnsafeMutableRawPointer(pointer), bytes: max(count, 1)) }

    public var array: [UInt8] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// One state buffer, Float32 or UInt8.
public enum StateBuffer {
    case f32(Tensor)
    case u8(ByteBuffer)

    public var shape: [Int] {
        switch self {
        case .f32(let t): return t.shape
        case .u8(let b): return b.shape
        }
    }
    public var dtype: String {
        switch self {
        case .f32: return "F32"
        case .u8: return "U8"
        }
    }
    /// Real bytes held.
    public var bytes: Int {
        switch self {
        case .f32(let t): return t.count * 4
        case .u8(let b): return b.count
        }
    }
}

public final class RuleState {
    /// Every buffer by key ("exp_avg", "exp_avg.codes", "row", …).
    public private(set) var buffers: [String: StateBuffer] = [:]
    /// Scalars, saved exactly (Doubles; integers up to 2^53 are exact).
    public var scalars: [String: Double] = [:]
    /// 64-bit integers such as projection seeds, saved exactly.
    public var integers: [String: UInt64] = [:]
    /// How each moment is stored (declared by the rule; not saved, the plan rebuilds it).
    private(set) var moments: [String: MomentLayout] = [:]

    /// False for a plan built only to count its state (`swift-train memory`): buffers are
    /// reserved but never written, so no page of them is touched.
    public let materialized: Bool

    public init(materialized: Bool = true) { self.materialized = materialized }

    /// Declares a zero-filled Float32 buffer.
    @discardableResult
    public func addFloat(_ key: String, shape: [Int]) -> Tensor {
        let t = materialized ? Tensor.zeros(shape, kind: .optimizerState) : Tensor(uninitializedShape: shape, kind: .optimizerState)
        buffers[key] = .f32(t)
        return t
    }

    /// Declares a zero-filled UInt8 buffer.
    @discardableResult
    public func addBytes(_ key: String, shape: [Int]) -> ByteBuffer {
        let b = ByteBuffer(shape: shape, zeroed: materialized)
        buffers[key] = .u8(b)
        return b
    }

    /// The Float32 buffer `key` (declared by the rule).
    public func float(_ key: String) -> Tensor {
        guard case .f32(let t)? = buffers[key] else { preconditionFailure("state buffer \(key) is not a declared F32 buffer") }
        return t
    }

    /// The UInt8 buffer `key` (declared by the rule).
    public func bytes(_ key: String) -> ByteBuffer {
        guard case .u8(let b)? = buffers[key] else { preconditionFailure("state buffer \(key) is not a declared U8 buffer") }
        return b
    }

    /// Bytes of persistent state (scalars are not counted, as in the memory formulas).
    public var stateBytes: Int { buffers.values.reduce(0) { $0 + $1.bytes } }

    /// Number of updates this state has received (the `t` of bias corrections).
    public var updates: Int {
        get { Int(scalars["step"] ?? 0) }
        set { scalars["step"] = Double(newValue) }
    }

    /// Replaces the contents of buffer `key` (restore). The caller has checked dtype and shape.
    func load(_ key: String, from saved: SavedBuffer) {
        switch (buffers[key], saved) {
        case (.f32(let t)?, .f32(let s)): t.copy(from: s)
        case (.u8(let b)?, .u8(_, let bytes)): bytes.withUnsafeBufferPointer { b.pointer.update(from: $0.baseAddress!, count: b.count) }
        default: preconditionFailure("restore of \(key) with a mismatched dtype")
        }
    }

    // MARK: Moments (Float32, or 8-bit block-wise)

    /// Declares a moment of `shape`: Float32 under `key`, or with `bits` 8 and at least
    /// `BlockwiseQuantizer.minimumCount` values, codes under "key.codes" and absmax per block
    /// under "key.absmax". `signed` picks the signed map (m) or the unsigned one (v).
    public func addMoment(_ key: String, shape: [Int], bits: Int, signed: Bool) {
        let count = shape.reduce(1, *)
        if bits == 8 && count >= BlockwiseQuantizer.minimumCount {
            addBytes(key + ".codes", shape: shape)
            addFloat(key + ".absmax", shape: [BlockwiseQuantizer.blocks(count)])
            moments[key] = MomentLayout(quantized: true, signed: signed, count: count)
        } else {
            addFloat(key, shape: shape)
            moments[key] = MomentLayout(quantized: false, signed: signed, count: count)
        }
    }

    /// Runs `body` on the Float32 values of moment `key`: the buffer itself, or for 8-bit
    /// state a dequantized scratch copy that is quantized back (fresh absmax) afterwards.
    public func withMoment<R>(_ key: String, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        guard let layout = moments[key] else { preconditionFailure("moment \(key) was not declared") }
        if !layout.quantized { return try body(float(key).pointer) }
        let scratch = Tensor(uninitializedShape: [layout.count])
        let codes = bytes(key + ".codes"), absmax = float(key + ".absmax")
        BlockwiseQuantizer.dequantize(codes: codes.pointer, absmax: absmax.pointer, count: layout.count,
                                      signed: layout.signed, into: scratch.pointer)
        let result = try body(scratch.pointer)
        BlockwiseQuantizer.quantize(scratch.pointer, count: layout.count, signed: layout.signed,
                                    codes: codes.pointer, absmax: absmax.pointer)
        return result
    }

    /// Whether moment `key` is held in 8 bits.
    public func isQuantized(_ key: String) -> Bool { moments[key]?.quantized ?? false }

    struct MomentLayout {
        let quantized: Bool
        let signed: Bool
        let count: Int
    }

    /// Persistent bytes of one moment of `count` values at `bits` (the §8.2 formula).
    public static func momentBytes(count: Int, bits: Int) -> Int {
        if bits == 8 && count >= BlockwiseQuantizer.minimumCount {
            return count + 4 * BlockwiseQuantizer.blocks(count)
        }
        return 4 * count
    }
}

/// A buffer read from a checkpoint.
public enum SavedBuffer {
    case f32(Tensor)
    case u8(shape: [Int], bytes: [UInt8])

    public var shape: [Int] {
        switch self {
        case .f32(let t): return t.shape
        case .u8(let s, _): return s
        }
    }
    public var dtype: String {
        switch self {
        case .f32: return "F32"
        case .u8: return "U8"
        }
    }
}
