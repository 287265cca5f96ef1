// Llama: the LLaMA decoder of model-and-formats.md (Hugging Face `LlamaForCausalLM`
// semantics: pre-norm RMSNorm blocks, rotary "rotate-half" attention, SwiGLU MLP, untied
// lm_head, no biases) built from the coarse ops of the Tensors core.
import Foundation
import Tensors

public final class Llama {
    public let config: LlamaConfig
    /// Every parameter in Hugging Face order: embedding, blocks 0..<L, final norm, lm_head.
    public let parameters: [Parameter]
    let rotaryTable: RotaryTable

    struct Block {
        let inputNorm, q, k, v, o, postNorm, gate, up, down: Tensor
        var weights: [Tensor] { [inputNorm, q, k, v, o, postNorm, gate, up, down] }
    }
    let embed: Tensor
    let blocks: [Block]
    let finalNorm: Tensor
    let head: Tensor

    /// A model with weights initialised per the spec: every linear weight and the embedding
    /// ~ Normal(0, initializer_range), every norm weight = 1; deterministic in `seed`.
    public convenience init(config: LlamaConfig, seed: UInt64) {
        var rng = RandomGenerator(seed: seed).derived(stream: 0x1A17)
        self.init(config: config) { shape, role in
            if role == .norm { return Tensor.filled(shape, with: 1) }
            return Tensor.randn(shape, std: Float(config.initializerRange), rng: &rng)
        }
    }

    /// A model whose tensors come from `make(shape, role)`, called in Hugging Face order.
    public init(config: LlamaConfig, make: ([Int], ParameterRole) -> Tensor) {
        self.config = config
        let d = config.hiddenSize, i = config.intermediateSize, v = config.vocabSize
        var params: [Parameter] = []
        func param(_ name: String, _ shape: [Int], _ role: ParameterRole, _ layer: Int?) -> Tensor {
            let t = make(shape, role)
            precondition(t.shape == shape, "\(name): made \(t.shape), expected \(shape)")
            t.requiresGrad = true
            t.name = name
            t.kind = .parameter
            params.append(Parameter(name: name, role: role, layer: layer, tensor: t))
            return t
        }
        embed = param("model.embed_tokens.weight", [v, d], .embedding, nil)
        var blocks: [Block] = []
        for l in 0..<config.numHiddenLayers {
            let p = "model.layers.\(l)."
            blocks.append(Block(
                inputNorm: param(p + "input_layernorm.weight", [d], .norm, l),
                q: param(p + "self_attn.q_proj.weight", [d, d], .attentionQuery, l),
                k: param(p + "self_attn.k_proj.weight", [d, d], .attentionKey, l),
                v: param(p + "self_attn.v_proj.weight", [d, d], .attentionValue, l),
                o: param(p + "self_attn.o_proj.weight", [d, d], .attentionOutput, l),
                postNorm: param(p + "post_attention_layernorm.weight", [d], .norm, l),
                gate: param(p + "mlp.gate_proj.weight", [i, d], .mlpGate, l),
                up: param(p + "mlp.up_proj.weight", [i, d], .mlpUp, l),
                down: param(p + "mlp.down_proj.weight", [d, i], .mlpDown, l)))
        }
        self.blocks = blocks
        finalNorm = param("model.norm.weight", [d], .norm, nil)
        head = param("lm_head.weight", [v, d], .head, nil)
        parameters = params
        rotaryTable = RotaryTable(headDim: config.headDim, maxPositions: config.maxPositionEmbeddings,
                                  theta: config.ropeTheta)
    }

    /// Parameter by Hugging Face name.
    public func parameter(named name: String) -> Parameter? { parameters.first { $0.name == name } }

    /// When true, each block's activations are dropped after its forward pass and
    /// recomputed during backward (activation checkpointing; gradients are bit-identical).
    public var activationCheckpointing = false

    /// Logits [B·T, V] for token ids [B·T] (row-major [B, T], positions 0..<T in each row).
    public func logits(tokens: [Int32], batch: Int, seqLen: Int) -> Tensor {
        linear(hidden(tokens: tokens, batch: batch, seqLen: seqLen), head)   // [N, V]
    }

    /// Mean cross-entropy of next-token prediction over all B·T positions (a 0-d tensor).
    /// The head and the loss are one op that never holds all [N, V] logits. When training
    /// passes `lossGradient` (the seed its backward will use), the head's backward runs
    /// during forward, chunk by chunk (see linearCrossEntropy).
    public func loss(tokens: [Int32], targets: [Int32], batch: Int, seqLen: Int, lossGradient: Float? = nil) -> Tensor {
        precondition(targets.count == tokens.count, "targets and tokens differ in count")
        return linearCrossEntropy(hidden(tokens: tokens, batch: batch, seqLen: seqLen), head, targets: targets,
                                  lossGradient: lossGradient)
    }

