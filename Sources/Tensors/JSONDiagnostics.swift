// JSONDiagnostics: what Foundation's JSON readers do not say — where in the text a syntax
// error is (line and column from the parser's character offset) and whether an object repeats
// a key (Foundation silently keeps one of them). Run on text that is otherwise valid JSON.
import Foundation

enum JSONDiagnostics {
    /// "line L, column C" of byte `offset` in `bytes` (both 1-based).
    static func position(_ bytes: [UInt8], offset: Int) -> String {
        var line = 1, column = 1
        for b in bytes.prefix(max(0, offset)) {
            if b == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        return "line \(line), column \(column)"
    }

    /// Foundation's complaint about invalid JSON with its position as line and column.
    static func syntaxError(_ data: Data) -> String? {
        do { _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]); return nil } catch let e as NSError {
            let text = e.userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(e)"
            guard let range = text.range(of: #"character \d+"#, options: .regularExpression),
                  let offset = Int(text[range].dropFirst("character ".count)) else { return text }
            return "\(text.replacingOccurrences(of: ".", with: "")) (\(position(Array(data), offset: offset)))"
        }
    }

    /// The first key that an object of valid JSON `data` repeats, with its position.
    static func duplicateKey(_ data: Data) -> String? {
        let b = Array(data)
        var i = 0
        func skipSpace() { while i < b.count, [9, 10, 13, 32].contains(b[i]) { i += 1 } }
        func string() -> String {  // at the opening quote; returns the raw text between quotes
            let start = i + 1
            i += 1
            while i < b.count, b[i] != UInt8(ascii: "\"") { i += b[i] == UInt8(ascii: "\\") ? 2 : 1 }
            defer { i += 1 }
            return String(decoding: b[start..<min(i, b.count)], as: UTF8.self)
        }
        func value() -> String? {
            skipSpace()
            guard i < b.count else { return nil }
            switch b[i] {
            case UInt8(ascii: "{"):
                i += 1
                var seen = Set<String>()
                while true {
                    skipSpace()
                    if i >= b.count || b[i] == UInt8(ascii: "}") { i += 1; return nil }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    let at = i
                    let key = string()
                    if !seen.insert(key).inserted { return "key \"\(key)\" appears twice in one object (again at \(position(b, offset: at)))" }
                    skipSpace()
                    i += 1  // ':'
                    if let found = value() { return found }
                }
            case UInt8(ascii: "["):
                i += 1
                while true {
                    skipSpace()
                    if i >= b.count || b[i] == UInt8(ascii: "]") { i += 1; return nil }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if let found = value() { return found }
                }
            case UInt8(ascii: "\""):
                _ = string()
                return nil
            default:  // number, true, false, null
                while i < b.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 9, 10, 13, 32].contains(b[i]) { i += 1 }
                return nil
            }
        }
        return value()
    }
}
