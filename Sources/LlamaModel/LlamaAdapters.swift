// LlamaAdapters: the tensor-train adapters of AdaZeta (Yang et al., arXiv 2406.18060; spec
// optimizers-elementwise-zo.md §7.2) attached to a Llama, and the names they are saved
// under in adapters.safetensors. Placement `mlp3` (the reference LLaMA code) puts three per
// block: on the inputs of gate_proj and up_proj and on the output of down_proj; `houlsby`
// puts one on the attention output (after o_proj) and one on the MLP output (after
// down_proj). Each adapted activation is x + A(x). With adapters attached the base model is
// frozen and the adapters are the only trainable parameters.
import Tensors

public final class LlamaAdapters {
    /// The structure, with both mode lists filled in (as adapters.safetensors records it).
    public let config: AdapterConfig
    /// Per block, in forward order: mlp3 → [gate input, up input, down output];
    /// houlsby → [attention output, MLP output].
    public let layers: [[TTAdapter]]
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
                let prefix = "model.layers.\(l).\(site).adapter."
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
    }

    /// The modules each adapter of a block is attached to, in forward order.
    public static func sites(_ placement: AdapterPlacement) -> [String] {
        switch placement {
        case .mlp3: return ["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
        case .houlsby: return ["self_attn.o_proj", "mlp.down_proj"]
        }
    }

    /// Trainable values (cores and biases of every adapter).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.tensor.count } }
}
