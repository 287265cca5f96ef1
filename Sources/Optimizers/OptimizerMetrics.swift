// OptimizerMetrics: a per-step channel from rules to metrics.jsonl. A rule adds values
// under a key (the cautious mask's kept fraction, a limiter's activations, a refresh time);
// the step reports each key's mean over the values added, or the sum for counters.

public final class OptimizerMetrics {
    private var sums: [String: Double] = [:]
    private var counts: [String: Int] = [:]
    private var totals: Set<String> = []
    private var order: [String] = []
    /// Things that happened this step and deserve a line of their own (an SVD that failed and
    /// kept the previous projector, a skipped non-finite gradient), each naming step and parameter.
    public private(set) var events: [String] = []

    public init() {}

    /// Adds one observation of `key`; the step reports the mean.
    public func observe(_ key: String, _ value: Double) {
        if sums[key] == nil { order.append(key) }
        sums[key, default: 0] += value
        counts[key, default: 0] += 1
    }

    /// Adds `value` to the counter `key`; the step reports the sum.
    public func count(_ key: String, _ value: Double = 1) {
        if sums[key] == nil { order.append(key) }
        sums[key, default: 0] += value
        counts[key, default: 0] += 1
        totals.insert(key)
    }

    /// The step's values, in the order first seen.
    public var values: [(String, Double)] {
        order.map { k in (k, totals.contains(k) ? sums[k]! : sums[k]! / Double(max(counts[k]!, 1))) }
    }

    /// Records an event of this step.
    public func event(_ text: String) { events.append(text) }

    public func reset() {
        events.removeAll(keepingCapacity: true)
        sums.removeAll(keepingCapacity: true)
        counts.removeAll(keepingCapacity: true)
        totals.removeAll(keepingCapacity: true)
        order.removeAll(keepingCapacity: true)
    }

    /// Everything recorded this step, to merge the records of several ranks (sums and
    /// counts add, counters stay counters, events concatenate in rank order).
    public struct Record: Codable, Equatable {
        public var keys: [String]
        public var sums: [Double]
        public var counts: [Int]
        public var counters: [String]
        public var events: [String]
    }

    public var record: Record {
        Record(keys: order, sums: order.map { sums[$0]! }, counts: order.map { counts[$0]! },
               counters: order.filter { totals.contains($0) }, events: events)
    }

    /// Replaces this step's values by the merge of `records` (one per rank, in rank order).
    public func replace(byMerging records: [Record]) {
        reset()
        for r in records {
            for (i, k) in r.keys.enumerated() {
                if sums[k] == nil { order.append(k) }
                sums[k, default: 0] += r.sums[i]
                counts[k, default: 0] += r.counts[i]
            }
            totals.formUnion(r.counters)
            events += r.events
        }
    }
}
