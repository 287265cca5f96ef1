// Optimizer: a plan (groups of parameters, each with a rule, lr scale and weight decay) and
// the state of every parameter. One `step` runs every rule at the trainer's step clock:
// the rule computes a direction, the shared ApplyUpdate writes the weight. The state
// enumerates as named, typed buffers ("<parameter>/<key>"), which gives the exact state-byte
// count, checkpointing under each buffer's own dtype, and a restore that checks every buffer.
import LlamaModel
import Tensors

public final class Optimizer {
    public struct Assignment {
        public let parameter: Parameter
        public let info: ParameterInfo
        /// Index into `groups`.
        public let group: Int
        public let state: RuleState
    }

    /// The optimizer's name as given in the run config.
    public let name: String
    /// Bits per moment value (32, or 8 for block-wise state); recorded in checkpoints.
    public let stateBits: Int
    public let groups: [ParameterGroup]
    public let assignments: [Assignment]
    /// What the rules reported during the last step.
    public let metrics = OptimizerMetrics()
    private let indexByTensor: [ObjectIdentifier: Int]
    /// Parameters of the plan whose state another rank holds (ZeRO-1 sharding); empty when
    /// this optimizer holds every parameter's state.
    public let heldElsewhere: Set<String>

    /// Builds the state of every parameter of `groups`. `modelParameters` fixes each
    /// parameter's index; each must belong to exactly one group.
    /// With `materialized` false the state is only reserved, for counting (see RuleState).
    /// With `owned` set, only those parameters get state and updates (one rank's share of a
    /// sharded optimizer); the others stay part of the plan, held elsewhere.
    public init(name: String, groups: [ParameterGroup], modelParameters: [Parameter], stateBits: Int = 32,
                materialized: Bool = true, owned: Set<String>? = nil) throws {
        self.name = name
        self.groups = groups
        self.stateBits = stateBits
        var index: [String: Int] = [:]
        for (i, p) in modelParameters.enumerated() { index[p.name] = i }
        var seen = Set<String>()
        var elsewhere = Set<String>()
        var list: [Assignment] = []
        for (gi, g) in groups.enumerated() {
            for p in g.parameters {
                guard seen.insert(p.name).inserted else { throw OptimizerError("plan of \(name): \(p.name) is in two groups") }
                if let owned, !owned.contains(p.name) { elsewhere.insert(p.name); continue }
                let info = ParameterInfo(name: p.name, index: index[p.name] ?? list.count, role: p.role, shape: p.shape, layer: p.layer)
                let state = RuleState(materialized: materialized)
                try g.rule.makeState(for: info, state: state)
                list.append(Assignment(parameter: p, info: info, group: gi, state: state))
            }
        }
        let missing = modelParameters.map(\.name).filter { !seen.contains($0) }
        if !missing.isEmpty { throw OptimizerError("plan of \(name) leaves out \(missing.joined(separator: ", "))") }
        list.sort { $0.info.index < $1.info.index }
        assignments = list
        heldElsewhere = elsewhere
        var byTensor: [ObjectIdentifier: Int] = [:]
        for (i, a) in list.enumerated() { byTensor[ObjectIdentifier(a.parameter.tensor)] = i }
        indexByTensor = byTensor
    }

    /// Applies one update to every parameter that has a gradient, at global step `step`
    /// (1-based) with scheduled lr `lr`. Throws an error naming the step and parameter when a
    /// rule fails or produces a non-finite direction; weights already written stay written.
    /// One-pass updates (32-bit AdamW) all run together at the end, in one parallel region.
    public func step(_ step: Int, lr: Double, seed: UInt64) throws {
        beginStep()
        pendingKernels.removeAll(keepingCapacity: true)
        pendingIndices.removeAll(keepingCapacity: true)
        for i in assignments.indices where assignments[i].parameter.tensor.grad != nil {
            try update(i, step: step, lr: lr, seed: seed, deferringOnePass: true)
        }
        if let bad = FusedAdamStep.runAll(pendingKernels) { throw OptimizerError(notFinite(step, pendingIndices[bad])) }
    }

    /// The one-pass updates of the step in progress, and their assignment indices (kept
    /// between steps, so a step allocates nothing for them).
    private var pendingKernels: [FusedAdamStep] = []
    private var pendingIndices: [Int] = []

