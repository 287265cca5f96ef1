// BufferPool: recycles Float buffers by exact element count, so the activations and
// gradients of one training step reuse the pages of the previous step instead of paying
// for fresh page faults (about 1 GB/s on first touch) every step — and gives back what is
// no longer used, so resident memory follows the work instead of every shape ever seen.
//
// Bounding rule: `endEpoch()` (called after every training step, evaluation and sampling
// run) keeps, for each size, only as many free buffers as that size had outstanding at its
// busiest moment of the epoch, minus those still outstanding; everything else is returned to
// the system (buffers of 64 KiB and more are their own mmap, so returning them lowers RSS).
// A steady training step therefore reuses exactly its own buffers and allocates nothing.
//
// Accounting: every live byte belongs to a `MemoryKind`; the pool keeps live bytes per kind,
// the bytes it holds free, and a snapshot of all of them at the epoch's peak of live bytes,
// which is what the memory account of a training step reports.
import Foundation

/// What a buffer holds, for the memory account.
public enum MemoryKind: Int, CaseIterable, Sendable {
    /// Tape-saved and temporary tensors of forward and backward (the default).
    case activation
    /// Model weights.
    case parameter
    /// Gradients of model weights.
    case gradient
    /// Temporaries of the optimizer step (update directions, projections, scratch).
    case optimizerWork
    /// The optimizer's persistent Float32 state (its 8-bit codes live outside the pool).
    case optimizerState
}

/// Live bytes per kind and free bytes held by the pool at one moment.
public struct PoolSnapshot: Sendable, Equatable {
    /// Live bytes by `MemoryKind.rawValue` (a fixed-size value: copying a snapshot allocates nothing).
    public var live = SIMD8<Int>()
    public var free = 0
    /// In a peak snapshot: the most bytes the pool held (live + free) in the window, which
    /// can come after the live peak (an update's scratch of a size nothing freed); otherwise
    /// `held`.
    public var peakHeld = 0
    public init() {}
    public subscript(kind: MemoryKind) -> Int { live[kind.rawValue] }
    /// Bytes handed out and not given back.
    public var liveTotal: Int { live.wrappedSum() }
    /// Bytes the pool has from the system (live + free).
    public var held: Int { liveTotal + free }
}

/// A process-wide free list of 64-byte aligned Float buffers, keyed by element count.
public final class BufferPool: @unchecked Sendable {
    public static let shared = BufferPool()
    /// Buffers of at least this many bytes are mapped on their own and unmapped on release.
    static let mapThreshold = 64 << 10

    private struct SizeClass {
        var free: [UnsafeMutablePointer<Float>] = []
        var outstanding = 0
        var busiest = 0
    }

    private var classes: [Int: SizeClass] = [:]
    private var lock = pthread_mutex_t()
    private var now = PoolSnapshot()
    private var atPeak = PoolSnapshot()
    private var _defaultKind = MemoryKind.activation
    private var fresh = 0
    private var heldPeak = 0

    private init() { pthread_mutex_init(&lock, nil) }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    /// The kind of buffers taken without one (set by the optimizer step around its work).
    public var defaultKind: MemoryKind {
        get { locked { _defaultKind } }
        set { locked { _defaultKind = newValue } }
    }

    /// Runs `body` with new buffers counted as `kind`.
    public func counting<R>(as kind: MemoryKind, _ body: () throws -> R) rethrows -> R {
        let previous = defaultKind
        defaultKind = kind
        defer { defaultKind = previous }
        return try body()
    }

    /// Live bytes of every kind and the free bytes, now.
    public var snapshot: PoolSnapshot {
        locked {
            var s = now
            s.peakHeld = s.held
            return s
        }
    }
    /// The snapshot at the largest live total since the last `resetPeak()`, with the most
    /// bytes held since then as `peakHeld`.
    public var peakSnapshot: PoolSnapshot {
        locked {
            var s = atPeak
            s.peakHeld = heldPeak
            return s
        }
    }
    /// Bytes of Float buffers handed out and not yet given back (every live Tensor).
    public var liveBytes: Int { locked { now.liveTotal } }
    /// The largest `liveBytes` since the last `resetPeak()`.
    public var peakBytes: Int { locked { atPeak.liveTotal } }
    /// Bytes held free for reuse.
    public var freeBytes: Int { locked { now.free } }
    /// Buffers taken from the system so far (a steady training step adds none).
    public var systemAllocations: Int { locked { fresh } }

    /// Starts a new peak window at the current state.
    public func resetPeak() {
        locked {
            atPeak = now
            heldPeak = now.held
        }
    }

