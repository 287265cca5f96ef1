// ShardPlan: which rank holds (and updates) each parameter's optimizer state in a ZeRO-1
// run (Rajbhandari et al., 2020, stage 1). Whole parameters only, so low-rank and
// structured rules see their matrices whole; balanced by state bytes with the
// longest-first greedy rule (largest state to the least-loaded rank, ties to the lower
// rank and the earlier parameter), which leaves the ranks at most one parameter's state
// apart. Optimizers without state are balanced by parameter bytes instead (the update work).
import Optimizers

public struct ShardPlan: Equatable, Sendable {
    public let ranks: Int
    /// Owner rank of each parameter, by name.
    public let owner: [String: Int]
    /// Planned state bytes of each rank.
    public let stateBytes: [Int]

    /// Plans `optimizer` (a full plan, usually built only to count its state) over `ranks`.
    public init(_ optimizer: Optimizer, ranks: Int) {
        let items = optimizer.assignments.map { (name: $0.info.name, index: $0.info.index, state: $0.state.stateBytes,
                                                 work: $0.info.count * 4) }
        let byState = items.contains { $0.state > 0 }
        let cost: (Int) -> Int = { byState ? items[$0].state : items[$0].work }
        let order = items.indices.sorted { cost($0) != cost($1) ? cost($0) > cost($1) : items[$0].index < items[$1].index }
        var load = [Int](repeating: 0, count: ranks)
        var bytes = [Int](repeating: 0, count: ranks)
        var owner: [String: Int] = [:]
        for i in order {
            let r = load.indices.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 }!
            owner[items[i].name] = r
            load[r] += cost(i)
            bytes[r] += items[i].state
        }
        self.ranks = ranks
        self.owner = owner
        stateBytes = bytes
    }

    /// The parameters rank `rank` holds.
    public func owned(by rank: Int) -> Set<String> { Set(owner.filter { $0.value == rank }.keys) }
}
