// ShardPlan and the sharded optimizer (ZeRO-1): whole parameters, every parameter on one
// rank, ranks at most one parameter's state apart; each rank's optimizer holds exactly its
// planned share and restores its part of a one-process checkpoint (the rest is another
// rank's); the shares' updates are the one-process update.
import XCTest
import LlamaModel
import Optimizers
import Tensors
import Training

final class ShardPlanTests: XCTestCase {
    static let config = LlamaConfig(vocabSize: 300, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4)

    func optimizer(_ name: String, model: Llama, materialized: Bool = true, owned: Set<String>? = nil) throws -> Optimizer {
        var settings = OptimizerSettings(name: name, numbers: ["lr": 1e-2], strings: [:])
        if name == "galore" { settings.numbers["rank"] = 4 }
        return try OptimizerCatalog.make(settings, model: ModelDescription(Self.config), parameters: model.parameters,
                                         materialized: materialized, owned: owned)
    }

    func testSharesAreBalancedWithinOneParameterAndCoverEveryParameter() throws {
        let model = Llama(config: Self.config, seed: 1)
        for name in ["adamw", "adafactor", "muon", "galore", "adam-mini", "sgd"] {
            let full = try optimizer(name, model: model, materialized: false)
            let largest = full.assignments.map(\.state.stateBytes).max()!
            for ranks in [2, 3, 4] {
                let plan = ShardPlan(full, ranks: ranks)
                XCTAssertEqual(Set(plan.owner.keys), Set(model.parameters.map(\.name)), name)
                XCTAssertEqual(plan.stateBytes.reduce(0, +), full.stateBytes, name)
                XCTAssertLessThanOrEqual(plan.stateBytes.max()! - plan.stateBytes.min()!, largest, "\(name) over \(ranks) ranks: \(plan.stateBytes)")
                var held = 0
                for r in 0..<ranks {
                    let share = try optimizer(name, model: model, owned: plan.owned(by: r))
                    XCTAssertEqual(share.stateBytes, plan.stateBytes[r], "\(name) rank \(r)")
                    XCTAssertEqual(share.heldElsewhere.count, model.parameters.count - share.assignments.count)
                    held += share.assignments.count
                }
                XCTAssertEqual(held, model.parameters.count)
            }
            if name == "sgd" {  // no state: balanced by the parameters' bytes (the update work)
                let plan = ShardPlan(full, ranks: 2)
                XCTAssertFalse(plan.owned(by: 0).isEmpty)
                XCTAssertFalse(plan.owned(by: 1).isEmpty)
            }
        }
    }

    func testShardsUpdateAsTheWholeAndRestoreTheirPartOfAOneProcessCheckpoint() throws {
        let whole = Llama(config: Self.config, seed: 3)
        let parts = Llama(config: Self.config, seed: 3)
        var rng = RandomGenerator(seed: 9)
        for (p, q) in zip(whole.parameters, parts.parameters) {
            p.tensor.ensureGrad()
            q.tensor.ensureGrad()
            for i in 0..<p.tensor.count { p.tensor.grad!.pointer[i] = rng.uniform() - 0.5 }
            q.tensor.grad!.copy(from: p.tensor.grad!)
        }
        let one = try optimizer("adamw", model: whole)
        let plan = ShardPlan(try optimizer("adamw", model: whole, materialized: false), ranks: 2)
        let shards = try (0..<2).map { try optimizer("adamw", model: parts, owned: plan.owned(by: $0)) }
        for step in 1...3 {
            try one.step(step, lr: 1e-2, seed: 0)
            for s in shards { try s.step(step, lr: 1e-2, seed: 0) }
        }
        for (p, q) in zip(whole.parameters, parts.parameters) {
            XCTAssertEqual(p.tensor.array, q.tensor.array, "\(p.name): the shards' update is the whole update")
        }
        // A one-process checkpoint restores into each shard (its part only).
        var saved: [String: SavedBuffer] = [:]
        for (n, b) in one.stateBuffers() { if case .f32(let t) = b { saved[n] = .f32(t) } }
        for s in shards {
            let fresh = try optimizer("adamw", model: parts, owned: plan.owned(by: shards.firstIndex { $0 === s }!))
            try fresh.restoreState(buffers: saved, metadata: one.stateMetadata, scalars: one.stateScalars())
            for (n, b) in fresh.stateBuffers() {
                guard case .f32(let t) = b, case .f32(let w)? = saved[n] else { return XCTFail(n) }
                XCTAssertEqual(t.array, w.array, n)
            }
        }
        // A buffer of a parameter this shard holds, missing: still refused by name.
        let mine = shards[0].stateBuffers()[0].name
        var damaged = saved
        damaged[mine] = nil
        XCTAssertThrowsError(try shards[0].restoreState(buffers: damaged, metadata: one.stateMetadata, scalars: one.stateScalars())) { e in
            XCTAssertTrue("\(e)".contains(mine))
        }
    }

    func testMetricsOfTheRanksMergeIntoOnesStep() {
        let a = OptimizerMetrics(), b = OptimizerMetrics(), merged = OptimizerMetrics()
        a.observe("kept", 0.5); a.count("refreshes"); a.event("rank 0 event")
        b.observe("kept", 0.7); b.observe("kept", 0.9); b.count("refreshes", 2); b.event("rank 1 event")
        merged.replace(byMerging: [a.record, b.record])
        let values = Dictionary(uniqueKeysWithValues: merged.values)
        XCTAssertEqual(values["kept"]!, (0.5 + 0.7 + 0.9) / 3, accuracy: 1e-12)
        XCTAssertEqual(values["refreshes"], 3)
        XCTAssertEqual(merged.events, ["rank 0 event", "rank 1 event"])
    }
}