    /// The final-norm output [N, d] that the head reads. A `perturbation` (zeroth-order
    /// passes, no tape) replaces each trainable weight by θ + c·z as it is read.
    func hidden(tokens: [Int32], batch: Int, seqLen: Int, perturbation: Perturbation? = nil) -> Tensor {
        precondition(tokens.count == batch * seqLen, "\(tokens.count) tokens for batch \(batch) × \(seqLen)")
        precondition(seqLen <= config.maxPositionEmbeddings, "sequence length \(seqLen) exceeds max_position_embeddings")
        var h = perturbation?.rows(of: embed, ids: tokens) ?? embedding(tokens, embed)   // [N, d]
        for (l, b) in blocks.enumerated() {
            if let perturbation {
                h = forward(b, h, batch: batch, seqLen: seqLen, layer: l, weight: perturbation.read)
            } else if activationCheckpointing {
                let weights = b.weights + (adapters?.layers[l].flatMap(\.tensors) ?? [])
                h = Tape.checkpointed(inputs: [h], weights: weights) { [self] x in
                    forward(b, x[0], batch: batch, seqLen: seqLen, layer: l)
                }
            } else {
                h = forward(b, h, batch: batch, seqLen: seqLen, layer: l)
            }
        }
        return rmsNorm(h, perturbation?.read(finalNorm) ?? finalNorm, eps: Float(config.rmsNormEps))
    }

    /// Decoder block `layer`: h + attention(norm(h)), then + MLP(norm(·)). [N, d] → [N, d].
    /// Rotary works in place on intermediates nothing else reads.
    /// The block's adapters, when attached, adapt their sites (LlamaAdapters.adapt); every
    /// weight is read through `weight` (the identity, or a zeroth-order perturbation).
    /// `keysAndValues` sees the rotated keys and the values [N, d] (a KV cache's prefill).
    func forward(_ b: Block, _ h: Tensor, batch: Int, seqLen: Int, layer: Int,
                 weight: (Tensor) -> Tensor = { $0 },
                 keysAndValues: ((Tensor, Tensor) -> Void)? = nil) -> Tensor {
        let eps = Float(config.rmsNormEps), heads = config.numAttentionHeads
        func adapt(_ x: Tensor, _ site: AdapterSite) -> Tensor {
            adapters?.adapt(x, at: site, layer: layer, weight: weight) ?? x
        }
        let a = rmsNorm(h, weight(b.inputNorm), eps: eps)                   // [N, d]
        let q = rotaryInPlace(linear(a, weight(b.q)), table: rotaryTable, batch: batch, seqLen: seqLen, heads: heads)
        let k = rotaryInPlace(linear(a, weight(b.k)), table: rotaryTable, batch: batch, seqLen: seqLen, heads: heads)
        let v = linear(a, weight(b.v))
        keysAndValues?(k, v)
        let att = causalAttention(q: q, k: k, v: v, batch: batch, seqLen: seqLen, heads: heads)  // [N, d]
        // h + o(att), h1 + down(mlp): the residual joins the product (linear(_:_:plus:))
        // unless an adapter sits between the projection and the addition.
        func residual(_ x: Tensor, _ w: Tensor, _ site: AdapterSite, plus r: Tensor) -> Tensor {
            if let adapters, adapters.adapts(site) { return addInPlace(adapt(linear(x, weight(w)), site), r) }
            return linear(x, weight(w), plus: r)
        }
        let h1 = residual(att, b.o, .attentionOutput, plus: h)
        let m = rmsNorm(h1, weight(b.postNorm), eps: eps)
        let mlp = swiGLU(linear(adapt(m, .gateInput), weight(b.gate)), linear(adapt(m, .upInput), weight(b.up)))   // [N, I]
        return residual(mlp, b.down, .downOutput, plus: h1)
    }

    /// Sets every trainable parameter's gradient to zero.
    public func zeroGrad() { for p in trainableParameters { p.tensor.zeroGrad() } }

    /// Tensor-train adapters (AdaZeta), when attached; see `attachAdapters`.
    public private(set) var adapters: LlamaAdapters?

    /// What training updates: the adapters when attached, else every base parameter.
    public var trainableParameters: [Parameter] { adapters?.parameters ?? parameters }

    /// Attaches fresh adapters (per `config`, deterministic in `seed`) and freezes the base
    /// model: from now on only the adapters require gradients.
    public func attachAdapters(_ config: AdapterConfig, seed: UInt64) throws {
        precondition(adapters == nil, "adapters are already attached")
        adapters = try LlamaAdapters(model: self.config, config: config, seed: seed)
        for p in parameters { p.tensor.requiresGrad = false; p.tensor.grad = nil }
    }
}
