// TTAdapter: the tensorized bottleneck adapter of AdaZeta (Yang et al., arXiv 2406.18060;
// the LoRETTA_adp adapter, arXiv 2402.11417): A(x) = TT_up(act(TT_down(x))), two TT linear
// maps d → b → d, each with its own bias. The caller adds x + A(x). Its structure
// (AdapterConfig) round-trips through string metadata, e.g. a safetensors header.
// Initialisation and shapes follow optimizers-elementwise-zo.md §7.2.
import Foundation
import Tensors

/// The adapter's non-linearity between the two TT maps.
public enum AdapterActivation: String, CaseIterable, Sendable { case relu, silu }

/// `reference`: cores N(0, 1)/√r_k · σ^{1/D}, biases U(±1/√N_out) (A ≠ 0 at start);
/// `identity`: the same draws, then the last core of TT_up and its bias zeroed (A ≡ 0).
public enum AdapterInit: String, CaseIterable, Sendable { case reference, identity }

/// `mlp3`: on the inputs of gate_proj and up_proj and the output of down_proj (the reference
/// LLaMA code); `houlsby`: on the attention output and on the MLP output.
public enum AdapterPlacement: String, CaseIterable, Sendable { case mlp3, houlsby }

/// The structure of every adapter of a model.
public struct AdapterConfig: Equatable, Sendable {
    /// Interior TT rank r.
    public var rank: Int
    /// Bottleneck width b.
    public var bottleneck: Int
    public var activation: AdapterActivation
    public var placement: AdapterPlacement
    public var initialization: AdapterInit
    /// Modes of the model width d; nil = factor3(d).
    public var modelModes: [Int]?
    /// Modes of the bottleneck b; nil = factor3(b).
    public var bottleneckModes: [Int]?

    public init(rank: Int = 5, bottleneck: Int = 64, activation: AdapterActivation = .relu,
                placement: AdapterPlacement = .mlp3, initialization: AdapterInit = .reference,
                modelModes: [Int]? = nil, bottleneckModes: [Int]? = nil) {
        self.rank = rank
        self.bottleneck = bottleneck
        self.activation = activation
        self.placement = placement
        self.initialization = initialization
        self.modelModes = modelModes
        self.bottleneckModes = bottleneckModes
    }

    /// TT_down: modes(d) | modes(b); TT_up: modes(b) | modes(d).
    public func shapes(hiddenSize d: Int) throws -> (down: TTShape, up: TTShape) {
        guard bottleneck >= 1 else {
            throw TensorTrainError("adapter_bottleneck \(bottleneck) is below 1: use a positive width such as 64")
        }
        let dm = try modes(modelModes, size: d, key: "adapter_model_modes", what: "the hidden size")
        let bm = try modes(bottleneckModes, size: bottleneck, key: "adapter_bottleneck_modes", what: "adapter_bottleneck")
        return (try TTShape(inModes: dm, outModes: bm, rank: rank), try TTShape(inModes: bm, outModes: dm, rank: rank))
    }

    /// The explicit modes, checked against `size`, or factor3(size).
    private func modes(_ explicit: [Int]?, size: Int, key: String, what: String) throws -> [Int] {
        guard let explicit else {
            do { return try TTShape.factor3(size) } catch let e as TensorTrainError {
                throw TensorTrainError("\(what) \(size): \(e.description) (key \(key))")
            }
        }
        let product = explicit.reduce(1, *)
        guard product == size else {
            throw TensorTrainError("\(key) \(explicit) multiply to \(product), not \(what) \(size): "
                + "give modes whose product is \(size), or leave \(key) unset to use factor3")
        }
        return explicit
    }

    /// This configuration with both mode lists filled in for width d (what to store next to
    /// trained adapters, so the file does not depend on factor3).
    public func resolved(hiddenSize d: Int) throws -> AdapterConfig {
        let s = try shapes(hiddenSize: d)
        var c = self
        c.modelModes = s.down.inModes
        c.bottleneckModes = s.down.outModes
        return c
    }

    // MARK: metadata

    /// String key-value form, e.g. for a safetensors header. Mode lists are written only when
    /// set ("16,16,16"); absent means factor3.
    public var metadata: [String: String] {
        var m = ["adapter_rank": String(rank), "adapter_bottleneck": String(bottleneck),
                 "adapter_activation": activation.rawValue, "adapter_placement": placement.rawValue,
                 "adapter_init": initialization.rawValue]
        if let modelModes { m["adapter_model_modes"] = modelModes.map(String.init).joined(separator: ",") }
        if let bottleneckModes { m["adapter_bottleneck_modes"] = bottleneckModes.map(String.init).joined(separator: ",") }
        return m
    }

