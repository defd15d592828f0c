import Ledger

/// A strict JSON syntax check (RFC 8259) over a request body that also collects the body's key
/// paths (`inline.access.views`; array elements as `[]`), without building the value.
///
/// `RequestBodies.decode` used to parse every body twice, with `JSONSerialization` (for the
/// syntax and the keys sent) and with `JSONDecoder` (for the value): on the purchase route the
/// first parse cost as much as the second. The scan answers the first question alone; the
/// `JSONSerialization` tree is built only when a body sends a key path not seen before for its
/// type (to find the unknown field by reflection, once).
struct JSONKeyScanner {
    struct Malformed: Error {
        let reason: String
        /// The key path of a member named twice in one object (RFC 8259 leaves such a body's
        /// meaning to the parser, so it is refused rather than read one way or the other).
        var duplicate: String? = nil
    }

    fileprivate let bytes: UnsafeBufferPointer<UInt8>
    fileprivate var index = 0
    fileprivate var depth = 0
    private(set) var paths: Set<String> = []
    /// The first number that is not a plain integer of 64 bits (a fraction, an exponent, or
    /// beyond Int64 and UInt64), with its path: no field of the API takes one.
    private(set) var nonInteger: (path: String, text: String)?
    /// The first plain integer beyond Int64 (only a UInt64 field can take it).
    private(set) var beyondInt64: (path: String, text: String)?
    /// The first negative integer (no UInt64 field can take it).
    private(set) var negative: (path: String, text: String)?
    /// Deeper than any body of the API; refused rather than recursing without bound.
    static let depthMax = 64

    fileprivate init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// What a scan found: whether the body is an object, its key paths, and the first number
    /// that is not a plain 64-bit integer and the first beyond Int64, each with its path.
    struct Scan {
        var isObject: Bool
        var paths: Set<String>
        var nonInteger: (path: String, text: String)?
        var beyondInt64: (path: String, text: String)?
        var negative: (path: String, text: String)? = nil
    }

