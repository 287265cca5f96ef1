// Shared test support for the TextData tests: temporary folders, a generated multilingual corpus,
// and running the Debian `spm_encode` command for reference ids.
import Foundation
import XCTest
import TextData

/// A fresh folder under the system temporary directory, removed by the returned closure.
func makeTemporaryDirectory(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("textdata-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Deterministic pseudo-random text: `lines` lines of 4–14 words. Words come from a fixed
/// list (English, accented Latin, CJK, emoji, digits) and from a lexicon of 800 made-up words
/// of 1–4 syllables, drawn with a skewed (Zipf-like) frequency so BPE has merges to learn.
/// `paragraphEvery` > 0 inserts a blank line after every that-many lines.
func generatedCorpus(lines: Int, seed: UInt64, paragraphEvery: Int = 0) -> String {
    let fixed = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "then",
                 "café", "naïve", "über", "Straße", "façade", "crème", "brûlée", "jalapeño", "résumé",
                 "中文", "汉字", "学习", "东京", "😀", "🚀", "🎉", "42", "2024", "x7"]
    let syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "pe", "dor", "lan", "qui", "zen", "bra",
                     "tha", "ing", "er", "st", "ou", "ch", "é", "ü", "ø", "中", "文", "ña"]
    var state = seed
    func next() -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int(truncatingIfNeeded: state >> 33)
    }
    var lexicon = fixed
    var lexiconState: UInt64 = 0x5EED
    func lexiconNext() -> Int {
        lexiconState = lexiconState &* 6364136223846793005 &+ 1442695040888963407
        return Int(truncatingIfNeeded: lexiconState >> 33)
    }
    for _ in 0 ..< 800 {
        lexicon.append((0 ..< 1 + lexiconNext() % 4).map { _ in syllables[lexiconNext() % syllables.count] }.joined())
    }
    var text = ""
    for line in 0 ..< lines {
        let count = 4 + next() % 11
        text += (0 ..< count).map { _ in
            // min of two uniform draws: small indices (frequent words) are more likely.
            lexicon[min(next() % lexicon.count, next() % lexicon.count)]
        }.joined(separator: " ")
        text += ".\n"
        if paragraphEvery > 0 && (line + 1) % paragraphEvery == 0 { text += "\n" }
    }
    return text
}

/// Path of an executable on PATH, or nil.
func executableOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Runs `spm_encode --model M --output_format=id` on `text` (one line per sentence) and
/// returns the ids of each line.
func spmEncodeIDs(executable: String, model: String, text: String, directory: URL) throws -> [[Int32]] {
    let input = directory.appendingPathComponent("spm-input.txt")
    try text.write(to: input, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = ["--model", model, "--output_format=id"]
    process.standardInput = try FileHandle(forReadingFrom: input)
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0, "spm_encode failed")
    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    return lines.dropLast(lines.last == "" ? 1 : 0).map { line in
        line.split(separator: " ").compactMap { Int32($0) }
    }
}

/// The error's description, or a failure when `body` does not throw a TextDataError.
func textDataError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> TextDataError? {
    do {
        try body()
        XCTFail("expected a TextDataError", file: file, line: line)
        return nil
    } catch let error as TextDataError {
        return error
    } catch {
        XCTFail("expected a TextDataError, got \(error)", file: file, line: line)
        return nil
    }
}

/// Files (including hidden ones) in a folder, sorted.
func directoryListing(_ url: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
}
