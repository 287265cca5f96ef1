// DataParallel: what one rank of an `mpirun` training job does besides its own forward and
// backward — sum the gradients over the ranks (all-reduce in buckets, always in model order,
// so a run is reproducible for a given number of ranks), agree on the step's loss and on
// stopping, send the weights each rank updated (its ZeRO-1 share) to every rank, merge the
// optimizer's per-step metrics, and stream the sharded optimizer state into rank 0's
// checkpoint without ever holding all of it in one place.
import Distributed
import Foundation
import LlamaModel
import Optimizers
import Tensors

public final class DataParallel {
    public let communicator: Communicator
    public let share: RankShare
    public let plan: ShardPlan
    /// Every state buffer of the full plan, in checkpoint order, with its owner rank.
    let layout: [(name: String, dtype: SafeTensors.DType, shape: [Int], owner: Int)]
    /// Gradients of at most this many bytes are packed together and reduced as one bucket;
    /// larger ones are reduced in place.
    static let bucketBytes = 4 << 20
    private var bucket: [Float] = []
    /// Gradients waiting in the bucket (kept between steps, so a step allocates nothing).
    private var pending: [Tensor] = []

    public init(communicator: Communicator, share: RankShare, fullPlan: Optimizer) {
        self.communicator = communicator
        self.share = share
        plan = ShardPlan(fullPlan, ranks: communicator.size)
        let plan = self.plan
        layout = fullPlan.assignments.flatMap { a in
            a.state.buffers.keys.sorted().map { key in
                let b = a.state.buffers[key]!
                return (a.info.name + "/" + key, b.dtype == "U8" ? .u8 : .f32, b.shape, plan.owner[a.info.name]!)
            }
        }
    }

    /// Floats of the packing buffer: the bucket size, or less when all gradients are smaller.
    public static func bucketFloats(_ parameters: [Parameter]) -> Int {
        min(bucketBytes / 4, parameters.reduce(0) { $0 + $1.tensor.count })
    }

    public var rank: Int { communicator.rank }
    public var ranks: Int { communicator.size }

    /// Sums every trainable gradient over the ranks, in model order: tensors of up to
    /// `bucketBytes` packed into one buffer per bucket, larger ones in place.
    public func reduceGradients(_ parameters: [Parameter]) throws {
        let capacity = DataParallel.bucketBytes / 4
        if bucket.isEmpty { bucket = [Float](repeating: 0, count: DataParallel.bucketFloats(parameters)) }
        var used = 0
        func flush() throws {
            guard !pending.isEmpty else { return }
            try bucket.withUnsafeMutableBufferPointer { b in
                var at = 0
                for g in pending { (b.baseAddress! + at).update(from: g.pointer, count: g.count); at += g.count }
                try communicator.allReduceSum(b.baseAddress!, count: used, what: "the gradient all-reduce")
                at = 0
                for g in pending { g.pointer.update(from: b.baseAddress! + at, count: g.count); at += g.count }
            }
            pending.removeAll(keepingCapacity: true)
            used = 0
        }
        for p in parameters {
            guard let g = p.tensor.grad else { continue }
            if g.count > capacity {
                try flush()
                try communicator.allReduceSum(g.pointer, count: g.count, what: "the gradient all-reduce (\(p.name))")
                continue
            }
            if used + g.count > capacity { try flush() }
            pending.append(g)
            used += g.count
        }
        try flush()
    }

    /// The step's loss (the sum of every rank's weighted part) and whether any rank was
    /// asked to stop.
    public func agree(loss: Double, stop: Bool) throws -> (loss: Double, stop: Bool) {
        var v = [loss, stop ? 1 : 0]
        try communicator.allReduce(&v, what: "the loss and stop flag")
        return (v[0], v[1] > 0)
    }

    /// Copies every trainable parameter from the rank that updated it to all ranks.
    public func shareWeights(_ parameters: [Parameter]) throws {
        for p in parameters {
            guard let owner = plan.owner[p.name] else { continue }
            try communicator.broadcast(p.tensor.pointer, count: p.tensor.count, root: owner, what: "the weight broadcast (\(p.name))")
        }
    }

    /// Replaces rank 0's per-step optimizer metrics by the merge of every rank's.
    public func mergeMetrics(_ metrics: OptimizerMetrics) throws {
        let mine = try JSONEncoder().encode(metrics.record)
        guard let all = try communicator.gather([UInt8](mine), what: "the optimizer metrics") else { return }
        let records = try all.map { try JSONDecoder().decode(OptimizerMetrics.Record.self, from: Data($0)) }
        metrics.replace(byMerging: records)
    }

    /// The largest rank's optimizer state bytes and the sum over ranks.
    public func stateBytes(_ local: Int) throws -> (largest: Int, total: Int) {
        var largest = [Double(local)], total = [Double(local)]
        try communicator.allReduce(&largest, max: true, what: "the state byte count")
        try communicator.allReduce(&total, what: "the state byte count")
        return (Int(largest[0]), Int(total[0]))
    }

    /// Every rank's optimizer scalars merged, on rank 0 (nil on the others).
    func gatherScalars(_ optimizer: Optimizer) throws -> [String: Optimizer.ScalarState]? {
        let mine = try JSONEncoder().encode(optimizer.stateScalars())
        guard let all = try communicator.gather([UInt8](mine), what: "the optimizer scalars") else { return nil }
        var merged: [String: Optimizer.ScalarState] = [:]
        for bytes in all {
            for (k, v) in try JSONDecoder().decode([String: Optimizer.ScalarState].self, from: Data(bytes)) { merged[k] = v }
        }
        return merged
    }

    /// Rank 0: writes optimizer.safetensors at `url` from every rank's share, as one
    /// process would have written it. Other ranks (url nil): send their buffers to rank 0.
    func streamOptimizerState(_ optimizer: Optimizer, to url: URL?) throws {
        var local: [String: StateBuffer] = [:]
        for (n, b) in optimizer.stateBuffers() { local[n] = b }
        let largest = layout.map { $0.shape.reduce(1, *) * $0.dtype.byteSize }.max() ?? 0
        var scratch = [UInt8](repeating: 0, count: rank == 0 ? largest : 0)
        func bytes(of buffer: StateBuffer) -> (UnsafeMutableRawPointer, Int) {
            switch buffer {
            case .f32(let t): return (UnsafeMutableRawPointer(t.pointer), t.count * 4)
            case .u8(let b): return (UnsafeMutableRawPointer(b.pointer), b.count)
            }
        }
        if rank != 0 {
            for entry in layout where entry.owner == rank {
                let (p, n) = bytes(of: local[entry.name]!)
                try communicator.sendToRoot(p, bytes: n, from: rank, what: "sending optimizer state \(entry.name) to rank 0")
            }
            return
        }
        guard let url else { return }
        try SafeTensors.write(layout: layout.map { ($0.name, $0.dtype, $0.shape) }, metadata: optimizer.stateMetadata, to: url) { i, write in
            let entry = layout[i]
            if entry.owner == 0 {
                let (p, n) = bytes(of: local[entry.name]!)
                try write(p, n)
            } else {
                let n = entry.shape.reduce(1, *) * entry.dtype.byteSize
                try scratch.withUnsafeMutableBytes { s in
                    try communicator.sendToRoot(s.baseAddress!, bytes: n, from: entry.owner, what: "receiving optimizer state \(entry.name) from rank \(entry.owner)")
                    try write(s.baseAddress!, n)
                }
            }
        }
    }
}