    /// Scans `body`, which must be one JSON object; throws `Malformed` for anything that is not
    /// valid JSON.
    static func scan(_ body: [UInt8]) throws(Malformed) -> Scan {
        let result: Result<Scan, Malformed> = body.withUnsafeBufferPointer { buffer in
            var scanner = JSONKeyScanner(bytes: buffer)
            do throws(Malformed) {
                scanner.skipWhitespace()
                let isObject = scanner.index < buffer.count && buffer[scanner.index] == UInt8(ascii: "{")
                try scanner.value(path: "")
                scanner.skipWhitespace()
                guard scanner.index == buffer.count else { throw Malformed(reason: "content after the JSON value") }
                return .success(Scan(
                    isObject: isObject, paths: scanner.paths, nonInteger: scanner.nonInteger, beyondInt64: scanner.beyondInt64,
                    negative: scanner.negative))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    fileprivate mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    fileprivate mutating func value(path: String) throws(Malformed) {
        skipWhitespace()
        guard index < bytes.count else { throw Malformed(reason: "unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try object(path: path)
        case UInt8(ascii: "["): try array(path: path)
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            let start = index
            let kind = try number()
            func text() -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self) }
            switch kind {
            case .int64: if negative == nil, bytes[start] == UInt8(ascii: "-") { negative = (path, text()) }
            case .uint64: if beyondInt64 == nil { beyondInt64 = (path, text()) }
            case .other: if nonInteger == nil { nonInteger = (path, text()) }
            }
        }
    }

    fileprivate mutating func enter() throws(Malformed) {
        depth += 1
        guard depth <= Self.depthMax else { throw Malformed(reason: "nested too deeply") }
        index += 1
    }

    fileprivate mutating func object(path: String) throws(Malformed) {
        try enter()
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return
        }
        var seen: [String] = []
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Malformed(reason: "expected a key") }
            let key = try string()
            let keyPath = path.isEmpty ? key : path + "." + key
            guard !seen.contains(key) else {
                throw Malformed(reason: "the member \(keyPath) appears more than once", duplicate: keyPath)
            }
            seen.append(key)
            paths.insert(keyPath)
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw Malformed(reason: "expected ':'") }
            index += 1
            try value(path: keyPath)
            skipWhitespace()
            guard index < bytes.count else { throw Malformed(reason: "unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                try refuseTrailingComma(before: UInt8(ascii: "}"))
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw Malformed(reason: "expected ',' or '}'") }
            index += 1
            depth -= 1
            return
        }
    }

    fileprivate mutating func array(path: String) throws(Malformed) {
        try enter()
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return
        }
        let elementPath = path + "[]"
        while true {
            try value(path: elementPath)
            skipWhitespace()
            guard index < bytes.count else { throw Malformed(reason: "unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                try refuseTrailingComma(before: UInt8(ascii: "]"))
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw Malformed(reason: "expected ',' or ']'") }
            index += 1
            depth -= 1
            return
        }
    }

    /// RFC 8259 has no trailing comma (Foundation's parser accepts one): named as such.
    fileprivate mutating func refuseTrailingComma(before close: UInt8) throws(Malformed) {
        skipWhitespace()
        if index < bytes.count, bytes[index] == close {
            throw Malformed(reason: "a trailing comma before '\(Character(Unicode.Scalar(close)))' at byte \(index)")
        }
    }

    fileprivate mutating func literal(_ word: StaticString) throws(Malformed) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw Malformed(reason: "unexpected end") }
        let matches = word.withUTF8Buffer { expected in (0..<count).allSatisfy { bytes[index + $0] == expected[$0] } }
        guard matches else { throw Malformed(reason: "bad literal") }
        index += count
    }

    fileprivate mutating func digits() -> Int {
        let start = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    /// What a number is: a plain integer (no fraction, no exponent) within Int64, one within
    /// UInt64 only, or anything else.
    enum NumberKind { case int64, uint64, other }

    fileprivate mutating func number() throws(Malformed) -> NumberKind {
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < bytes.count else { throw Malformed(reason: "unexpected end") }
        let integerStart = index
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits() > 0 else { throw Malformed(reason: "not a value") }
        }
        var kind = Self.kind(UnsafeBufferPointer(rebasing: bytes[integerStart..<index]), negative: negative)
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw Malformed(reason: "a fraction needs digits") }
            kind = .other
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw Malformed(reason: "an exponent needs digits") }
            kind = .other
        }
        return kind
    }

    /// Which 64-bit integers hold decimal `digits` (negated with `negative`).
    static func kind(_ digits: UnsafeBufferPointer<UInt8>, negative: Bool) -> NumberKind {
        var value: UInt64 = 0
        for digit in digits {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit &- UInt8(ascii: "0")))
            if overflow1 || overflow2 { return .other }
            value = sum
        }
        if negative { return value <= UInt64(Int64.max) + 1 ? .int64 : .other }
        return value <= UInt64(Int64.max) ? .int64 : .uint64
    }

    /// A string's text: escapes resolved, UTF-8 checked, no raw control characters.
    fileprivate mutating func string() throws(Malformed) -> String {
        index += 1
        var utf8: [UInt8] = []
        while true {
            guard index < bytes.count else { throw Malformed(reason: "unterminated string") }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: utf8, as: UTF8.self) else { throw Malformed(reason: "invalid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                do {
                    index = try JSONEscape.decode(bytes, at: index, into: &utf8)
                } catch {
                    throw Malformed(reason: error.reason)
                }
            default:
                guard byte >= 0x20 else { throw Malformed(reason: "a control character in a string") }
                utf8.append(byte)
            }
        }
    }
}

/// A request body with a hand-written reader for its hot route. `fastDecode` answers only a
/// body it understands completely (valid JSON, known keys each at most once, the right types,
/// integers written plainly, every required field present); for anything else it answers nil
/// and `RequestBodies.decode` decides, with its precise error. So the fast path can only
/// decline, never disagree (tested against the generic path).
protocol FastDecodable {
    static func fastDecode(_ body: [UInt8]) -> Self?
}

