// OptimizerTestSupport: runs one rule on one tensor through the real optimizer path (plan,
// direction, shared ApplyUpdate), so every rule test exercises the code training uses.
import XCTest
import LlamaModel
import Optimizers
import Tensors

/// A single-parameter optimizer around `rule`.
final class RuleHarness {
    let theta: Tensor
    let optimizer: Optimizer
    var step = 0
    var state: RuleState { optimizer.assignments[0].state }

    init(_ rule: UpdateRule, theta values: [Float], shape: [Int], weightDecay: Double = 0,
         placement: DecayPlacement = .before, name: String = "model.layers.0.mlp.up_proj.weight",
         role: ParameterRole = .mlpUp) throws {
        theta = Tensor(shape: shape, values: values)
        let p = Parameter(name: name, role: role, layer: 0, tensor: theta)
        let group = ParameterGroup(name: "test", rule: rule, parameters: [p], weightDecay: weightDecay, decayPlacement: placement)
        optimizer = try Optimizer(name: "test", groups: [group], modelParameters: [p])
    }

    /// One step with gradient `g` at learning rate `lr`; returns θ after it.
    @discardableResult
    func run(_ g: [Float], lr: Double) throws -> [Float] {
        step += 1
        theta.grad = Tensor(shape: theta.shape, values: g)
        try optimizer.step(step, lr: lr, seed: 0)
        return theta.array
    }

    /// The Float32 state buffer `key`.
    func buffer(_ key: String) -> [Float] { state.float(key).array }
}

func assertClose(_ a: [Float], _ b: [Double], rel: Double = 1e-5, abs absTol: Double = 1e-7,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "length", file: file, line: line)
    for (i, (x, y)) in zip(a, b).enumerated() {
        let err = Swift.abs(Double(x) - y)
        XCTAssertLessThanOrEqual(err, rel * Swift.abs(y) + absTol, "element \(i): \(x) vs \(y)\n\(a)\nvs\n\(b)", file: file, line: line)
    }
}

/// A parameter description for formula checks.
func info(_ name: String, _ shape: [Int], _ role: ParameterRole = .mlpUp) -> ParameterInfo {
    ParameterInfo(name: name, index: 0, role: role, shape: shape)
}
