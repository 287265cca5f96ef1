// Tests of Prepare (the pipeline behind `swift-train prepare`): the three output files, the
// validation part being exactly the text's tail from a line boundary, token streams equal to
// an independent line-by-line encoding, chunking not changing the result, and every error.
import Foundation
import XCTest
import TextData

final class PrepareTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("prepare")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func file(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// Two inputs: paragraphs of generated multilingual text, one with CRLF line ends and a
    /// whitespace-only separator line.
    private func corpus() throws -> [String] {
        let first = generatedCorpus(lines: 900, seed: 1, paragraphEvery: 7)
        var second = generatedCorpus(lines: 500, seed: 2, paragraphEvery: 5).replacingOccurrences(of: "\n", with: "\r\n")
        second = "  \t\r\n" + second
        return [try file("a.txt", first), try file("b.txt", second)]
    }

    /// Independent reference: documents are runs of non-blank lines of one file; lines are
    /// encoded one by one and joined with the newline piece, documents with <|endoftext|>.
    private func documents(_ text: Substring) -> [[String]] {
        var documents: [[String]] = [], current: [String] = []
        // Split on the "\n" scalar: as Characters, "\r\n" is one grapheme and would not split.
        for raw in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            var scalars = String.UnicodeScalarView(raw)
            if scalars.last == "\r" { scalars.removeLast() }
            let line = String(scalars)
            if line.unicodeScalars.allSatisfy({ $0 == " " || $0 == "\t" }) {
                if !current.isEmpty { documents.append(current); current = [] }
            } else {
                current.append(line)
            }
        }
        if !current.isEmpty { documents.append(current) }
        return documents
    }

    private func expectedTokens(_ documents: [[String]], _ tokenizer: Tokenizer) throws -> [Int32] {
        let eot = try XCTUnwrap(tokenizer.id(for: "<|endoftext|>"))
        let newline = try XCTUnwrap(tokenizer.id(for: "<0x0A>"))
        var tokens: [Int32] = []
        for (d, document) in documents.enumerated() {
            if d > 0 { tokens.append(eot) }
            for (l, line) in document.enumerated() {
                if l > 0 { tokens.append(newline) }
                tokens += try tokenizer.encode(line)
            }
        }
        return tokens
    }

    /// Splits the concatenated inputs at the first line start at or after code point
    /// ⌊(1 − f)·total⌋, returning (train text per file, validation text per file).
    private func split(_ texts: [String], fraction: Double) -> (train: [Substring], val: [Substring]) {
        let total = texts.reduce(0) { $0 + $1.unicodeScalars.count }
        let target = Int((Double(total) * (1 - fraction)).rounded(.down))
        var before = 0
        for (index, text) in texts.enumerated() {
            var offset = 0
            var lineStart = text.unicodeScalars.startIndex
            for scalarIndex in text.unicodeScalars.indices {
                if before + offset >= target && scalarIndex == lineStart {
                    let head = text.unicodeScalars[..<scalarIndex], tail = text.unicodeScalars[scalarIndex...]
                    return (texts[..<index].map { Substring($0) } + [Substring(head)],
                            [Substring(tail)] + texts[(index + 1)...].map { Substring($0) })
                }
                if text.unicodeScalars[scalarIndex] == "\n" { lineStart = text.unicodeScalars.index(after: scalarIndex) }
                offset += 1
            }
            before += offset
        }
        return (texts.map { Substring($0) }, [])
    }

    func testPrepareWritesShardsWhoseValidationPartIsTheTextTail() throws {
        let inputs = try corpus()
        let out = directory.appendingPathComponent("out").path
        var options = PrepareOptions(inputs: inputs, outputDirectory: out)
        options.vocabSize = 700
        options.valFraction = 0.1
        options.showProgress = false
        let stats = try Prepare.run(options)
        XCTAssertEqual(directoryListing(URL(fileURLWithPath: out)), ["tokenizer.model", "train.bin", "val.bin"])

        let texts = try inputs.map { try String(contentsOfFile: $0, encoding: .utf8) }
        let tokenizer = try Tokenizer(path: stats.tokenizerPath)
        XCTAssertEqual(tokenizer.vocabSize, 700)
        let (trainText, valText) = split(texts, fraction: 0.1)
        let trainDocuments = trainText.flatMap(documents), valDocuments = valText.flatMap(documents)
        let train = try TokenShard(path: stats.trainPath), val = try TokenShard(path: stats.valPath)
        XCTAssertEqual(train.tokens, try expectedTokens(trainDocuments, tokenizer))
        XCTAssertEqual(val.tokens, try expectedTokens(valDocuments, tokenizer))

        // Counts add up.
        XCTAssertEqual(stats.trainTokens, train.count)
        XCTAssertEqual(stats.valTokens, val.count)
        XCTAssertEqual(stats.inputFiles, 2)
        XCTAssertEqual(stats.bytes, texts.reduce(0) { $0 + $1.utf8.count })
        XCTAssertEqual(stats.characters, texts.reduce(0) { $0 + $1.unicodeScalars.count })
        XCTAssertEqual(stats.trainCharacters, trainText.reduce(0) { $0 + $1.unicodeScalars.count })
        XCTAssertEqual(stats.trainCharacters + stats.valCharacters, stats.characters)
        XCTAssertEqual(stats.documents, texts.reduce(0) { $0 + documents(Substring($1)).count })
        XCTAssertEqual(stats.documents, 900 / 7 + 1 + 500 / 5)
        XCTAssertEqual(stats.trainDocuments, trainDocuments.count)
        XCTAssertEqual(stats.valDocuments, valDocuments.count)
        // The validation part holds about 10 % of the characters (cut at the next line start,
        // so at most one line, < 200 characters, more than 10 %).
        let share = Double(stats.valCharacters) / Double(stats.characters)
        XCTAssertLessThanOrEqual(share, 0.1)
        XCTAssertGreaterThan(Double(stats.valCharacters + 200), 0.1 * Double(stats.characters))
        XCTAssertTrue(stats.tokenizerTrained)
        XCTAssertGreaterThan(stats.encodeMBPerSecond, 0)
    }

    func testChunkingAndAGivenTokenizerGiveIdenticalFiles() throws {
        let inputs = [try file("big.txt", generatedCorpus(lines: 4000, seed: 9, paragraphEvery: 13))]
        var options = PrepareOptions(inputs: inputs, outputDirectory: directory.appendingPathComponent("one").path)
        options.vocabSize = 600
        options.chunksPerCore = 1
        options.showProgress = false
        let first = try Prepare.run(options)
        // Many small chunks (16 KiB, cut mid-paragraph) with the tokenizer just trained.
        options.outputDirectory = directory.appendingPathComponent("many").path
        options.tokenizerPath = first.tokenizerPath
        options.chunksPerCore = 64
        let second = try Prepare.run(options)
        XCTAssertFalse(second.tokenizerTrained)
        for name in ["tokenizer.model", "train.bin", "val.bin"] {
            let a = try Data(contentsOf: directory.appendingPathComponent("one/\(name)"))
            let b = try Data(contentsOf: directory.appendingPathComponent("many/\(name)"))
            XCTAssertEqual(a, b, "\(name) differs between chunkings")
        }
        XCTAssertEqual(first.trainTokens, second.trainTokens)
    }

    /// Runs a failing prepare into a fresh folder; checks nothing was left there.
    private func failure(_ configure: (inout PrepareOptions) -> Void, inputs: [String]) -> TextDataError? {
        let out = directory.appendingPathComponent("fail-\(UUID().uuidString)")
        var options = PrepareOptions(inputs: inputs, outputDirectory: out.path)
        options.showProgress = false
        configure(&options)
        let error = textDataError { _ = try Prepare.run(options) }
        XCTAssertEqual(directoryListing(out), [], "nothing left behind after: \(String(describing: error))")
        return error
    }

    func testInputErrors() throws {
        let missing = directory.appendingPathComponent("missing.txt").path
        let noFile = failure({ _ in }, inputs: [missing])
        XCTAssertEqual(noFile, .input(path: missing, problem: "no such file"))

        let empty = try file("empty.txt", "")
        XCTAssertTrue(failure({ _ in }, inputs: [empty])?.description.contains("'\(empty)': the file is empty") ?? false)
        let blank = try file("blank.txt", "\n   \n\t\n")
        XCTAssertTrue(failure({ _ in }, inputs: [blank])?.description.contains("only blank lines") ?? false)

        let shard = directory.appendingPathComponent("tokens.bin").path
        try TokenShard.write([Int32](repeating: 1, count: 100), to: shard)
        XCTAssertTrue(failure({ _ in }, inputs: [shard])?.description.contains("binary file") ?? false)

        let oneLine = try file("one.txt", "a single line without any line break")
        XCTAssertTrue(failure({ _ in }, inputs: [oneLine])?.description.contains("single line") ?? false)
        XCTAssertNotNil(failure({ _ in }, inputs: []))
        let good = try corpus()
        XCTAssertTrue(failure({ $0.valFraction = 0 }, inputs: good)?.description.contains("--val-fraction") ?? false)
        XCTAssertTrue(failure({ $0.valFraction = 1 }, inputs: good)?.description.contains("--val-fraction") ?? false)
    }

    func testVocabularyAndTokenizerErrors() throws {
        let inputs = try corpus()
        let tooLarge = failure({ $0.vocabSize = 70_000 }, inputs: inputs)
        guard case .vocabSizeTooLarge(70_000, 65_535, _)? = tooLarge else { return XCTFail("\(String(describing: tooLarge))") }
        XCTAssertTrue(tooLarge!.description.contains("--vocab-size 65535 or less"))

        let tooSmall = failure({ $0.vocabSize = 100 }, inputs: inputs)
        guard case .vocabSizeTooSmall(100, let minimum)? = tooSmall else { return XCTFail("\(String(describing: tooSmall))") }
        XCTAssertGreaterThan(minimum, 256)
        XCTAssertTrue(tooSmall!.description.contains("--vocab-size \(minimum) or more"))

        let badModel = try file("bad.model", "not a model")
        let load = failure({ $0.tokenizerPath = badModel }, inputs: inputs)
        guard case .tokenizerLoad(badModel, _)? = load else { return XCTFail("\(String(describing: load))") }
    }

    func testUnwritableOutputAndFailedRunKeepsPreviousFiles() throws {
        let inputs = try corpus()
        let blocker = try file("not-a-folder", "x")
        var options = PrepareOptions(inputs: inputs, outputDirectory: blocker + "/out")
        options.showProgress = false
        let error = textDataError { _ = try Prepare.run(options) }
        guard case .output(let path, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(path, blocker + "/out")
        options.outputDirectory = blocker
        XCTAssertTrue(textDataError { _ = try Prepare.run(options) }?.description.contains("not a folder") ?? false)

        // A good run, then a failing run into the same folder: the good files stay intact.
        let out = directory.appendingPathComponent("kept")
        options.outputDirectory = out.path
        options.vocabSize = 600
        _ = try Prepare.run(options)
        let before = try Data(contentsOf: out.appendingPathComponent("train.bin"))
        options.vocabSize = 100
        XCTAssertNotNil(textDataError { _ = try Prepare.run(options) })
        XCTAssertEqual(directoryListing(out), ["tokenizer.model", "train.bin", "val.bin"], "no temporary files")
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("train.bin")), before)

        // A damaged shard is reported by name when it is opened.
        var damaged = before
        damaged[0] = 0x00
        try damaged.write(to: out.appendingPathComponent("train.bin"))
        let opened = textDataError { _ = try TokenShard(path: out.appendingPathComponent("train.bin").path) }
        XCTAssertTrue(opened?.description.contains("train.bin': wrong magic") ?? false, "\(String(describing: opened))")
    }
}
