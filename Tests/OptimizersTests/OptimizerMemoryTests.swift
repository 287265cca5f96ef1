// opt_state_bytes against the memory formulas of optimizers-elementwise-zo.md §9 and
// optimizers-lowrank.md §6 (low-rank, RACS, Alice), computed here
// independently for every parameter of the llama-tiny shape (d 128, 4 layers, 4 heads,
// I 352, V 4096): each optimizer's plan, before and after a step, holds exactly those bytes.
import XCTest
import LlamaModel
import Optimizers
import Tensors

final class OptimizerMemoryTests: XCTestCase {
    static let config = LlamaConfig(vocabSize: 4096, hiddenSize: 128, intermediateSize: 352, numHiddenLayers: 4, numAttentionHeads: 4)

    func make(_ name: String, _ numbers: [String: Double] = [:], strings: [String: String] = [:]) throws -> (Llama, Optimizer) {
        let model = Llama(config: Self.config, seed: 1)
        var settings = OptimizerSettings(name: name, numbers: numbers, strings: strings)
        settings.numbers["lr"] = 1e-3
        let opt = try OptimizerCatalog.make(settings, model: ModelDescription(Self.config), parameters: model.parameters)
        return (model, opt)
    }

    /// §8.2: one 8-bit moment of n values (n ≥ 4096) is n code bytes + 4 bytes of absmax per 256.
    func moment8(_ n: Int) -> Int { n >= 4096 ? n + 4 * ((n + 255) / 256) : 4 * n }

    /// Floats of the §9 table for one parameter.
    func expectedBytes(_ optimizer: String, _ p: Parameter, bits: Int = 32) -> Int {
        let n = p.tensor.count
        let m = p.shape.count == 2 ? p.shape[0] : 1, cols = p.shape.count == 2 ? p.shape[1] : n
        let matrix = p.shape.count == 2
        let moment = bits == 8 ? moment8(n) : 4 * n
        switch optimizer {
        case "adamw", "cadamw": return 2 * moment
        case "lion", "clion": return moment
        case "sgd-momentum": return moment
        case "adafactor": return 4 * (matrix ? m + cols : n)
        case "adafactor-beta1": return 4 * (n + (matrix ? m + cols : n))
        case "adam-mini":
            if !matrix { return 4 * (n + 1) }
            let perHead = p.role == .attentionQuery || p.role == .attentionKey
            return 4 * (n + (perHead ? Self.config.numAttentionHeads : m))
        case "muon": return p.role.isBlockMatrix ? moment : 2 * moment
        case "galore", "fira", "apollo", "apollo-mini":
            // §6: r·d_lo (stored SVD projector) + 2r·d_hi (+ 1 for the limiter); the rest HF AdamW 2·numel.
            guard p.role.isBlockMatrix else { return 2 * moment }
            let lo = min(m, cols), hi = max(m, cols)
            let r = optimizer == "apollo-mini" ? 1 : min(Self.config.hiddenSize / 4, optimizer == "apollo" ? Int.max : lo)
            let moments = 2 * (bits == 8 ? moment8(r * hi) : 4 * r * hi)
            switch optimizer {
            case "galore": return 4 * r * lo + moments
            case "fira": return 4 * r * lo + moments + 4
            default: return moments + 4  // APOLLO: P regenerated from the seed, not kept
            }
        case "racs": return p.role.isBlockMatrix ? 4 * (m + cols + 1) : 2 * moment
        case "alice", "alice-0":
            // §5.3 after orientation (a ≤ b): a·r + r² (Alice) + 2r·b + b + 1.
            guard p.role.isBlockMatrix else { return 2 * moment }
            let lo = min(m, cols), hi = max(m, cols), r = min(Self.config.hiddenSize / 4, lo)
            return 4 * (lo * r + (optimizer == "alice" ? r * r : 0) + 2 * r * hi + hi + 1)
        default: XCTFail("no formula for \(optimizer)"); return -1
        }
    }

