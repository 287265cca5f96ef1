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
    /// Token counts and content hashes of the shards, recorded in checkpoints so a resume
    /// can tell that the data folder was re-prepared: "train N #hash, val M #hash".
    public let fingerprint: String

    /// Opens `folder` (train.bin, val.bin, tokenizer.model) for batches of `batch`×`seqLen`.
    public init(folder: URL, batch: Int, seqLen: Int, shuffleSeed: UInt64?, model: LlamaConfig) throws {
        self.folder = folder
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: folder.path, isDirectory: &isDir), !isDir.boolValue {
            throw ConfigError("data \(folder.path) is a file; give the folder that `swift-train prepare` made (with train.bin, val.bin and tokenizer.model), e.g. --data \(folder.deletingLastPathComponent().path)")
        }
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw ConfigError("data folder \(folder.path) does not exist; create it with `swift-train prepare --input FILE --out \(folder.path)` (or scripts/prepare-kjv.sh for the default corpus)")
        }
        tokenizerURL = folder.appendingPathComponent("tokenizer.model")
        let tokenizer = try Tokenizer(path: tokenizerURL.path)
        if tokenizer.vocabSize > model.vocabSize {
            throw ConfigError("model vocab_size \(model.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabSize) pieces (\(tokenizerURL.path)); set \"vocab_size\": \(tokenizer.vocabSize) in the model config")
        }
        let trainShard = try TokenShard(path: folder.appendingPathComponent("train.bin").path)
        try TrainingData.checkIDs(trainShard, vocab: model.vocabSize)
        train = try Batcher(shard: trainShard, batchSize: batch, sequenceLength: seqLen, shuffleSeed: shuffleSeed)
        let valURL = folder.appendingPathComponent("val.bin")
        if fm.fileExists(atPath: valURL.path) {
            let valShard = try TokenShard(path: valURL.path)
            try TrainingData.checkIDs(valShard, vocab: model.vocabSize)
            val = try Batcher(shard: valShard, batchSize: batch, sequenceLength: seqLen, shuffleSeed: nil)
        } else {
            val = nil
        }
        fingerprint = [("train", train.shard), ("val", val?.shard)].compactMap { name, shard in
            shard.map { "\(name) \($0.count) #\(TrainingData.hash($0))" }
        }.joined(separator: ", ")
    }

    /// FNV-1a (64-bit) over the shard's tokens, four at a time.
    static func hash(_ shard: TokenShard) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let raw = UnsafeRawBufferPointer(shard.rawTokens)
        var i = 0
        while i + 8 <= raw.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x100_0000_01b3
            i += 8
        }
        while i < raw.count { h = (h ^ UInt64(raw[i])) &* 0x100_0000_01b3; i += 1 }
        return String(h, radix: 16)
    }

    /// Every token id must index the embedding; a shard made with another tokenizer may not.
    static func checkIDs(_ shard: TokenShard, vocab: Int) throws {
        var largest: UInt16 = 0
        for t in shard.rawTokens where t > largest { largest = t }
        if Int(largest) >= vocab {
            throw ConfigError("\(shard.path) holds token id \(largest), but the model's vocab_size is \(vocab); the shard was made with a larger tokenizer — re-run `swift-train prepare` or raise vocab_size")
        }
    }
}
