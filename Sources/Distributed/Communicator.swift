// Communicator: the ranks of a data-parallel run and the few collective operations training
// needs (sum and max all-reduce, broadcast from a root, gather of byte strings to rank 0),
// over MPI_COMM_WORLD. Outside `mpirun` it is the one-rank world, where every operation is
// the identity and MPI is never loaded.
//
// Every wait polls a non-blocking MPI request against a deadline (`timeout` seconds): a
// peer that hangs or is stopped makes the waiting ranks fail with a message naming the
// operation, instead of blocking forever. A peer that dies is noticed by mpirun itself,
// which ends the job.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public final class Communicator {
    /// 0-based rank of this process, and the number of ranks.
    public let rank: Int
    public let size: Int
    /// Ranks started on this host (mpirun's local size), for the default thread count.
    public let localSize: Int
    /// This host's name, as MPI reports it.
    public let host: String
    /// Seconds a collective may wait for the other ranks before this rank gives up.
    public var timeout: Double = 600
    private let mpi: MPILibrary?

    /// Rank 0 of a one-rank world: no MPI.
    public static let single = Communicator()

    private init() {
        rank = 0
        size = 1
        localSize = 1
        host = ProcessInfo.processInfo.hostName
        mpi = nil
    }

    /// True when the environment says this process was started by Open MPI's mpirun.
    public static var startedByMPIRun: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil }

    /// Resident bytes that loading Open MPI and MPI_Init added to this process (its
    /// libraries, shared-memory segments and buffers): measured, for the memory figures.
    public private(set) var runtimeBytes = 0

    /// MPI_COMM_WORLD after MPI_Init (call once per process).
    public init(initializingMPI: Void) throws {
        let before = Communicator.residentBytes()
        let lib = try MPILibrary()
        guard lib.initialize(nil, nil) == 0 else { throw MPIError("MPI_Init failed") }
        runtimeBytes = max(0, Communicator.residentBytes() - before)
        var r: Int32 = 0, n: Int32 = 0
        _ = lib.commRank(lib.commWorld, &r)
        _ = lib.commSize(lib.commWorld, &n)
        var name = [CChar](repeating: 0, count: 256)
        var length: Int32 = 0
        _ = lib.processorName(&name, &length)
        rank = Int(r)
        size = Int(n)
        localSize = Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? 1
        host = String(cString: name)
        mpi = lib
    }

    public var isDistributed: Bool { size > 1 }

    /// VmRSS of this process, in bytes.
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
    /// "rank 1 of 2 (host)", for messages.
    public var label: String { "rank \(rank) of \(size) (\(host))" }

    // MARK: - Collectives

    /// Sums `count` floats at `values` over the ranks, in place (every rank gets the sum).
    public func allReduceSum(_ values: UnsafeMutablePointer<Float>, count: Int, what: @autoclosure () -> String) throws {
        guard let mpi, size > 1 else { return }
        try chunks(count) { lo, n in
            try wait(what()) { mpi.iallreduce(UnsafeRawPointer(bitPattern: 1), values + lo, n, mpi.float, mpi.opSum, mpi.commWorld, $0) }
        }
    }

    /// Sums (or takes the largest of) `values` over the ranks, in place.
    public func allReduce(_ values: inout [Double], max: Bool = false, what: @autoclosure () -> String) throws {
        guard let mpi, size > 1, !values.isEmpty else { return }
        let count = Int32(values.count)
        try values.withUnsafeMutableBufferPointer { b in
            try wait(what()) { mpi.iallreduce(UnsafeRawPointer(bitPattern: 1), b.baseAddress, count, mpi.double, max ? mpi.opMax : mpi.opSum, mpi.commWorld, $0) }
        }
    }

    /// Copies `bytes` bytes at `buffer` from rank `root` to every rank.
    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int, what: @autoclosure () -> String) throws {
        guard let mpi, size > 1 else { return }
        try chunks(bytes) { lo, n in
            try wait(what()) { mpi.ibcast(buffer + lo, n, mpi.byte, Int32(root), mpi.commWorld, $0) }
        }
    }

    /// Copies `count` floats from rank `root` to every rank.
    public func broadcast(_ values: UnsafeMutablePointer<Float>, count: Int, root: Int, what: @autoclosure () -> String) throws {
        try broadcast(UnsafeMutableRawPointer(values), bytes: count * MemoryLayout<Float>.stride, root: root, what: what())
    }

    /// Rank 0's `data` on every rank.
    public func broadcast(_ data: [UInt8], what: @autoclosure () -> String) throws -> [UInt8] {
        guard size > 1 else { return data }
        var length = [Double(rank == 0 ? data.count : 0)]
        try allReduce(&length, what: what())
        var out = rank == 0 ? data : [UInt8](repeating: 0, count: Int(length[0]))
        try out.withUnsafeMutableBytes { b in
            if let p = b.baseAddress { try broadcast(p, bytes: b.count, root: 0, what: what()) }
        }
        return out
    }

    /// Every rank's `data`, in rank order, on rank 0 (nil on the others).
    public func gather(_ data: [UInt8], what: @autoclosure () -> String) throws -> [[UInt8]]? {
        guard let mpi, size > 1 else { return [data] }
        var lengths = [Double](repeating: 0, count: size)
        lengths[rank] = Double(data.count)
        try allReduce(&lengths, what: what())
        if rank != 0 {
            try data.withUnsafeBytes { b in
                try chunks(b.count) { lo, n in
                    try wait(what()) { mpi.isend(b.baseAddress.map { $0 + lo }, n, mpi.byte, 0, 7, mpi.commWorld, $0) }
                }
            }
            return nil
        }
        var out = [data]
        for r in 1..<size {
            var buffer = [UInt8](repeating: 0, count: Int(lengths[r]))
            try buffer.withUnsafeMutableBytes { b in
                try chunks(b.count) { lo, n in
                    try wait(what()) { mpi.irecv(b.baseAddress.map { $0 + lo }, n, mpi.byte, Int32(r), 7, mpi.commWorld, $0) }
                }
            }
            out.append(buffer)
        }
        return out
    }

    /// Sends `bytes` bytes to rank 0 (from the owner `rank`) or receives them there.
    public func sendToRoot(_ buffer: UnsafeMutableRawPointer, bytes: Int, from owner: Int, what: @autoclosure () -> String) throws {
        guard let mpi, size > 1, owner != 0 else { return }
        if rank == owner {
            try chunks(bytes) { lo, n in
                try wait(what()) { mpi.isend(buffer + lo, n, mpi.byte, 0, 8, mpi.commWorld, $0) }
            }
        } else if rank == 0 {
            try chunks(bytes) { lo, n in
                try wait(what()) { mpi.irecv(buffer + lo, n, mpi.byte, Int32(owner), 8, mpi.commWorld, $0) }
            }
        }
    }

    /// Waits until every rank has arrived here.
    public func barrier(what: @autoclosure () -> String) throws {
        var token = [0.0]
        try allReduce(&token, what: what())
    }

    // MARK: - Ending

    /// Ends every rank of the job at once (MPI_Abort) with `code`; outside mpirun, exits.
    public func abort(code: Int32) -> Never {
        if let mpi { _ = mpi.abort(mpi.commWorld, code) }
        exit(code)
    }

    /// MPI_Finalize (a clean end; outside mpirun nothing).
    public func finalize() {
        if let mpi { _ = mpi.finalize() }
    }

    // MARK: - Waiting

    /// Runs `start` (which posts one non-blocking request) and polls the request until it
    /// completes or `timeout` passes.
    private func wait(_ what: @autoclosure () -> String, _ start: (MPILibrary.Request) -> Int32) throws {
        guard let mpi else { return }
        var request: MPILibrary.Handle?
        let rc = start(&request)
        guard rc == 0 else { throw MPIError("\(label): MPI failed (error \(rc)) during \(what())") }
        var done: Int32 = 0
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(timeout, 0.001) * 1e9)
        var polls = 0
        while true {
            _ = mpi.test(&request, &done, nil)
            if done != 0 { return }
            polls += 1
            if polls & 1023 == 0 {
                if DispatchTime.now().uptimeNanoseconds > deadline {
                    throw MPIError("\(label): no answer from the other ranks for \(Int(timeout)) s during \(what()); a rank has stopped or hangs (mpi_timeout \(Int(timeout)) s), so the job ends")
                }
                if polls & 0xFFFF == 0 { sched_yield() }
            }
        }
    }

    /// Calls `body(offset, count)` over 1 GiB pieces (MPI counts are 32-bit).
    private func chunks(_ total: Int, _ body: (Int, Int32) throws -> Void) throws {
        let piece = 1 << 30
        var lo = 0
        repeat {
            let n = min(piece, total - lo)
            try body(lo, Int32(n))
            lo += n
        } while lo < total
    }
}
