// LlamaAdapters: the tensor-train adapters of AdaZeta (Yang et al., arXiv 2406.18060; spec
// optimizers-elementwise-zo.md §7.2) attached to a Llama, and the names they are saved
// under in adapters.safetensors. Placement `mlp3` (the reference LLaMA code) puts three per
// block: on the inputs of gate_proj and up_proj and on the output of down_proj; `houlsby`
// puts one on the attention output (after o_proj) and one on the MLP output (after
// down_proj). Each adapted activation is x + A(x). With adapters attached the base model is
// frozen and the adapters are the only trainable parameters.
import Tensors

/// Where in a block an adapter sits.
public enum AdapterSite: Sendable {
    case attentionOutput, gateInput, upInput, downOutput

    /// The module it adapts (its name prefix in adapters.safetensors).
    var module: String {
        switch self {
        case .attentionOutput: return "self_attn.o_proj"
        case .gateInput: return "mlp.gate_proj"
        case .upInput: return "mlp.up_proj"
        case .downOutput: return "mlp.down_proj"
        }
    }
}

public final class LlamaAdapters {
    /// The structure, with both mode lists filled in (as adapters.safetensors records it).
    public let config: AdapterConfig
    /// Per block, one adapter per site of `sites(config.placement)`, in that order.
    public let layers: [[TTAdapter]]
    /// `sites(config.placement)`, kept (forward asks at every block).
    let sites: [AdapterSite]
    /// Every adapter tensor with its name, block by block (role `.adapter`).
    public let parameters: [Parameter]

    /// Adapters for every block of a model of `model`'s shape, initialised per `config`
    /// (deterministic in `seed`). Throws when the hidden size cannot be factorised.
    public init(model: LlamaConfig, config: AdapterConfig, seed: UInt64) throws {
        let config = try config.resolved(hiddenSize: model.hiddenSize)   // modes written out, as saved
        self.config = config
        var rng = RandomGenerator(seed: seed).derived(stream: 0xADA7)
        var layers: [[TTAdapter]] = []
        var params: [Parameter] = []
        for l in 0..<model.numHiddenLayers {
            var adapters: [TTAdapter] = []
            for site in LlamaAdapters.sites(config.placement) {
                let a = try TTAdapter(hiddenSize: model.hiddenSize, config: config, rng: &rng)
                let prefix = "model.layers.\(l).\(site.module).adapter."
                for (k, t) in a.downCores.enumerated() { t.name = prefix + "down.core\(k)" }
                a.downBias.name = prefix + "down.bias"
                for (k, t) in a.upCores.enumerated() { t.name = prefix + "up.core\(k)" }
                a.upBias.name = prefix + "up.bias"
                for t in a.tensors { params.append(Parameter(name: t.name!, role: .adapter, layer: l, tensor: t)) }
                adapters.append(a)
            }
            layers.append(adapters)
        }
        self.layers = layers
        parameters = params
        sites = LlamaAdapters.sites(config.placement)
    }

    /// The sites of a block's adapters, in forward order.
    public static func sites(_ placement: AdapterPlacement) -> [AdapterSite] {
        switch placement {
        case .mlp3: return [.gateInput, .upInput, .downOutput]
        case .houlsby: return [.attentionOutput, .downOutput]
        }
    }

    /// Whether an adapter sits at `site` (in every block).
    public func adapts(_ site: AdapterSite) -> Bool { sites.contains(site) }

    /// x + A(x) with the adapter of block `layer` at `site`, or x when none sits there; every
    /// core and bias is read through `weight` (the identity, or a zeroth-order perturbation).
    public func adapt(_ x: Tensor, at site: AdapterSite, layer: Int, weight: (Tensor) -> Tensor = { $0 }) -> Tensor {
        guard let i = sites.firstIndex(of: site) else { return x }
        return add(x, layers[layer][i](x, weight: weight))
    }

    /// The trainable values adapters of `config` would have on a model of shape `model`
    /// (cores and biases of every adapter), without building them.
    public static func parameterCount(model: LlamaConfig, config: AdapterConfig) throws -> Int {
        let s = try config.shapes(hiddenSize: model.hiddenSize)
        let perAdapter = s.down.parameterCount + s.down.outFeatures + s.up.parameterCount + s.up.outFeatures
        return model.numHiddenLayers * sites(config.placement).count * perAdapter
    }

    /// Trainable values (cores and biases of every adapter).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.tensor.count } }
}
