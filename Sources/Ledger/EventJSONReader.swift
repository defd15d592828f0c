// Hand-written decoding for the hot event types (`PurchaseCaptured`, `PurchaseAuthorized`), the
// reading side of EventJSON.swift. Foundation's `JSONDecoder` took most of the time of every
// reader of the journal (the read models' fold, replay, the full audit): they decode every
// purchase.
//
// The reader is strict and never guesses: anything it does not fully understand (a number with
// a fraction or exponent, a duplicate key, invalid UTF-8, a value of the wrong type, a posting
// that breaks the posting rules) is an error, and `LedgerEvent(typeName:payload:)` then falls
// back to `JSONDecoder`, which gives the authoritative answer (and its error). So the two paths
// can only differ by the fast one declining; `LedgerCodecTests` checks they agree.

struct JSONReadError: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

/// A parsed JSON value. Numbers are integers only (events hold no others).
enum JSONNode {
    case string(String)
    case integer(negative: Bool, magnitude: UInt64)
    case bool(Bool)
    case null
    case array([JSONNode])
    case object([String: JSONNode])
}

/// A strict JSON parser over bytes.
struct JSONByteParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0

    static func parse(_ payload: [UInt8]) throws(JSONReadError) -> JSONNode {
        do {
            return try payload.withUnsafeBufferPointer { buffer in
                var parser = JSONByteParser(bytes: buffer)
                let value = try parser.value()
                parser.skipWhitespace()
                guard parser.index == buffer.count else { throw JSONReadError(reason: "content after the JSON value") }
                return value
            }
        } catch let error as JSONReadError {
            throw error
        } catch {
            throw JSONReadError(reason: "\(error)")
        }
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func value() throws(JSONReadError) -> JSONNode {
        skipWhitespace()
        guard index < bytes.count else { throw JSONReadError(reason: "unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try number()
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONReadError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw JSONReadError(reason: "unexpected end") }
        let matches = word.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw JSONReadError(reason: "bad literal at \(index)") }
        index += count
    }

    mutating func object() throws(JSONReadError) -> JSONNode {
        depth += 1
        guard depth <= 32 else { throw JSONReadError(reason: "too deep") }
        defer { depth -= 1 }
        index += 1
        var fields: [String: JSONNode] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(fields)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw JSONReadError(reason: "expected a key at \(index)") }
            let key = try string()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw JSONReadError(reason: "expected ':' at \(index)") }
            index += 1
            let member = try value()
            guard fields.updateValue(member, forKey: key) == nil else { throw JSONReadError(reason: "duplicate key \(key)") }
            skipWhitespace()
            guard index < bytes.count else { throw JSONReadError(reason: "unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw JSONReadError(reason: "expected ',' or '}' at \(index)") }
            index += 1
            return .object(fields)
        }
    }

    mutating func array() throws(JSONReadError) -> JSONNode {
        depth += 1
        guard depth <= 32 else { throw JSONReadError(reason: "too deep") }
        defer { depth -= 1 }
        index += 1
        var elements: [JSONNode] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try value())
            skipWhitespace()
            guard index < bytes.count else { throw JSONReadError(reason: "unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw JSONReadError(reason: "expected ',' or ']' at \(index)") }
            index += 1
            return .array(elements)
        }
    }

    mutating func number() throws(JSONReadError) -> JSONNode {
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        let start = index
        var magnitude: UInt64 = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw JSONReadError(reason: "number too large") }
            magnitude = sum
            index += 1
        }
        guard index > start else { throw JSONReadError(reason: "expected a value at \(start)") }
        guard !(bytes[start] == UInt8(ascii: "0") && index - start > 1) else { throw JSONReadError(reason: "leading zero") }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            throw JSONReadError(reason: "not an integer")
        }
        return .integer(negative: negative, magnitude: magnitude)
    }

    mutating func string() throws(JSONReadError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                guard let text = String(validating: slice, as: UTF8.self) else { throw JSONReadError(reason: "invalid UTF-8") }
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw JSONReadError(reason: "control character in a string") }
            index += 1
        }
        var utf8 = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") {
                guard let text = String(validating: utf8, as: UTF8.self) else { throw JSONReadError(reason: "invalid UTF-8") }
                return text
            }
            guard byte >= 0x20 else { throw JSONReadError(reason: "control character in a string") }
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                continue
            }
            guard index < bytes.count else { break }
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
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw JSONReadError(reason: "lone surrogate")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw JSONReadError(reason: "lone surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw JSONReadError(reason: "lone surrogate")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw JSONReadError(reason: "bad escape") }
                utf8.append(contentsOf: Array(String(Character(unicode)).utf8))
            default:
                throw JSONReadError(reason: "bad escape")
            }
        }
        throw JSONReadError(reason: "unterminated string")
    }

    mutating func hex4() throws(JSONReadError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw JSONReadError(reason: "bad escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw JSONReadError(reason: "bad escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}

/// Typed access to a parsed object, with `JSONDecoder`'s rules: a missing or null optional is
/// nil; a required member must be present, non-null and of the type.
struct JSONObjectReader {
    let fields: [String: JSONNode]

    init(_ node: JSONNode) throws(JSONReadError) {
        guard case .object(let fields) = node else { throw JSONReadError(reason: "expected an object") }
        self.fields = fields
    }

    func present(_ key: String) -> JSONNode? {
        guard let node = fields[key] else { return nil }
        if case .null = node { return nil }
        return node
    }

    func required(_ key: String) throws(JSONReadError) -> JSONNode {
        guard let node = present(key) else { throw JSONReadError(reason: "\(key) is missing") }
        return node
    }

    static func string(_ node: JSONNode) throws(JSONReadError) -> String {
        guard case .string(let value) = node else { throw JSONReadError(reason: "expected a string") }
        return value
    }

    static func int64(_ node: JSONNode) throws(JSONReadError) -> Int64 {
        guard case .integer(let negative, let magnitude) = node else { throw JSONReadError(reason: "expected an integer") }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw JSONReadError(reason: "integer out of range") }
            return magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw JSONReadError(reason: "integer out of range") }
        return Int64(magnitude)
    }

    static func uint64(_ node: JSONNode) throws(JSONReadError) -> UInt64 {
        guard case .integer(let negative, let magnitude) = node, !negative || magnitude == 0 else {
            throw JSONReadError(reason: "expected an unsigned integer")
        }
        return magnitude
    }

    static func array(_ node: JSONNode) throws(JSONReadError) -> [JSONNode] {
        guard case .array(let elements) = node else { throw JSONReadError(reason: "expected an array") }
        return elements
    }

    func string(_ key: String) throws(JSONReadError) -> String { try Self.string(try required(key)) }
    func optionalString(_ key: String) throws(JSONReadError) -> String? { try present(key).map { (node) throws(JSONReadError) in try Self.string(node) } }
    func int64(_ key: String) throws(JSONReadError) -> Int64 { try Self.int64(try required(key)) }
    func uint64(_ key: String) throws(JSONReadError) -> UInt64 { try Self.uint64(try required(key)) }
    func optionalInt(_ key: String) throws(JSONReadError) -> Int? {
        guard let node = present(key) else { return nil }
        return Int(try Self.int64(node))
    }
    func optionalUInt64(_ key: String) throws(JSONReadError) -> UInt64? {
        guard let node = present(key) else { return nil }
        return try Self.uint64(node)
    }
    func bool(_ key: String) throws(JSONReadError) -> Bool {
        guard case .bool(let value) = try required(key) else { throw JSONReadError(reason: "\(key) is not a boolean") }
        return value
    }
    func object(_ key: String) throws(JSONReadError) -> JSONObjectReader { try JSONObjectReader(try required(key)) }
    func objects(_ key: String) throws(JSONReadError) -> [JSONObjectReader] {
        var readers: [JSONObjectReader] = []
        for element in try Self.array(try required(key)) { readers.append(try JSONObjectReader(element)) }
        return readers
    }
    func strings(_ key: String) throws(JSONReadError) -> [String] {
        var values: [String] = []
        for element in try Self.array(try required(key)) { values.append(try Self.string(element)) }
        return values
    }
    func currency(_ key: String) throws(JSONReadError) -> Currency {
        let code = try string(key)
        guard let currency = Currency(code: code) else { throw JSONReadError(reason: "unknown currency \(code)") }
        return currency
    }
}