    private func notFinite(_ step: Int, _ i: Int) -> String {
        "step \(step), \(assignments[i].info.name): the \(name) update is not finite (its state has overflowed); lower --lr or set --grad-clip, and resume from the last checkpoint"
    }

    /// Starts a step whose parameters are then updated one by one with `update` (the
    /// per-layer update during backward): clears the rules' per-step metrics.
    public func beginStep() { metrics.reset() }

    /// The index in `assignments` of the parameter whose tensor is `tensor`.
    public func assignmentIndex(of tensor: Tensor) -> Int? { indexByTensor[ObjectIdentifier(tensor)] }

    /// Updates the parameter of assignment `i` from its gradient (which must be present):
    /// the rule's direction, then the shared ApplyUpdate. Temporaries count as optimizer work.
    /// With `deferringOnePass`, a one-pass update is only prepared, for `step` to run.
    public func update(_ i: Int, step: Int, lr: Double, seed: UInt64, deferringOnePass: Bool = false) throws {
        let a = assignments[i]
        guard let g = a.parameter.tensor.grad else { return }
        try BufferPool.shared.counting(as: .optimizerWork) {
            let group = groups[a.group]
            let groupLR = lr * group.lrScale
            let context = RuleContext(parameter: a.info, step: step, lr: groupLR, seed: seed, metrics: metrics)
            func write(_ scale: StepScale) -> (step: Float, decay: Float) {
                (Float(scale.absoluteStep ?? groupLR * scale.lrFactor), Float(group.weightDecay * (scale.decayRate ?? groupLR)))
            }
            if let fused = group.rule as? FusedUpdateRule,
               let kernel = fused.fusedStep(grad: g, parameter: a.parameter.tensor, state: a.state,
                                            placement: group.decayPlacement, write: write) {
                pendingKernels.append(kernel); pendingIndices.append(i)
                if deferringOnePass { return }
                // Alone (a per-layer update): run it now, through the same reused arrays.
                defer { pendingKernels.removeAll(keepingCapacity: true); pendingIndices.removeAll(keepingCapacity: true) }
                if FusedAdamStep.runAll(pendingKernels) != nil { throw OptimizerError(notFinite(step, i)) }
                return
            }
            let d = Tensor(uninitializedShape: a.parameter.shape)
            let scale: StepScale
            do {
                scale = try group.rule.direction(grad: g, parameter: a.parameter.tensor, state: a.state, into: d, context: context)
            } catch let e as OptimizerError {
                throw OptimizerError("step \(step), \(a.info.name): \(e.description)")
            } catch {
                throw OptimizerError("step \(step), \(a.info.name): \(error)")
            }
            guard ApplyUpdate.allFinite(d) else { throw OptimizerError(notFinite(step, i)) }
            let (stepSize, decay) = write(scale)
            ApplyUpdate.apply(theta: a.parameter.tensor, direction: d, step: stepSize, decay: decay,
                              placement: group.decayPlacement)
        }
    }

    /// Bytes of optimizer state held now (real bytes of every buffer, of any dtype).
    public var stateBytes: Int { assignments.reduce(0) { $0 + $1.state.stateBytes } }

    /// Bytes the memory formulas give for this plan.
    public var stateBytesFormula: Int {
        assignments.reduce(0) { $0 + groups[$1.group].rule.stateBytesFormula(for: $1.info) }
    }

    /// The plan, one block per group: rule, lr scale, weight decay, members.
    public var planDescription: String {
        groups.enumerated().map { gi, g in
            let members = assignments.filter { $0.group == gi }
            let values = members.reduce(0) { $0 + $1.info.count }
            let bytes = members.reduce(0) { $0 + $1.state.stateBytes }
            let roles = Set(members.map { $0.info.role.rawValue }).sorted().joined(separator: ", ")
            let lr = g.lrScale == 1 ? "lr" : "lr × \(g.lrScale)"
            return "  \(g.name): \(g.rule.summary); \(lr), weight decay \(g.weightDecay) (\(g.decayPlacement.rawValue) the step)\n" +
                "    \(members.count) tensors, \(values) values (\(roles)); state \(bytes) bytes"
        }.joined(separator: "\n")
    }

    // MARK: - Checkpoint state

    /// Scalars and integers of every parameter's state, keyed by parameter name.
    public struct ScalarState: Codable, Equatable {
        public var scalars: [String: Double]
        /// UInt64 values as decimal strings, so JSON keeps them exact.
        public var integers: [String: String]
    }

