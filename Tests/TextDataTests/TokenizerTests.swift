// Tests of Tokenizer and TokenizerTrainer: training BPE/unigram models on a generated
// multilingual corpus, exact round trips, ids identical to Debian's `spm_encode`, lookups,
// and the errors for bad models and unusable vocabulary sizes.
import Foundation
import XCTest
import TextData
#if canImport(Glibc)
import Glibc
#endif

final class TokenizerTests: XCTestCase {
    /// Lines the models never saw in training, with characters outside the training text
    /// (Cyrillic, Greek, other CJK, other emoji), spaces to keep, and digits.
    static let unseenLines = [
        "The quick fox ate a crème brûlée at the café.",
        "Ünïcödé: naïve Straße, 中文 and 日本語 text, 😀🚀 then 🦀.",
        "Привет, мир! Γειά σου κόσμε.",
        "  two leading spaces and   inner runs of spaces",
        "digits 1234567890 and x7y8",
    ]

    private func trainModel(_ type: TokenizerTrainer.ModelType, vocab: Int, in directory: URL) throws -> (Tokenizer, String) {
        let corpus = generatedCorpus(lines: 3000, seed: 7)
        var trainer = TokenizerTrainer(modelType: type, vocabSize: vocab)
        trainer.threads = 2
        let path = directory.appendingPathComponent("\(type.rawValue).model").path
        return (try trainer.train(text: corpus, savingTo: path), path)
    }