    /// A buffer of `count` floats with unspecified contents, counted as `kind` (default:
    /// `defaultKind`).
    public func take(_ count: Int, kind: MemoryKind? = nil) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1), bytes = n * 4
        pthread_mutex_lock(&lock)
        let k = (kind ?? _defaultKind).rawValue
        now.live[k] += bytes
        // Mutated in place: no copy of the free list per call.
        classes[n, default: SizeClass()].outstanding += 1
        let out = classes[n]!.outstanding
        if out > classes[n]!.busiest { classes[n]!.busiest = out }
        let reused = classes[n]!.free.popLast()
        if reused != nil { now.free -= bytes } else { fresh += 1 }
        heldPeak = max(heldPeak, now.held)
        if now.liveTotal > atPeak.liveTotal { atPeak = now }
        pthread_mutex_unlock(&lock)
        return reused ?? BufferPool.allocate(bytes)
    }

    /// Gives a buffer back for reuse (`kind` as it was counted; default: `defaultKind`).
    public func give(_ p: UnsafeMutablePointer<Float>, count: Int, kind: MemoryKind? = nil) {
        let n = max(count, 1), bytes = n * 4
        pthread_mutex_lock(&lock)
        now.live[(kind ?? _defaultKind).rawValue] -= bytes
        now.free += bytes
        classes[n, default: SizeClass()].outstanding -= 1
        classes[n]!.free.append(p)
        pthread_mutex_unlock(&lock)
    }

    /// Moves a live buffer's bytes from one kind to another.
    public func recount(_ count: Int, from: MemoryKind, to: MemoryKind) {
        guard from != to else { return }
        let bytes = max(count, 1) * 4
        locked {
            now.live[from.rawValue] -= bytes
            now.live[to.rawValue] += bytes
        }
    }

    /// Ends an epoch (a training step, an evaluation, a generation): for each size, keeps
    /// free only the buffers the epoch's busiest moment needed beyond those still out, and
    /// returns the rest to the system. Returns the bytes released.
    @discardableResult
    public func endEpoch() -> Int {
        var released: [(UnsafeMutablePointer<Float>, Int)] = []
        locked {
            for (n, var c) in classes {
                let keep = max(0, c.busiest - c.outstanding)
                while c.free.count > keep { released.append((c.free.removeLast(), n * 4)) }
                c.busiest = c.outstanding
                if c.free.isEmpty && c.outstanding == 0 { classes[n] = nil } else { classes[n] = c }
            }
            now.free -= released.reduce(0) { $0 + $1.1 }
        }
        for (p, bytes) in released { BufferPool.release(p, bytes: bytes) }
        return released.reduce(0) { $0 + $1.1 }
    }

    /// Returns every free buffer to the system.
    @discardableResult
    public func releaseFree() -> Int {
        var released: [(UnsafeMutablePointer<Float>, Int)] = []
        locked {
            for (n, var c) in classes {
                for p in c.free { released.append((p, n * 4)) }
                c.free.removeAll()
                c.busiest = c.outstanding
                classes[n] = c.outstanding == 0 ? nil : c
            }
            now.free = 0
        }
        for (p, bytes) in released { BufferPool.release(p, bytes: bytes) }
        return released.reduce(0) { $0 + $1.1 }
    }

    /// Memory for a long-lived buffer outside the pool (8-bit optimizer state): its own
    /// mapping when large, so that freeing it returns the pages to the system at once.
    public static func systemAllocate(bytes: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(allocate(max(bytes, 4)))
    }

    /// Frees memory from `systemAllocate(bytes:)` (the same byte count).
    public static func systemRelease(_ p: UnsafeMutableRawPointer, bytes: Int) {
        release(p.assumingMemoryBound(to: Float.self), bytes: max(bytes, 4))
    }

    private static func allocate(_ bytes: Int) -> UnsafeMutablePointer<Float> {
        if bytes >= mapThreshold {
            let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let raw, raw != MAP_FAILED else {
                fatalError("out of memory: mapping \(bytes) bytes failed; lower batch_size or seq_len")
            }
            return raw.bindMemory(to: Float.self, capacity: bytes / 4)
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes; lower batch_size or seq_len")
        }
        return raw.bindMemory(to: Float.self, capacity: bytes / 4)
    }

    private static func release(_ p: UnsafeMutablePointer<Float>, bytes: Int) {
        if bytes >= mapThreshold { munmap(UnsafeMutableRawPointer(p), bytes) } else { free(p) }
    }
}
