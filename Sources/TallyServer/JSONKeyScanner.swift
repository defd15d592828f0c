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
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0
    private(set) var paths: Set<String> = []
    /// Deeper than any body of the API; refused rather than recursing without bound.
    static let depthMax = 64

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The key paths of `body`, which must be one JSON object; throws `Malformed` for anything
    /// that is not valid JSON.
    static func keyPaths(of body: [UInt8]) throws(Malformed) -> (isObject: Bool, paths: Set<String>) {
        let result: Result<(Bool, Set<String>), Malformed> = body.withUnsafeBufferPointer { buffer in
            var scanner = JSONKeyScanner(bytes: buffer)
            do throws(Malformed) {
                scanner.skipWhitespace()
                let isObject = scanner.index < buffer.count && buffer[scanner.index] == UInt8(ascii: "{")
                try scanner.value(path: "")
                scanner.skipWhitespace()
                guard scanner.index == buffer.count else { throw Malformed(reason: "content after the JSON value") }
                return .success((isObject, scanner.paths))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func value(path: String) throws(Malformed) {
        skipWhitespace()
        guard index < bytes.count else { throw Malformed(reason: "unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try object(path: path)
        case UInt8(ascii: "["): try array(path: path)
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try number()
        }
    }

    private mutating func enter() throws(Malformed) {
        depth += 1
        guard depth <= Self.depthMax else { throw Malformed(reason: "nested too deeply") }
        index += 1
    }

    private mutating func object(path: String) throws(Malformed) {
        try enter()
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Malformed(reason: "expected a key") }
            let key = try string()
            let keyPath = path.isEmpty ? key : path + "." + key
            paths.insert(keyPath)
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw Malformed(reason: "expected ':'") }
            index += 1
            try value(path: keyPath)
            skipWhitespace()
            guard index < bytes.count else { throw Malformed(reason: "unexpected end") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            guard bytes[index] == UInt8(ascii: "}") else { throw Malformed(reason: "expected ',' or '}'") }
            index += 1
            depth -= 1
            return
        }
    }

    private mutating func array(path: String) throws(Malformed) {
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
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            guard bytes[index] == UInt8(ascii: "]") else { throw Malformed(reason: "expected ',' or ']'") }
            index += 1
            depth -= 1
            return
        }
    }

    private mutating func literal(_ word: StaticString) throws(Malformed) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw Malformed(reason: "unexpected end") }
        let matches = word.withUTF8Buffer { expected in (0..<count).allSatisfy { bytes[index + $0] == expected[$0] } }
        guard matches else { throw Malformed(reason: "bad literal") }
        index += count
    }

    private mutating func digits() -> Int {
        let start = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(Malformed) {
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw Malformed(reason: "unexpected end") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits() > 0 else { throw Malformed(reason: "not a value") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw Malformed(reason: "a fraction needs digits") }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw Malformed(reason: "an exponent needs digits") }
        }
    }

    /// A string's text: escapes resolved, UTF-8 checked, no raw control characters.
    private mutating func string() throws(Malformed) -> String {
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
                guard index < bytes.count else { throw Malformed(reason: "unterminated string") }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw Malformed(reason: "a lone surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw Malformed(reason: "a lone surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw Malformed(reason: "a lone surrogate")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw Malformed(reason: "not a Unicode scalar") }
                    utf8.append(contentsOf: String(Character(unicode)).utf8)
                default:
                    throw Malformed(reason: "bad escape")
                }
            default:
                guard byte >= 0x20 else { throw Malformed(reason: "a control character in a string") }
                utf8.append(byte)
            }
        }
    }

    private mutating func hex4() throws(Malformed) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Malformed(reason: "unexpected end") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw Malformed(reason: "bad \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}