    func testBPERoundTripIsExactIncludingUnseenCharacters() throws {
        let directory = try makeTemporaryDirectory("tok-bpe")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (tokenizer, _) = try trainModel(.bpe, vocab: 600, in: directory)
        XCTAssertEqual(tokenizer.vocabSize, 600)
        // Identity normalisation + byte fallback: decode(encode(x)) == x byte for byte.
        for line in TokenizerTests.unseenLines + generatedCorpus(lines: 50, seed: 99).split(separator: "\n").map(String.init) {
            let ids = try tokenizer.encode(line)
            XCTAssertFalse(ids.contains(tokenizer.unkID), "byte fallback leaves no unk in \(line)")
            XCTAssertTrue(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabSize })
            XCTAssertEqual(try tokenizer.decode(ids), line)
        }
        // Trained pieces compress: the training text takes fewer tokens than bytes.
        let sample = generatedCorpus(lines: 200, seed: 7)
        let tokens = try sample.split(separator: "\n").reduce(0) { $0 + (try tokenizer.encode(String($1)).count) }
        XCTAssertLessThan(tokens * 3, sample.utf8.count, "BPE should average well over 3 bytes per token here")
    }

    func testUnigramRoundTrip() throws {
        let directory = try makeTemporaryDirectory("tok-uni")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (tokenizer, _) = try trainModel(.unigram, vocab: 500, in: directory)
        XCTAssertEqual(tokenizer.vocabSize, 500)
        for line in TokenizerTests.unseenLines {
            XCTAssertEqual(try tokenizer.decode(try tokenizer.encode(line)), line)
        }
    }

    func testIDsEqualDebianSpmEncode() throws {
        guard let spmEncode = executableOnPath("spm_encode") else {
            print("spm_encode is not on PATH: the comparison with Debian's command is skipped")
            throw XCTSkip("spm_encode not on PATH")
        }
        let directory = try makeTemporaryDirectory("tok-spm")
        defer { try? FileManager.default.removeItem(at: directory) }
        for type in TokenizerTrainer.ModelType.allCases {
            let (tokenizer, path) = try trainModel(type, vocab: 600, in: directory)
            let lines = TokenizerTests.unseenLines + generatedCorpus(lines: 100, seed: 3).split(separator: "\n").map(String.init)
            let reference = try spmEncodeIDs(executable: spmEncode, model: path, text: lines.joined(separator: "\n") + "\n",
                                             directory: directory)
            XCTAssertEqual(reference.count, lines.count)
            for (line, expected) in zip(lines, reference) {
                XCTAssertEqual(try tokenizer.encode(line), expected, "\(type) ids differ from spm_encode for: \(line)")
            }
        }
    }

    func testPieceAndIDLookups() throws {
        let directory = try makeTemporaryDirectory("tok-lookup")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (tokenizer, path) = try trainModel(.bpe, vocab: 600, in: directory)
        // SentencePiece's defaults: unk 0, bos 1, eos 2, no pad; user symbols follow.
        XCTAssertEqual([tokenizer.unkID, tokenizer.bosID, tokenizer.eosID, tokenizer.padID], [0, 1, 2, -1])
        let eot = try XCTUnwrap(tokenizer.id(for: "<|endoftext|>"))
        XCTAssertEqual(tokenizer.piece(for: eot), "<|endoftext|>")
        XCTAssertEqual(tokenizer.endOfTextID, eot)
        XCTAssertEqual(try tokenizer.encode("a<|endoftext|>b").filter { $0 == eot }.count, 1, "user symbol kept whole")
        let newline = try XCTUnwrap(tokenizer.newlineID)
        XCTAssertEqual(try tokenizer.decode([newline]), "\n")
        XCTAssertEqual(tokenizer.piece(for: 0), "<unk>")
        XCTAssertNil(tokenizer.piece(for: Int32(tokenizer.vocabSize)))
        XCTAssertNil(tokenizer.piece(for: -1))
        XCTAssertNil(tokenizer.id(for: "no-such-piece-in-this-vocabulary"))
        XCTAssertEqual(tokenizer.id(for: "<unk>"), 0)
        for id in Int32(0) ..< Int32(tokenizer.vocabSize) {
            XCTAssertEqual(tokenizer.id(for: try XCTUnwrap(tokenizer.piece(for: id))), id)
        }
        // Out-of-range ids are an error, not a crash.
        let error = textDataError { _ = try tokenizer.decode([5, Int32(tokenizer.vocabSize)]) }
        XCTAssertTrue(error?.description.contains("outside the vocabulary") ?? false, "\(String(describing: error))")
        // Loading the same file again gives the same ids.
        let again = try Tokenizer(path: path)
        XCTAssertEqual(try again.encode(TokenizerTests.unseenLines[1]), try tokenizer.encode(TokenizerTests.unseenLines[1]))
    }

    func testSharedTokenizerEncodesConcurrentlyLikeSerially() throws {
        let directory = try makeTemporaryDirectory("tok-par")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (tokenizer, _) = try trainModel(.bpe, vocab: 600, in: directory)
        let lines = generatedCorpus(lines: 2000, seed: 11).split(separator: "\n").map(String.init)
        let serial = try lines.map { try tokenizer.encode($0) }
        final class Results: @unchecked Sendable { var values: [[Int32]?] ; init(_ n: Int) { values = Array(repeating: nil, count: n) } }
        let results = Results(lines.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for index in stride(from: worker, to: lines.count, by: 8) {
                let ids = try? tokenizer.encode(lines[index])
                lock.lock(); results.values[index] = ids; lock.unlock()
            }
        }
        XCTAssertEqual(results.values.map { $0 ?? [] }, serial)
    }

    func testModelThatDoesNotLoadNamesTheFile() throws {
        let directory = try makeTemporaryDirectory("tok-bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        let garbage = directory.appendingPathComponent("garbage.model").path
        try Data("this is not a protobuf model at all \u{1}\u{2}\u{3}".utf8).write(to: URL(fileURLWithPath: garbage))
        let bad = textDataError { _ = try Tokenizer(path: garbage) }
        guard case .tokenizerLoad(let path, _)? = bad else { return XCTFail("wrong error \(String(describing: bad))") }
        XCTAssertEqual(path, garbage)
        XCTAssertTrue(bad!.description.contains(garbage))
        let missing = directory.appendingPathComponent("missing.model").path
        let notFound = textDataError { _ = try Tokenizer(path: missing) }
        XCTAssertTrue(notFound?.description.contains("\(missing)': no such file") ?? false, "\(String(describing: notFound))")
        let empty = directory.appendingPathComponent("empty.model").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertNotNil(textDataError { _ = try Tokenizer(path: empty) })
    }

    func testVocabularyTooSmallNamesTheMinimumAndThatMinimumTrains() throws {
        let corpus = generatedCorpus(lines: 500, seed: 5)
        let error = textDataError { _ = try TokenizerTrainer(modelType: .bpe, vocabSize: 64).trainModel(text: corpus) }
        guard case .vocabSizeTooSmall(let requested, let minimum)? = error else {
            return XCTFail("wrong error \(String(describing: error))")
        }
        XCTAssertEqual(requested, 64)
        // 256 byte pieces + unk/bos/eos + <|endoftext|> + the distinct characters of the text.
        let characters = Set(corpus.replacingOccurrences(of: "\n", with: "").replacingOccurrences(of: " ", with: "").unicodeScalars).count
        XCTAssertEqual(minimum, 256 + 4 + characters + 1, "the +1 is the ▁ meta piece that replaces spaces")
        XCTAssertTrue(error!.description.contains("--vocab-size \(minimum)"))
        XCTAssertEqual(try Tokenizer(modelBytes: try TokenizerTrainer(modelType: .bpe, vocabSize: minimum).trainModel(text: corpus)).vocabSize, minimum)
    }

    func testVocabularyTooLargeForTextOrForUInt16() throws {
        let corpus = "tiny text\nanother tiny line\n"
        let error = textDataError { _ = try TokenizerTrainer(modelType: .bpe, vocabSize: 5000).trainModel(text: corpus) }
        guard case .vocabSizeTooLarge(5000, let maximum, _)? = error else { return XCTFail("wrong error \(String(describing: error))") }
        XCTAssertEqual(try Tokenizer(modelBytes: try TokenizerTrainer(modelType: .bpe, vocabSize: maximum).trainModel(text: corpus)).vocabSize, maximum)
        let tooBig = textDataError { _ = try TokenizerTrainer(vocabSize: 70_000).trainModel(text: corpus) }
        guard case .vocabSizeTooLarge(70_000, 65_535, _)? = tooBig else { return XCTFail("wrong error \(String(describing: tooBig))") }
    }

    func testFlagStringTrainingWritesModelAndVocab() throws {
        let directory = try makeTemporaryDirectory("tok-flags")
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("corpus.txt")
        try generatedCorpus(lines: 1000, seed: 1).write(to: input, atomically: true, encoding: .utf8)
        let prefix = directory.appendingPathComponent("m").path
        try TokenizerTrainer.train(flags: "--input=\(input.path) --model_prefix=\(prefix) --vocab_size=400 "
            + "--model_type=unigram --byte_fallback=true --character_coverage=1.0")
        XCTAssertEqual(try Tokenizer(path: prefix + ".model").vocabSize, 400)
        XCTAssertTrue(FileManager.default.fileExists(atPath: prefix + ".vocab"))
        // The file form takes any path (spaces, commas) since names never pass through a flag string.
        let odd = directory.appendingPathComponent("odd name, with comma.txt")
        try generatedCorpus(lines: 500, seed: 4).write(to: odd, atomically: true, encoding: .utf8)
        let fromFiles = try TokenizerTrainer(modelType: .bpe, vocabSize: 500)
            .train(files: [input.path, odd.path], savingTo: directory.appendingPathComponent("files.model").path)
        XCTAssertEqual(fromFiles.vocabSize, 500)
        XCTAssertEqual(try fromFiles.decode(try fromFiles.encode("naïve 中文 😀")), "naïve 中文 😀")
        let error = textDataError { try TokenizerTrainer.train(flags: "--input=\(directory.path)/missing.txt --model_prefix=\(prefix) --vocab_size=400") }
        XCTAssertTrue(error?.description.contains("missing.txt") ?? false, "\(String(describing: error))")
    }

    func testTrainingIsQuietOnStderrByDefault() throws {
        let directory = try makeTemporaryDirectory("tok-quiet")
        defer { try? FileManager.default.removeItem(at: directory) }
        /// What SentencePiece writes to stderr while training with `logLevel`.
        func stderrDuringTraining(logLevel: Int) throws -> String {
            let capture = directory.appendingPathComponent("stderr-\(logLevel).txt").path
            let fd = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let saved = dup(STDERR_FILENO)
            dup2(fd, STDERR_FILENO)
            var trainer = TokenizerTrainer(modelType: .bpe, vocabSize: 500)
            trainer.logLevel = logLevel
            let model = try? trainer.trainModel(text: generatedCorpus(lines: 800, seed: 2))
            dup2(saved, STDERR_FILENO)
            close(saved)
            close(fd)
            XCTAssertNotNil(model)
            return try String(contentsOfFile: capture, encoding: .utf8)
        }
        let quiet = try stderrDuringTraining(logLevel: 2)
        XCTAssertEqual(quiet, "", "SentencePiece wrote to stderr: \(quiet.prefix(300))")
        // The capture works: at INFO level SentencePiece does log its progress.
        let verbose = try stderrDuringTraining(logLevel: 0)
        XCTAssertTrue(verbose.contains("LOG(INFO)"), "expected SentencePiece INFO lines, got: \(verbose.prefix(300))")
    }
}