enum EventJSONReader {
    static func access(_ object: JSONObjectReader) throws(JSONReadError) -> AccessTerms {
        AccessTerms(
            views: try object.optionalInt("views"), hours: try object.optionalInt("hours"), days: try object.optionalInt("days"),
            expiresAtMilliseconds: try object.optionalUInt64("expiresAtMilliseconds"))
    }

    static func terms(_ object: JSONObjectReader) throws(JSONReadError) -> ContentTerms {
        var royalties: [RoyaltyShare] = []
        for share in try object.objects("royalties") {
            royalties.append(RoyaltyShare(holder: try share.string("holder"), basisPoints: try share.int64("basisPoints")))
        }
        return ContentTerms(
            content: try object.string("content"), title: try object.string("title"), price: try object.int64("price"),
            currency: try object.currency("currency"), description: try object.string("description"), url: try object.string("url"),
            access: try access(try object.object("access")), incentiveIDs: try object.strings("incentiveIDs"), royalties: royalties)
    }

    /// Postings with the checks `Posting.init(from:)` makes.
    static func postings(_ object: JSONObjectReader) throws(JSONReadError) -> [Posting] {
        var postings: [Posting] = []
        for posting in try object.objects("postings") {
            let debit = try posting.string("debit")
            let credit = try posting.string("credit")
            let amount = try posting.int64("amount")
            let currency = try posting.currency("currency")
            guard amount > 0, debit != credit, debit.hasSuffix(":" + currency.code), credit.hasSuffix(":" + currency.code) else {
                throw JSONReadError(reason: "a posting breaks the posting rules")
            }
            postings.append(Posting(debitName: debit, creditName: credit, amount: amount, currency: currency))
        }
        return postings
    }

