// TrainingData: the run's data folder opened for training — the train and validation
// shards (memory-mapped), their batchers, and the tokenizer's vocabulary size checked
// against the model's.
import Foundation
import LlamaModel
import TextData

public struct TrainingData {
    public let folder: URL
    public let train: Batcher
    public let val: Batcher?
    public let tokenizerURL: URL

    /// Opens `folder` (train.bin, val.bin, tokenizer.model) for batches of `batch`×`seqLen`.
    public init(folder: URL, batch: Int, seqLen: Int, shuffleSeed: UInt64?, model: LlamaConfig) throws {
        self.folder = folder
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw ConfigError("data folder \(folder.path) does not exist; create it with `swift-train prepare --input FILE --out \(folder.path)` (or scripts/prepare-kjv.sh for the default corpus)")
        }
        tokenizerURL = folder.appendingPathComponent("tokenizer.model")
        let tokenizer = try Tokenizer(path: tokenizerURL.path)
        if tokenizer.vocabSize > model.vocabSize {
            throw ConfigError("model vocab_size \(model.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabSize) pieces (\(tokenizerURL.path)); set \"vocab_size\": \(tokenizer.vocabSize) in the model config")
        }
        let trainShard = try TokenShard(path: folder.appendingPathComponent("train.bin").path)
        train = try Batcher(shard: trainShard, batchSize: batch, sequenceLength: seqLen, shuffleSeed: shuffleSeed)
        let valURL = folder.appendingPathComponent("val.bin")
        if fm.fileExists(atPath: valURL.path) {
            val = try Batcher(shard: try TokenShard(path: valURL.path), batchSize: batch, sequenceLength: seqLen, shuffleSeed: nil)
        } else {
            val = nil
        }
    }
}
