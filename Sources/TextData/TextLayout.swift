// TextLayout: byte-level scanning of mapped UTF-8 input for `prepare`: line and document
// boundaries, code-point counts, the train/validation split point, and the cutting of the
// text into line-aligned encode units. Documents are runs of non-blank lines within one file.
import Foundation

/// A blank line is empty or holds only spaces, tabs and a trailing "\r".
@inline(__always)
func isBlankLine(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
    for i in range {
        let b = bytes[i]
        if b != 0x20 && b != 0x09 && b != 0x0D { return false }
    }
    return true
}

/// End of the line starting at `start` (index of its "\n", or `end`).
@inline(__always)
func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int, end: Int) -> Int {
    guard start < end, let base = bytes.baseAddress else { return end }
    guard let hit = memchr(base + start, 0x0A, end - start) else { return end }
    return base.distance(to: UnsafeRawPointer(hit))
}

/// Calls `visit(lineRange)` for each line in `range` (line ranges exclude the "\n").
@inline(__always)
func forEachLine(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>, _ visit: (Range<Int>) -> Void) {
    var start = range.lowerBound
    while start < range.upperBound {
        let end = lineEnd(bytes, from: start, end: range.upperBound)
        visit(start ..< end)
        start = end + 1
    }
}

/// Number of Unicode code points in UTF-8 bytes (bytes that are not continuation bytes).
func codePointCount(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> Int {
    var count = 0
    for i in range where bytes[i] & 0xC0 != 0x80 { count += 1 }
    return count
}

/// Number of documents (runs of non-blank lines) in `range`.
func documentCount(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> Int {
    var documents = 0
    var inDocument = false
    forEachLine(bytes, in: range) { line in
        let blank = isBlankLine(bytes, line)
        if !blank && !inDocument { documents += 1 }
        inDocument = !blank
    }
    return documents
}

/// A position in the concatenation of the input files.
struct TextPosition: Equatable {
    var file: Int
    var offset: Int
}

/// Where the validation part starts: the first line boundary at or after the code point
/// `(1 − fraction)·total` of the concatenated inputs (or, if none follows, the last one
/// before it). Returns nil when the text has no usable line boundary.
func validationSplit(files: [UnsafeRawBufferPointer], codePoints: [Int], fraction: Double) -> TextPosition? {
    let total = codePoints.reduce(0, +)
    var remaining = Int((Double(total) * (1 - fraction)).rounded(.down))
    var target = TextPosition(file: files.count - 1, offset: files.last?.count ?? 0)
    for (index, bytes) in files.enumerated() {
        if remaining < codePoints[index] {
            var offset = 0
            var seen = 0
            while offset < bytes.count {
                if bytes[offset] & 0xC0 != 0x80 {
                    if seen == remaining { break }
                    seen += 1
                }
                offset += 1
            }
            target = TextPosition(file: index, offset: offset)
            break
        }
        remaining -= codePoints[index]
    }
    // The first line start at or after the target (file starts are line starts) that leaves
    // a non-empty train part; else the last line start before it.
    func isLineStart(_ p: TextPosition) -> Bool { p.offset == 0 || files[p.file][p.offset - 1] == 0x0A }
    if target != TextPosition(file: 0, offset: 0), target.offset < files[target.file].count, isLineStart(target) {
        return target
    }
    let bytes = files[target.file]
    let end = lineEnd(bytes, from: target.offset, end: bytes.count)
    if end + 1 < bytes.count { return TextPosition(file: target.file, offset: end + 1) }
    if target.file + 1 < files.count { return TextPosition(file: target.file + 1, offset: 0) }
    var i = min(target.offset, bytes.count) - 1
    while i > 0 {
        if bytes[i - 1] == 0x0A { return TextPosition(file: target.file, offset: i) }
        i -= 1
    }
    return target.file > 0 ? TextPosition(file: target.file, offset: 0) : nil
}

/// A line-aligned slice of one input file, encoded as one task.
struct EncodeUnit {
    enum Side { case train, validation }
    var side: Side
    var file: Int
    var range: Range<Int>
    /// First unit of its file slice: a document boundary comes before it.
    var startsSlice: Bool
}

/// What encoding one unit produced: one token fragment per run of non-blank lines.
struct EncodedUnit {
    var fragments: [[UInt16]] = []
    /// A document boundary comes before the first fragment (slice start or leading blank line).
    var breakBefore = false
    /// The unit ended with a blank line, so the next text starts a new document.
    var breakAfter = false
    var bytes = 0
}

/// Cuts `range` of `bytes` into units of about `chunkBytes`, each ending after a "\n".
func makeUnits(side: EncodeUnit.Side, file: Int, bytes: UnsafeRawBufferPointer, range: Range<Int>,
               chunkBytes: Int) -> [EncodeUnit] {
    var units: [EncodeUnit] = []
    var start = range.lowerBound
    while start < range.upperBound {
        var end = min(start + chunkBytes, range.upperBound)
        if end < range.upperBound {
            end = min(lineEnd(bytes, from: end, end: range.upperBound) + 1, range.upperBound)
        }
        units.append(EncodeUnit(side: side, file: file, range: start ..< end, startsSlice: start == range.lowerBound))
        start = end
    }
    return units
}

/// Encodes one unit: each run of non-blank lines becomes one fragment (lines joined by
/// `lineSeparator` when given).
func encodeUnit(_ unit: EncodeUnit, bytes: UnsafeRawBufferPointer, tokenizer: Tokenizer,
                lineSeparator: Int32?) throws -> EncodedUnit {
    var result = EncodedUnit()
    result.breakBefore = unit.startsSlice
    result.bytes = unit.range.count
    var runStart: Int?
    var runEnd = unit.range.lowerBound
    var firstLine = true
    var failure: Error?
    func flush() {
        guard let start = runStart, failure == nil else { return }
        do {
            let ids = try tokenizer.encodeLines(utf8: UnsafeRawBufferPointer(rebasing: bytes[start ..< runEnd]),
                                                separator: lineSeparator)
            result.fragments.append(ids.map { UInt16(truncatingIfNeeded: $0) })
        } catch {
            failure = error
        }
        runStart = nil
    }
    forEachLine(bytes, in: unit.range) { line in
        let blank = isBlankLine(bytes, line)
        if blank {
            flush()
            if firstLine { result.breakBefore = true }
        } else {
            if runStart == nil { runStart = line.lowerBound }
            runEnd = line.upperBound
        }
        result.breakAfter = blank
        firstLine = false
    }
    flush()
    if let failure { throw failure }
    return result
}

/// Joins encoded units into one token stream: `endOfText` between documents, `lineSeparator`
/// (if any) where a document continues across units. Returns the tokens and document count.
func joinUnits(_ units: [EncodedUnit], endOfText: UInt16?, lineSeparator: UInt16?) -> (tokens: [UInt16], documents: Int) {
    var tokens: [UInt16] = []
    tokens.reserveCapacity(units.reduce(0) { $0 + $1.fragments.reduce(0) { $0 + $1.count + 1 } })
    var documents = 0
    var pendingBreak = true
    for unit in units {
        if unit.breakBefore { pendingBreak = true }
        for (index, fragment) in unit.fragments.enumerated() {
            if index > 0 { pendingBreak = true }
            if documents > 0 {
                if pendingBreak {
                    if let endOfText { tokens.append(endOfText) }
                } else if let lineSeparator {
                    tokens.append(lineSeparator)
                }
            }
            if pendingBreak || documents == 0 { documents += 1 }
            tokens.append(contentsOf: fragment)
            pendingBreak = false
        }
        if unit.breakAfter { pendingBreak = true }
    }
    return (tokens, documents)
}