    static func sources(_ object: JSONObjectReader) throws(JSONReadError) -> [FundingSource] {
        var sources: [FundingSource] = []
        for source in try object.objects("sources") {
            sources.append(FundingSource(account: try source.string("account"), amount: try source.int64("amount")))
        }
        return sources
    }

    static func idempotency(_ object: JSONObjectReader) throws(JSONReadError) -> IdempotencyMark? {
        guard object.present("idempotency") != nil else { return nil }
        let mark = try object.object("idempotency")
        return IdempotencyMark(vendor: try mark.string("vendor"), key: try mark.string("key"), requestDigest: try mark.string("requestDigest"))
    }

    static func purchaseCaptured(_ payload: [UInt8]) throws(JSONReadError) -> PurchaseCaptured {
        let object = try JSONObjectReader(try JSONByteParser.parse(payload))
        var royalties: [RoyaltyPayment] = []
        for royalty in try object.objects("royalties") {
            royalties.append(RoyaltyPayment(holder: try royalty.string("holder"), amount: try royalty.int64("amount")))
        }
        return PurchaseCaptured(
            transaction: try object.string("transaction"), user: try object.string("user"), member: try object.optionalString("member"),
            vendor: try object.string("vendor"), terms: try terms(try object.object("terms")), oneStep: try object.bool("oneStep"),
            sources: try sources(object), fee: try object.int64("fee"), royalties: royalties, rounding: try object.string("rounding"),
            entitlement: try access(try object.object("entitlement")), postings: try postings(object),
            idempotency: try idempotency(object), timeMilliseconds: try object.uint64("timeMilliseconds"))
    }

    static func purchaseAuthorized(_ payload: [UInt8]) throws(JSONReadError) -> PurchaseAuthorized {
        let object = try JSONObjectReader(try JSONByteParser.parse(payload))
        return PurchaseAuthorized(
            transaction: try object.string("transaction"), user: try object.string("user"), member: try object.optionalString("member"),
            vendor: try object.string("vendor"), terms: try terms(try object.object("terms")),
            holdExpiresAtMilliseconds: try object.uint64("holdExpiresAtMilliseconds"), sources: try sources(object),
            postings: try postings(object), idempotency: try idempotency(object), timeMilliseconds: try object.uint64("timeMilliseconds"))
    }
}
