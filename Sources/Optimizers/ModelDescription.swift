// ModelDescription: the facts about the model that optimizer plans need and a parameter
// does not carry: heads and head size (Adam-mini's per-head Q/K blocks), layer count and
// widths. Built from the Hugging Face llama config.
import LlamaModel

public struct ModelDescription: Sendable, Equatable {
    public var hiddenSize: Int
    public var heads: Int
    public var keyValueHeads: Int
    public var layers: Int
    public var vocabSize: Int
    public var intermediateSize: Int

    public var headDim: Int { hiddenSize / max(heads, 1) }

    public init(hiddenSize: Int, heads: Int, keyValueHeads: Int? = nil, layers: Int, vocabSize: Int, intermediateSize: Int) {
        self.hiddenSize = hiddenSize
        self.heads = heads
        self.keyValueHeads = keyValueHeads ?? heads
        self.layers = layers
        self.vocabSize = vocabSize
        self.intermediateSize = intermediateSize
    }

    public init(_ c: LlamaConfig) {
        self.init(hiddenSize: c.hiddenSize, heads: c.numAttentionHeads, layers: c.numHiddenLayers,
                  vocabSize: c.vocabSize, intermediateSize: c.intermediateSize)
    }
}