    /// Every state buffer, named "<parameter name>/<state key>", in a stable order.
    public func stateBuffers() -> [(name: String, buffer: StateBuffer)] {
        assignments.flatMap { a in
            a.state.buffers.keys.sorted().map { (a.info.name + "/" + $0, a.state.buffers[$0]!) }
        }
    }

    /// Every state scalar, keyed by parameter name.
    public func stateScalars() -> [String: ScalarState] {
        var out: [String: ScalarState] = [:]
        for a in assignments where !(a.state.scalars.isEmpty && a.state.integers.isEmpty) {
            out[a.info.name] = ScalarState(scalars: a.state.scalars, integers: a.state.integers.mapValues { String($0) })
        }
        return out
    }

    /// Metadata that identifies this optimizer's state layout in optimizer.safetensors.
    public var stateMetadata: [String: String] { ["optimizer": name, "state_bits": String(stateBits)] }

    /// Replaces every state with the saved one, after checking that it is this optimizer's
    /// (name, state bits), that every buffer the plan holds is present with its dtype and
    /// shape, that nothing else is, and that every scalar is there. Errors name the buffer.
    public func restoreState(buffers saved: [String: SavedBuffer], metadata: [String: String],
                             scalars: [String: ScalarState]) throws {
        if let n = metadata["optimizer"], n != name {
            throw OptimizerError("the checkpoint's optimizer state is for \"\(n)\", this run uses \"\(name)\"; resume with the checkpoint's optimizer or start a new run")
        }
        if let b = metadata["state_bits"], b != String(stateBits) {
            throw OptimizerError("the checkpoint's optimizer state has state_bits \(b), this run uses \(stateBits); resume with the same state_bits")
        }
        var expected: [String: StateBuffer] = [:]
        for (n, b) in stateBuffers() { expected[n] = b }
        // Another rank's share of a sharded optimizer is that rank's to check and load.
        let saved = saved.filter { !heldElsewhere.contains(String($0.key.prefix { $0 != "/" })) }
        let scalars = scalars.filter { !heldElsewhere.contains($0.key) }
        for n in expected.keys.sorted() {
            let want = expected[n]!
            guard let got = saved[n] else {
                throw OptimizerError("optimizer state buffer \"\(n)\" (\(want.dtype) \(want.shape)) is missing from the checkpoint; it was written by another optimizer or plan, or is damaged")
            }
            if got.dtype != want.dtype || got.shape != want.shape {
                throw OptimizerError("optimizer state buffer \"\(n)\" is \(got.dtype) \(got.shape) in the checkpoint, the plan expects \(want.dtype) \(want.shape)")
            }
        }
        if let extra = saved.keys.sorted().first(where: { expected[$0] == nil }) {
            throw OptimizerError("optimizer state buffer \"\(extra)\" in the checkpoint is not part of this \(name) plan; the checkpoint was written by another optimizer or plan")
        }
        for a in assignments {
            let declared = a.state.scalars.keys.sorted()
            let given = scalars[a.info.name]
            for k in declared where given?.scalars[k] == nil {
                throw OptimizerError("optimizer scalar \"\(a.info.name)/\(k)\" is missing from the checkpoint's trainer_state.json")
            }
            for k in a.state.integers.keys.sorted() where given?.integers[k] == nil {
                throw OptimizerError("optimizer integer \"\(a.info.name)/\(k)\" is missing from the checkpoint's trainer_state.json")
            }
        }
        for (pname, s) in scalars {
            for (k, v) in s.scalars where !v.isFinite || (k == "step" && (v < 0 || v != v.rounded() || v > 9e15)) {
                throw OptimizerError("optimizer scalar \"\(pname)/\(k)\" is \(v) in trainer_state.json, which no run writes; the checkpoint is damaged")
            }
            for (k, v) in s.integers where UInt64(v) == nil {
                throw OptimizerError("optimizer state \(pname)/\(k): \"\(v)\" is not an unsigned integer")
            }
        }
        // Everything checked: now load.
        for a in assignments {
            for key in a.state.buffers.keys { a.state.load(key, from: saved[a.info.name + "/" + key]!) }
            if let s = scalars[a.info.name] {
                for (k, v) in s.scalars { a.state.scalars[k] = v }
                for (k, v) in s.integers { a.state.integers[k] = UInt64(v)! }
            }
        }
    }
}