/// The typed reads of the fast path: each returns nil for anything it does not expect.
extension JSONKeyScanner {
    static func reading<T>(_ body: [UInt8], _ read: (inout JSONKeyScanner) throws(Malformed) -> T?) -> T? {
        body.withUnsafeBufferPointer { buffer in
            var scanner = JSONKeyScanner(bytes: buffer)
            guard let value = try? read(&scanner) else { return nil }
            scanner.skipWhitespace()
            return scanner.index == buffer.count ? value : nil
        }
    }

    fileprivate mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    /// `null`, consumed; false (nothing consumed) for anything else.
    mutating func null() throws(Malformed) -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    mutating func text() throws(Malformed) -> String? {
        guard peek() == UInt8(ascii: "\"") else { return nil }
        return try string()
    }

    /// A plain integer (`-?(0|[1-9][0-9]*)`, no fraction or exponent) within Int64.
    mutating func int64() -> Int64? {
        guard let first = peek() else { return nil }
        let negative = first == UInt8(ascii: "-")
        if negative { index += 1 }
        let start = index
        guard digits() > 0, index - start <= 19, bytes[start] != UInt8(ascii: "0") || index - start == 1 else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] | 0x20 == UInt8(ascii: "e") { return nil }
        var magnitude: UInt64 = 0
        for position in start..<index { magnitude = magnitude * 10 + UInt64(bytes[position] - UInt8(ascii: "0")) }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// A plain non-negative integer within UInt64.
    mutating func uint64() -> UInt64? {
        guard let first = peek(), first != UInt8(ascii: "-") else { return nil }
        let start = index
        guard digits() > 0, index - start <= 20, bytes[start] != UInt8(ascii: "0") || index - start == 1 else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] | 0x20 == UInt8(ascii: "e") { return nil }
        var value: UInt64 = 0
        for position in start..<index {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = times.addingReportingOverflow(UInt64(bytes[position] - UInt8(ascii: "0")))
            if overflow || overflowSum { return nil }
            value = sum
        }
        return value
    }

    /// The members of an object, each key offered to `member` (which reads its value and
    /// returns false for a key it does not know). A repeated key is refused.
    mutating func members(_ member: (inout JSONKeyScanner, String) throws(Malformed) -> Bool) throws(Malformed) -> Bool {
        guard peek() == UInt8(ascii: "{") else { return false }
        try enter()
        var seen: [String] = []
        if peek() == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return true
        }
        while true {
            guard let key = try text(), !seen.contains(key) else { return false }
            seen.append(key)
            guard peek() == UInt8(ascii: ":") else { return false }
            index += 1
            guard try member(&self, key) else { return false }
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                return true
            default: return false
            }
        }
    }

    /// The elements of an array, each read by `element` (false: not understood).
    mutating func elements(_ element: (inout JSONKeyScanner) throws(Malformed) -> Bool) throws(Malformed) -> Bool {
        guard peek() == UInt8(ascii: "[") else { return false }
        try enter()
        if peek() == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return true
        }
        while true {
            guard try element(&self) else { return false }
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                depth -= 1
                return true
            default: return false
            }
        }
    }

    /// An optional member's value: `null` is nil (`.some(nil)`), a value read by `read`, and
    /// nil when neither.
    mutating func optional<T>(_ read: (inout JSONKeyScanner) throws(Malformed) -> T?) throws(Malformed) -> T?? {
        if try null() { return .some(nil) }
        guard let value = try read(&self) else { return nil }
        return .some(value)
    }
}

extension JSONKeyScanner {
    mutating func optionalInt() -> Int?? {
        guard let value = try? optional({ s throws(Malformed) in s.int64().flatMap { Int(exactly: $0) } }) else { return nil }
        return value
    }
}
