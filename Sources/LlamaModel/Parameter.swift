// Parameter: one named weight of the model with its role, so optimizer plans can route
// matrices of attention and MLP to low-rank or structured rules and the rest
// (embeddings, norms, lm_head) to AdamW, as the reference implementations do.

/// What a parameter is in the LLaMA architecture.
public enum ParameterRole: String, Sendable, CaseIterable {
    case embedding      // model.embed_tokens.weight      [V, d]
    case norm           // *_layernorm.weight, model.norm.weight   [d]
    case attentionQuery, attentionKey, attentionValue, attentionOutput   // self_attn.{q,k,v,o}_proj [d, d]
    case mlpGate, mlpUp, mlpDown  // mlp.{gate,up}_proj [I, d], mlp.down_proj [d, I]
    case head           // lm_head.weight                 [V, d]
    case adapter        // model.layers.*.<site>.adapter.{down,up}.{core*,bias}: TT adapter cores and biases

    /// True for the 2-D projection matrices of attention and MLP (GaLore's "attn"/"mlp" modules).
    public var isBlockMatrix: Bool {
        switch self {
        case .attentionQuery, .attentionKey, .attentionValue, .attentionOutput, .mlpGate, .mlpUp, .mlpDown: return true
        case .embedding, .norm, .head, .adapter: return false
        }
    }
}

/// A trainable tensor with its Hugging Face name and role.
public struct Parameter {
    public let name: String
    public let role: ParameterRole
    /// Transformer block index, nil for embedding, final norm and head.
    public let layer: Int?
    public let tensor: Tensor

    public init(name: String, role: ParameterRole, layer: Int?, tensor: Tensor) {
        self.name = name
        self.role = role
        self.layer = layer
        self.tensor = tensor
    }

    public var shape: [Int] { tensor.shape }
}

import Tensors