    func check(_ label: String, _ opt: Optimizer, _ model: Llama, bits: Int = 32, file: StaticString = #filePath, line: UInt = #line) {
        let expected = model.parameters.reduce(0) { $0 + expectedBytes(label, $1, bits: bits) }
        XCTAssertEqual(opt.stateBytes, expected, "\(label): held bytes vs §9", file: file, line: line)
        XCTAssertEqual(opt.stateBytesFormula, expected, "\(label): rules' formula vs §9", file: file, line: line)
        for a in opt.assignments {
            XCTAssertEqual(a.state.stateBytes, expectedBytes(label, a.parameter, bits: bits), "\(label) \(a.info.name)", file: file, line: line)
        }
    }

    func testEveryOptimizerHoldsItsFormulaForEveryParameterShape() throws {
        let cases: [(String, String, [String: Double])] = [
            ("adamw", "adamw", [:]), ("cadamw", "cadamw", [:]), ("lion", "lion", [:]), ("clion", "clion", [:]),
            ("sgd-momentum", "sgd", ["momentum": 0.9]), ("adafactor", "adafactor", [:]),
            ("adafactor-beta1", "adafactor", ["beta1": 0.9]), ("adam-mini", "adam-mini", [:]), ("muon", "muon", [:]),
            ("galore", "galore", [:]), ("fira", "fira", [:]), ("apollo", "apollo", [:]), ("apollo-mini", "apollo-mini", [:]),
            ("racs", "racs", [:]), ("alice", "alice", [:]), ("alice-0", "alice-0", [:]),
        ]
        for (label, name, numbers) in cases {
            let (model, opt) = try make(name, numbers)
            check(label, opt, model)
        }
        let (model, sgd) = try make("sgd")
        XCTAssertEqual(sgd.stateBytes, 0)
        XCTAssertEqual(model.parameters.count, 39)
    }

    func testEightBitStateHoldsCodesPlusAbsmaxPerBlock() throws {
        for (label, name, numbers) in [("adamw", "adamw", [String: Double]()), ("cadamw", "cadamw", [:]), ("lion", "lion", [:]),
                                       ("clion", "clion", [:]), ("sgd-momentum", "sgd", ["momentum": 0.9]), ("muon", "muon", [:]),
                                       ("galore", "galore", [:]), ("apollo", "apollo", [:])] {
            var n = numbers
            n["state_bits"] = 8
            let (model, opt) = try make(name, n)
            check(label, opt, model, bits: 8)
        }
        // Full-size AdamW at 8 bits: ≈ 0.25 of 32-bit state (the norms stay 32-bit).
        let (_, a8) = try make("adamw", ["state_bits": 8])
        let (_, a32) = try make("adamw")
        XCTAssertLessThan(Double(a8.stateBytes) / Double(a32.stateBytes), 0.26)
    }

    func testStateBytesDoNotChangeAfterSteps() throws {
        for name in ["adamw", "lion", "adafactor", "adam-mini", "muon"] {
            let (model, opt) = try make(name)
            let before = opt.stateBytes
            for p in model.parameters { p.tensor.grad = Tensor.filled(p.shape, with: 0.01) }
            try opt.step(1, lr: 1e-3, seed: 0)
            try opt.step(2, lr: 1e-3, seed: 0)
            XCTAssertEqual(opt.stateBytes, before, name)
        }
    }

    func testAdamMiniCanGiveEmbeddingAndHeadFullAdamW() throws {
        let (model, opt) = try make("adam-mini", strings: ["adam_mini_embedding": "adamw"])
        let tables = model.parameters.filter { $0.role == .embedding || $0.role == .head }
        let expected = model.parameters.reduce(0) { $0 + expectedBytes("adam-mini", $1) }
            + tables.reduce(0) { $0 + 4 * $1.tensor.count - 4 * $1.shape[0] }
        XCTAssertEqual(opt.stateBytes, expected)
    }
}
