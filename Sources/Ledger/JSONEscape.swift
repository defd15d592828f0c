/// JSON's string escapes (RFC 8259 §7): the one decoder of `\"`, `\n`, `\uXXXX` and surrogate
/// pairs, shared by the event reader (`JSONCursor`) and the server's request-body scanner.
public enum JSONEscape {
    public struct Invalid: Error {
        public let reason: String
    }

    /// Decodes the escape whose backslash is just before `start`, appending its UTF-8 to `utf8`,
    /// and returns the index after it. An unknown escape, bad hex digits, a lone surrogate or
    /// the end of the bytes is `Invalid`.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int, into utf8: inout [UInt8]) throws(Invalid) -> Int {
        var index = start
        guard index < bytes.count else { throw Invalid(reason: "unterminated string") }
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
            var scalar = try hex4(bytes, &index)
            if (0xD800...0xDBFF).contains(scalar) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw Invalid(reason: "a lone surrogate")
                }
                index += 2
                let low = try hex4(bytes, &index)
                guard (0xDC00...0xDFFF).contains(low) else { throw Invalid(reason: "a lone surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw Invalid(reason: "a lone surrogate")
            }
            appendUTF8(scalar, to: &utf8)
        default:
            throw Invalid(reason: "a bad escape")
        }
        return index
    }

    static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, _ index: inout Int) throws(Invalid) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Invalid(reason: "a bad \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw Invalid(reason: "a bad \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// Appends the UTF-8 of a scalar (not a surrogate, at most 0x10FFFF).
    static func appendUTF8(_ scalar: UInt32, to utf8: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            utf8.append(UInt8(scalar))
        case 0x80..<0x800:
            utf8.append(UInt8(0xC0 | scalar >> 6))
            utf8.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            utf8.append(UInt8(0xE0 | scalar >> 12))
            utf8.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            utf8.append(UInt8(0x80 | scalar & 0x3F))
        default:
            utf8.append(UInt8(0xF0 | scalar >> 18))
            utf8.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            utf8.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            utf8.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}
