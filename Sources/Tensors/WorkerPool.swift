// WorkerPool: the persistent threads behind `Parallel`'s loops and BLAS's split products. A
// llama-tiny step runs about 230 of them, most well under a millisecond; handing each to a
// dispatch queue cost a thread wake-up per loop (the second core often started tens of
// microseconds late, or not at all). Here the workers stay awake for a short while after each
// loop (`spinNanoseconds`, yielding the core between checks), then sleep on a condition
// variable until the next loop.
//
// A loop is `parts` independent pieces, claimed through one atomic counter by the caller and
// the workers alike, so a sleeping worker never delays a loop: the caller takes the pieces
// nobody has claimed. What a piece computes never depends on which thread runs it. A loop
// started while another is running (from a worker, or from a second thread) runs inline.
import Foundation
import Synchronization

@usableFromInline
final class WorkerPool: @unchecked Sendable {
    /// How long an idle worker keeps checking for work before it sleeps, in nanoseconds.
    static let spinNanoseconds: UInt64 = 50_000

    /// The running loop in one word: generation (bits 32…), piece count (16…31) and the
    /// next unclaimed piece (0…15). A claim is a compare-and-swap on the whole word, so a
    /// thread that saw one loop can never claim a piece of the next.
    private let state = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    /// The running loop's body: written before `state` publishes the loop, read only after
    /// a successful claim (the caller cannot start another loop before that piece finishes).
    nonisolated(unsafe) private var body: ((Int) -> Void)?
    private var workers = 0

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
    }

    /// Makes sure `count` worker threads exist (never fewer than before; extra ones only sleep).
    func ensureWorkers(_ count: Int) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while workers < count {
            workers += 1
            let thread = Thread { [unowned self] in self.workerLoop() }
            thread.name = "swift-train worker \(workers)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Whether a loop is running (a product started now runs on its thread alone).
    var isBusy: Bool { busy.load(ordering: .relaxed) }

    /// Runs `body(i)` for i in 0..<parts on the caller and the workers; returns when all are done.
    @usableFromInline
    func run(parts: Int, _ body: (Int) -> Void) {
        guard parts > 1, parts < 1 << 16,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for i in 0..<parts { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            self.body = body
            finished.store(0, ordering: .relaxed)
            let generation = ((state.load(ordering: .relaxed) >> 32) &+ 1) & 0x7FFF_FFFF
            state.store(generation << 32 | parts << 16, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&wake)
                pthread_mutex_unlock(&mutex)
            }
            claimParts(generation: generation)
            var checks = 0
            while finished.load(ordering: .acquiring) < parts {
                checks += 1
                if checks & 63 == 0 { sched_yield() }
            }
            self.body = nil
        }
        busy.store(false, ordering: .releasing)
    }

    /// Runs pieces of loop `generation` until none is left unclaimed.
    private func claimParts(generation: Int) {
        var word = state.load(ordering: .acquiring)
        while word >> 32 == generation, word & 0xFFFF < (word >> 16) & 0xFFFF {
            let (exchanged, current) = state.compareExchange(expected: word, desired: word + 1,
                                                             ordering: .acquiringAndReleasing)
            guard exchanged else { word = current; continue }
            body?(word & 0xFFFF)
            finished.add(1, ordering: .releasing)
            word = state.load(ordering: .acquiring)
        }
    }

    private func workerLoop() {
        var seen = state.load(ordering: .acquiring) >> 32
        while true {
            let start = DispatchTime.now().uptimeNanoseconds
            var checks = 0
            while state.load(ordering: .acquiring) >> 32 == seen {
                checks += 1
                guard checks & 63 == 0 else { continue }
                if DispatchTime.now().uptimeNanoseconds - start < Self.spinNanoseconds {
                    sched_yield()
                    continue
                }
                pthread_mutex_lock(&mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while state.load(ordering: .sequentiallyConsistent) >> 32 == seen {
                    pthread_cond_wait(&wake, &mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(&mutex)
            }
            seen = state.load(ordering: .acquiring) >> 32
            claimParts(generation: seen)
        }
    }
}