    /// Reads the form written by `metadata`; other keys are ignored.
    public init(metadata m: [String: String]) throws {
        func value(_ key: String) throws -> String {
            guard let v = m[key] else {
                throw TensorTrainError("adapter metadata lacks \(key): the file was not written with adapters, "
                    + "or its header was edited; add \(key) or load it without adapters")
            }
            return v
        }
        func int(_ key: String) throws -> Int {
            let v = try value(key)
            guard let i = Int(v.trimmingCharacters(in: .whitespaces)), i >= 1 else {
                throw TensorTrainError("adapter metadata \(key) = \"\(v)\" is not a positive integer")
            }
            return i
        }
        func choice<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) throws -> E where E.RawValue == String {
            let v = try value(key)
            guard let e = E(rawValue: v) else {
                throw TensorTrainError("adapter metadata \(key) = \"\(v)\" is not one of "
                    + E.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return e
        }
        func modes(_ key: String) throws -> [Int]? {
            guard let v = m[key] else { return nil }
            let parts = v.split(separator: ",", omittingEmptySubsequences: false)
            let list = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, list.count == parts.count, list.allSatisfy({ $0 >= 2 }) else {
                throw TensorTrainError("adapter metadata \(key) = \"\(v)\" is not a comma-separated list of "
                    + "modes of at least 2, such as \"16,16,16\"")
            }
            return list
        }
        self.init(rank: try int("adapter_rank"), bottleneck: try int("adapter_bottleneck"),
                  activation: try choice("adapter_activation", AdapterActivation.self),
                  placement: try choice("adapter_placement", AdapterPlacement.self),
                  initialization: try choice("adapter_init", AdapterInit.self),
                  modelModes: try modes("adapter_model_modes"),
                  bottleneckModes: try modes("adapter_bottleneck_modes"))
    }
}

/// One adapter A(x) = TT_up(act(TT_down(x))): x [..., d] → [..., d].
public final class TTAdapter {
    /// TT_down's cores, [r_{k−1}, n_k, r_k] each (modes(d) | modes(b)).
    public let downCores: [Tensor]
    /// TT_down's bias [b].
    public let downBias: Tensor
    /// TT_up's cores (modes(b) | modes(d)).
    public let upCores: [Tensor]
    /// TT_up's bias [d].
    public let upBias: Tensor
    public let shapes: (down: TTShape, up: TTShape)
    public let activation: AdapterActivation

    /// Every trainable tensor: down cores, down bias, up cores, up bias, in that order.
    public var tensors: [Tensor] { downCores + [downBias] + upCores + [upBias] }

    /// Draws the adapter from `rng` in a fixed order: down cores, down bias, up cores, up bias.
    /// Tensors require gradients and count as parameters; the caller names them.
    public init(hiddenSize: Int, config: AdapterConfig, rng: inout RandomGenerator) throws {
        shapes = try config.shapes(hiddenSize: hiddenSize)
        activation = config.activation
        (downCores, downBias) = TTAdapter.draw(shapes.down, rng: &rng)
        (upCores, upBias) = TTAdapter.draw(shapes.up, rng: &rng)
        if config.initialization == .identity {
            upCores.last!.fillZero()
            upBias.fillZero()
        }
    }

    /// Reference initialisation of one TT matrix: core k ~ N(0, 1)/√r_k · σ^{1/D} with r_k its
    /// right rank and σ² = 1/(N_in + N_out), so each entry of W has variance σ² (on average
    /// over draws); then bias ~ U(−1/√N_out, 1/√N_out).
    private static func draw(_ shape: TTShape, rng: inout RandomGenerator) -> (cores: [Tensor], bias: Tensor) {
        let coreShapes = shape.coreShapes
        let sigma = (1.0 / Double(shape.inFeatures + shape.outFeatures)).squareRoot()
        let perCore = Foundation.pow(sigma, 1.0 / Double(coreShapes.count))
        let cores = coreShapes.map { s -> Tensor in
            let t = Tensor(uninitializedShape: s, requiresGrad: true, kind: .parameter)
            rng.fillNormal(t.buffer, std: Float(perCore / Double(s[2]).squareRoot()))
            return t
        }
        let bound = Float(1 / Double(shape.outFeatures).squareRoot())
        let bias = Tensor(uninitializedShape: [shape.outFeatures], requiresGrad: true, kind: .parameter)
        for i in 0..<bias.count { bias[i] = (2 * rng.uniform() - 1) * bound }
        return (cores, bias)
    }

    /// A(x) = TT_up(act(TT_down(x))) for x [..., d], without the residual x. Every core and
    /// bias is read through `weight` (zeroth-order training passes one that returns a
    /// perturbed copy), so L and R are rebuilt from what `weight` returns on every call.
    public func callAsFunction(_ x: Tensor, weight: (Tensor) -> Tensor = { $0 }) -> Tensor {
        let h = ttLinear(x, cores: downCores.map(weight), bias: weight(downBias), shape: shapes.down)  // [..., b]
        let a: Tensor
        switch activation {
        case .relu: a = relu(h)
        case .silu: a = silu(h)
        }
        return ttLinear(a, cores: upCores.map(weight), bias: weight(upBias), shape: shapes.up)  // [..., d]
    }
}
