import Foundation

// Hand-written decoding for the most common event types (`PurchaseCaptured`,
// `PurchaseAuthorized`, `FundsAdded`, `AccountOpened`, `WalletOpened`), the reading side of
// EventJSON.swift. Foundation's `JSONDecoder` took most of the time of every reader of the
// journal (the read models' fold, replay, the full audit): they decode every purchase.
//
// Each event type has a streaming reader: it walks the members of each object once, in any
// order, matches the key's raw UTF-8 bytes against the type's keys and reads the value straight
// into the field, without building a tree of dictionaries. Members with other keys are skipped
// (as `JSONDecoder` ignores them), but still checked as strictly as the rest.
//
// The reader is strict and never guesses: anything it does not fully understand (a number with
// a fraction or exponent, a duplicate key, a key written with escapes, invalid UTF-8, a value of
// the wrong type, a posting that breaks the posting rules) is an error, and
// `LedgerEvent(typeName:payload:)` then falls back to `JSONDecoder`, which gives the
// authoritative answer (and its error). So the two paths can only differ by the fast one
// declining; `LedgerCodecTests` and `EventJSONReaderTests` check they agree.

struct JSONReadError: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

/// A key of an object: its raw bytes in the payload (never escaped: a key with an escape is
/// declined).
struct JSONKey {
    let start: Int
    let count: Int
}

/// A strict, streaming JSON reader over bytes. Numbers are integers only (events hold no
/// others). Objects and arrays are opened and walked by the typed readers below.
struct JSONCursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0
    /// Reused for strings with escapes.
    var scratch: [UInt8] = []

    static let maximumDepth = 32

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Reads one JSON document from `payload` with `body`; only whitespace may follow it.
    @inline(__always)
    static func read<T>(_ payload: [UInt8], _ body: (inout JSONCursor) throws(JSONReadError) -> T) throws(JSONReadError) -> T {
        let result: Result<T, JSONReadError> = payload.withUnsafeBufferPointer { buffer in
            do throws(JSONReadError) {
                return .success(try read(buffer, body))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Reads one JSON document from `bytes` with `body`; only whitespace may follow it.
    @inline(__always)
    static func read<T>(
        _ bytes: UnsafeBufferPointer<UInt8>, _ body: (inout JSONCursor) throws(JSONReadError) -> T
    ) throws(JSONReadError) -> T {
        var cursor = JSONCursor(bytes: bytes)
        let value = try body(&cursor)
        cursor.skipWhitespace()
        guard cursor.index == bytes.count else { throw JSONReadError(reason: "content after the JSON value") }
        return value
    }

    /// The byte at the cursor, or 0 at the end (0 is never valid where a byte is looked at).
    @inline(__always)
    var current: UInt8 { index < bytes.count ? bytes[index] : 0 }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    // MARK: Objects and arrays

    /// Opens an object; false when it is empty (and then already closed).
    mutating func openObject() throws(JSONReadError) -> Bool {
        skipWhitespace()
        guard current == UInt8(ascii: "{") else { throw JSONReadError(reason: "expected an object at \(index)") }
        index += 1
        depth += 1
        guard depth <= Self.maximumDepth else { throw JSONReadError(reason: "too deep") }
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return false
        }
        return true
    }

    /// After a member's value: true when another member follows (',' read), false at the
    /// end of the object ('}' read).
    mutating func nextMember() throws(JSONReadError) -> Bool {
        skipWhitespace()
        switch current {
        case UInt8(ascii: ","):
            index += 1
            return true
        case UInt8(ascii: "}"):
            index += 1
            depth -= 1
            return false
        default:
            throw JSONReadError(reason: "expected ',' or '}' at \(index)")
        }
    }

    /// Opens an array; false when it is empty (and then already closed).
    mutating func openArray() throws(JSONReadError) -> Bool {
        skipWhitespace()
        guard current == UInt8(ascii: "[") else { throw JSONReadError(reason: "expected an array at \(index)") }
        index += 1
        depth += 1
        guard depth <= Self.maximumDepth else { throw JSONReadError(reason: "too deep") }
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return false
        }
        return true
    }

    /// After an element: true when another follows, false at the end of the array.
    mutating func nextElement() throws(JSONReadError) -> Bool {
        skipWhitespace()
        switch current {
        case UInt8(ascii: ","):
            index += 1
            return true
        case UInt8(ascii: "]"):
            index += 1
            depth -= 1
            return false
        default:
            throw JSONReadError(reason: "expected ',' or ']' at \(index)")
        }
    }

    /// A member's key and the ':' after it. A key with an escape, or with a control character,
    /// is declined; a key's bytes are checked to be UTF-8 only when it is not one of the
    /// type's keys (those are ASCII).
    mutating func key() throws(JSONReadError) -> JSONKey {
        skipWhitespace()
        guard current == UInt8(ascii: "\"") else { throw JSONReadError(reason: "expected a key at \(index)") }
        let start = index + 1
        let stop = Self.special(bytes, from: start)
        guard stop < bytes.count else { throw JSONReadError(reason: "unterminated key") }
        switch bytes[stop] {
        case UInt8(ascii: "\""): break
        case UInt8(ascii: "\\"): throw JSONReadError(reason: "a key with an escape")
        default: throw JSONReadError(reason: "control character in a key")
        }
        let key = JSONKey(start: start, count: stop - start)
        index = stop + 1
        if current != UInt8(ascii: ":") { skipWhitespace() }
        guard current == UInt8(ascii: ":") else { throw JSONReadError(reason: "expected ':' at \(index)") }
        index += 1
        return key
    }

    /// The position of the first byte from `start` on that ends or interrupts a string's plain
    /// bytes — `"`, `\\` or a control character, and `/` too when `slashes` — or `bytes.count`
    /// when there is none. The reader looks for a string's end with it, and `JSONWriter` for a
    /// byte to escape. Eight bytes at a time: in `match`, a byte's high bit is set when the byte
    /// is one of those (the arithmetic can also set it in a byte after one that is, never before,
    /// so the lowest one found is exact).
    @inline(__always)
    static func special(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, slashes: Bool = false) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = ones &* 0x22, backslashes = ones &* 0x5C, spaces = ones &* 0x20, slashBytes = ones &* 0x2F
        var index = start
        if let base = bytes.baseAddress {
            while index + 8 <= bytes.count {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                let quote = word ^ quotes, backslash = word ^ backslashes
                var match = ((word &- spaces) & ~word | (quote &- ones) & ~quote | (backslash &- ones) & ~backslash) & highs
                if slashes {
                    let slash = word ^ slashBytes
                    match |= (slash &- ones) & ~slash & highs
                }
                if match != 0 { return index + match.trailingZeroBitCount / 8 }
                index += 8
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 || (slashes && byte == UInt8(ascii: "/")) {
                return index
            }
            index += 1
        }
        return index
    }

    /// Whether `key` is exactly `name` (byte for byte).
    @inline(__always)
    func key(_ key: JSONKey, is name: StaticString) -> Bool {
        guard key.count == name.utf8CodeUnitCount else { return false }
        let base = bytes.baseAddress! + key.start
        let expected = name.utf8Start
        for offset in 0..<key.count where base[offset] != expected[offset] { return false }
        return true
    }

    /// Marks field `bit` as read; a second time is a duplicate key.
    @inline(__always)
    static func once(_ seen: inout UInt32, _ bit: UInt32) throws(JSONReadError) {
        guard seen & bit == 0 else { throw JSONReadError(reason: "duplicate key") }
        seen |= bit
    }

    /// A member whose key the type does not have: `JSONDecoder` ignores it, so the reader
    /// skips its value, checking it as strictly as the rest, and declines a duplicate key.
    mutating func skipMember(_ key: JSONKey, others: inout [JSONKey]) throws(JSONReadError) {
        let base = bytes.baseAddress!
        guard Self.isUTF8(UnsafeBufferPointer(start: base + key.start, count: key.count)) else {
            throw JSONReadError(reason: "invalid UTF-8 in a key")
        }
        for other in others where other.count == key.count {
            if memcmp(base + other.start, base + key.start, key.count) == 0 { throw JSONReadError(reason: "duplicate key") }
        }
        others.append(key)
        try skipValue()
    }

    /// Reads and checks any value, keeping nothing.
    mutating func skipValue() throws(JSONReadError) {
        skipWhitespace()
        switch current {
        case UInt8(ascii: "{"):
            guard try openObject() else { return }
            var keys: [JSONKey] = []
            keys.reserveCapacity(8)
            repeat {
                let key = try self.key()
                try skipMember(key, others: &keys)
            } while try nextMember()
        case UInt8(ascii: "["):
            guard try openArray() else { return }
            repeat { try skipValue() } while try nextElement()
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try integer()
        }
    }

    // MARK: Scalars

    mutating func literal(_ word: StaticString) throws(JSONReadError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw JSONReadError(reason: "unexpected end") }
        let expected = word.utf8Start
        for offset in 0..<count where bytes[index + offset] != expected[offset] {
            throw JSONReadError(reason: "bad literal at \(index)")
        }
        index += count
    }

    /// True (and the `null` read) when the value is null.
    @inline(__always)
    mutating func null() throws(JSONReadError) -> Bool {
        skipWhitespace()
        guard current == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    mutating func bool() throws(JSONReadError) -> Bool {
        skipWhitespace()
        switch current {
        case UInt8(ascii: "t"): try literal("true"); return true
        case UInt8(ascii: "f"): try literal("false"); return false
        default: throw JSONReadError(reason: "expected a boolean at \(index)")
        }
    }

    /// An integer: no fraction, no exponent, no leading zero, at most 64 bits of magnitude.
    mutating func integer() throws(JSONReadError) -> (negative: Bool, magnitude: UInt64) {
        skipWhitespace()
        var negative = false
        if current == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        let start = index
        var magnitude: UInt64 = 0
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { break }
            let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { throw JSONReadError(reason: "number too large") }
            magnitude = sum
            index += 1
        }
        guard index > start else { throw JSONReadError(reason: "expected a value at \(start)") }
        guard !(bytes[start] == UInt8(ascii: "0") && index - start > 1) else { throw JSONReadError(reason: "leading zero") }
        switch current {
        case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): throw JSONReadError(reason: "not an integer")
        default: return (negative, magnitude)
        }
    }

    mutating func int64() throws(JSONReadError) -> Int64 {
        let (negative, magnitude) = try integer()
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw JSONReadError(reason: "integer out of range") }
            return magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw JSONReadError(reason: "integer out of range") }
        return Int64(magnitude)
    }

    mutating func uint64() throws(JSONReadError) -> UInt64 {
        let (negative, magnitude) = try integer()
        guard !negative || magnitude == 0 else { throw JSONReadError(reason: "expected an unsigned integer") }
        return magnitude
    }

    /// `Int?` as `JSONDecoder` reads it: null is nil.
    mutating func optionalInt() throws(JSONReadError) -> Int? {
        if try null() { return nil }
        return Int(try int64())
    }

    mutating func optionalUInt64() throws(JSONReadError) -> UInt64? {
        if try null() { return nil }
        return try uint64()
    }

    mutating func optionalString() throws(JSONReadError) -> String? {
        if try null() { return nil }
        return try string()
    }

    /// A string. Without escapes it is made straight from the payload's bytes; with escapes,
    /// through `scratch`.
    mutating func string() throws(JSONReadError) -> String {
        let scanned = try scanString()
        guard scanned.closed else { return try escapedString(from: scanned.start) }
        // Valid UTF-8, so `decoding` repairs nothing.
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[scanned.start..<scanned.end]), as: UTF8.self)
    }

    /// A string checked as `string()` checks it, without making it: a skipped member's string
    /// needs no allocation (a purchase's postings, terms and royalties, skipped by readers that
    /// want a few fields).
    mutating func skipString() throws(JSONReadError) {
        let scanned = try scanString()
        if !scanned.closed { _ = try escapedString(from: scanned.start) }
    }

    /// Reads a string's opening quote and its bytes up to the closing quote (`closed`: the
    /// bytes `start..<end` are checked UTF-8 and the reader is past the quote) or up to the
    /// first escape (the reader is at the backslash; `escapedString(from: start)` goes on).
    private mutating func scanString() throws(JSONReadError) -> (start: Int, end: Int, closed: Bool) {
        skipWhitespace()
        guard current == UInt8(ascii: "\"") else { throw JSONReadError(reason: "expected a string at \(index)") }
        let start = index + 1
        let stop = Self.special(bytes, from: start)
        guard stop < bytes.count else { throw JSONReadError(reason: "unterminated string") }
        switch bytes[stop] {
        case UInt8(ascii: "\""):
            let text = UnsafeBufferPointer(rebasing: bytes[start..<stop])
            guard ByteReader.isASCII(text) || Self.isUTF8(text) else {
                throw JSONReadError(reason: "invalid UTF-8")
            }
            index = stop + 1
            return (start, stop, true)
        case UInt8(ascii: "\\"):
            index = stop
            return (start, stop, false)
        default:
            throw JSONReadError(reason: "control character in a string")
        }
    }

    /// A string that is exactly `known` when written without escapes (then `known` itself is
    /// returned, sharing its storage), else read as any string.
    mutating func string(known: String) throws(JSONReadError) -> String {
        skipWhitespace()
        let start = index + 1
        var known = known
        let matches = known.withUTF8 { expected in
            guard current == UInt8(ascii: "\""), start + expected.count < bytes.count,
                  bytes[start + expected.count] == UInt8(ascii: "\"") else { return false }
            return expected.isEmpty || memcmp(bytes.baseAddress! + start, expected.baseAddress!, expected.count) == 0
        }
        guard matches else { return try string() }
        // The known text has no '"', '\\' or control characters (checked by the tests).
        index = start + known.utf8.count + 1
        return known
    }

    mutating func escapedString(from start: Int) throws(JSONReadError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") {
                let valid = scratch.withUnsafeBufferPointer { Self.isUTF8($0) }
                guard valid else { throw JSONReadError(reason: "invalid UTF-8") }
                return String(decoding: scratch, as: UTF8.self)
            }
            guard byte >= 0x20 else { throw JSONReadError(reason: "control character in a string") }
            guard byte == UInt8(ascii: "\\") else {
                scratch.append(byte)
                continue
            }
            do {
                index = try JSONEscape.decode(bytes, at: index, into: &scratch)
            } catch {
                throw JSONReadError(reason: error.reason)
            }
        }
        throw JSONReadError(reason: "unterminated string")
    }

    /// Whether `bytes` are well-formed UTF-8 (Unicode table 3-7: no overlong forms, no
    /// surrogates, nothing above U+10FFFF), so that `String(decoding:as:)` keeps them as they are.
    static func isUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return false
            }
            guard index + length <= count else { return false }
            let second = bytes[index + 1]
            guard second >= low, second <= high else { return false }
            for offset in 2..<length {
                let byte = bytes[index + offset]
                guard byte >= 0x80, byte <= 0xBF else { return false }
            }
            index += length
        }
        return true
    }

    // MARK: Ledger types

    mutating func currency() throws(JSONReadError) -> Currency {
        skipWhitespace()
        // The common codes without a String or a dictionary lookup.
        if index + 4 < bytes.count, bytes[index] == UInt8(ascii: "\""), bytes[index + 4] == UInt8(ascii: "\"") {
            let a = bytes[index + 1], b = bytes[index + 2], c = bytes[index + 3]
            if a == UInt8(ascii: "U"), b == UInt8(ascii: "S"), c == UInt8(ascii: "D") { index += 5; return .usd }
            if a == UInt8(ascii: "E"), b == UInt8(ascii: "U"), c == UInt8(ascii: "R") { index += 5; return .eur }
        }
        let code = try string()
        guard let currency = Currency(code: code) else { throw JSONReadError(reason: "unknown currency") }
        return currency
    }

    mutating func strings() throws(JSONReadError) -> [String] {
        var values: [String] = []
        guard try openArray() else { return values }
        repeat { values.append(try string()) } while try nextElement()
        return values
    }

    mutating func access() throws(JSONReadError) -> AccessTerms {
        if let value = try inWriterLayout({ (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerAccess() }) { return value }
        var views: Int?, hours: Int?, days: Int?, expires: UInt64?
        var seen: UInt32 = 0
        var others: [JSONKey] = []
        if try openObject() {
            repeat {
                let key = try self.key()
                if self.key(key, is: "views") { try Self.once(&seen, 1); views = try optionalInt() }
                else if self.key(key, is: "hours") { try Self.once(&seen, 2); hours = try optionalInt() }
                else if self.key(key, is: "days") { try Self.once(&seen, 4); days = try optionalInt() }
                else if self.key(key, is: "expiresAtMilliseconds") { try Self.once(&seen, 8); expires = try optionalUInt64() }
                else { try skipMember(key, others: &others) }
            } while try nextMember()
        }
        return AccessTerms(views: views, hours: hours, days: days, expiresAtMilliseconds: expires)
    }

    mutating func royaltyShares() throws(JSONReadError) -> [RoyaltyShare] {
        if let value = try inWriterLayout({ (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerRoyaltyShares() }) { return value }
        var shares: [RoyaltyShare] = []
        guard try openArray() else { return shares }
        repeat {
            var holder: String?, basisPoints: Int64?
            var seen: UInt32 = 0
            var others: [JSONKey] = []
            if try openObject() {
                repeat {
                    let key = try self.key()
                    if self.key(key, is: "holder") { try Self.once(&seen, 1); holder = try string() }
                    else if self.key(key, is: "basisPoints") { try Self.once(&seen, 2); basisPoints = try int64() }
                    else { try skipMember(key, others: &others) }
                } while try nextMember()
            }
            guard let holder, let basisPoints else { throw JSONReadError(reason: "a royalty share lacks a field") }
            shares.append(RoyaltyShare(holder: holder, basisPoints: basisPoints))
        } while try nextElement()
        return shares
    }

    mutating func terms() throws(JSONReadError) -> ContentTerms {
        if let value = try inWriterLayout({ (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerTerms() }) { return value }
        var content: String?, title: String?, price: Int64?, currency: Currency?, description: String?, url: String?
        var access: AccessTerms?, incentiveIDs: [String]?, royalties: [RoyaltyShare]?
        var seen: UInt32 = 0
        var others: [JSONKey] = []
        if try openObject() {
            repeat {
                let key = try self.key()
                if self.key(key, is: "access") { try Self.once(&seen, 1); access = try self.access() }
                else if self.key(key, is: "content") { try Self.once(&seen, 2); content = try string() }
                else if self.key(key, is: "currency") { try Self.once(&seen, 4); currency = try self.currency() }
                else if self.key(key, is: "description") { try Self.once(&seen, 8); description = try string() }
                else if self.key(key, is: "incentiveIDs") { try Self.once(&seen, 16); incentiveIDs = try strings() }
                else if self.key(key, is: "price") { try Self.once(&seen, 32); price = try int64() }
                else if self.key(key, is: "royalties") { try Self.once(&seen, 64); royalties = try royaltyShares() }
                else if self.key(key, is: "title") { try Self.once(&seen, 128); title = try string() }
                else if self.key(key, is: "url") { try Self.once(&seen, 256); url = try string() }
                else { try skipMember(key, others: &others) }
            } while try nextMember()
        }
        guard let content, let title, let price, let currency, let description, let url, let access, let incentiveIDs, let royalties else {
            throw JSONReadError(reason: "terms lack a field")
        }
        return ContentTerms(
            content: content, title: title, price: price, currency: currency, description: description, url: url,
            access: access, incentiveIDs: incentiveIDs, royalties: royalties)
    }

    /// Postings with the checks `Posting.init(from:)` makes.
    mutating func postings() throws(JSONReadError) -> [Posting] {
        if let value = try inWriterLayout({ (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerPostings() }) { return value }
        var postings: [Posting] = []
        guard try openArray() else { return postings }
        postings.reserveCapacity(4)
        repeat {
            var debit: String?, credit: String?, amount: Int64?, currency: Currency?
            var seen: UInt32 = 0
            var others: [JSONKey] = []
            if try openObject() {
                repeat {
                    let key = try self.key()
                    if self.key(key, is: "amount") { try Self.once(&seen, 1); amount = try int64() }
                    else if self.key(key, is: "credit") { try Self.once(&seen, 2); credit = try string() }
                    else if self.key(key, is: "currency") { try Self.once(&seen, 4); currency = try self.currency() }
                    else if self.key(key, is: "debit") { try Self.once(&seen, 8); debit = try string() }
                    else { try skipMember(key, others: &others) }
                } while try nextMember()
            }
            guard let debit, let credit, let amount, let currency else { throw JSONReadError(reason: "a posting lacks a field") }
            guard amount > 0, debit != credit, Self.hasCurrencySuffix(debit, currency), Self.hasCurrencySuffix(credit, currency) else {
                throw JSONReadError(reason: "a posting breaks the posting rules")
            }
            postings.append(Posting(checkedDebit: debit, credit: credit, amount: amount, currency: currency))
        } while try nextElement()
        return postings
    }

    /// `name.hasSuffix(":" + currency.code)` (the check of `Posting.init(from:)`), answered
    /// from the bytes when they end with ':' and the code after an ASCII character or nothing:
    /// then the last four characters are exactly those (no grapheme cluster joins an ASCII
    /// character to a following ':'). Anything else asks `hasSuffix` itself.
    static func hasCurrencySuffix(_ name: String, _ currency: Currency) -> Bool {
        let code = currency.code
        let fromBytes: Bool? = name.utf8.withContiguousStorageIfAvailable { (name: UnsafeBufferPointer<UInt8>) -> Bool? in
            code.utf8.withContiguousStorageIfAvailable { (code: UnsafeBufferPointer<UInt8>) -> Bool? in
                let colon = name.count - code.count - 1
                guard colon >= 0, name[colon] == UInt8(ascii: ":"),
                      memcmp(name.baseAddress! + colon + 1, code.baseAddress!, code.count) == 0,
                      colon == 0 || name[colon - 1] < 0x80 else { return nil }
                return true
            } ?? nil
        } ?? nil
        return fromBytes ?? name.hasSuffix(":" + code)
    }

    mutating func sources() throws(JSONReadError) -> [FundingSource] {
        if let value = try inWriterLayout({ (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerSources() }) { return value }
        var sources: [FundingSource] = []
        guard try openArray() else { return sources }
        sources.reserveCapacity(2)
        repeat {
            var account: String?, amount: Int64?
            var seen: UInt32 = 0
            var others: [JSONKey] = []
            if try openObject() {
                repeat {
                    let key = try self.key()
                    if self.key(key, is: "account") { try Self.once(&seen, 1); account = try string() }
                    else if self.key(key, is: "amount") { try Self.once(&seen, 2); amount = try int64() }
                    else { try skipMember(key, others: &others) }
                } while try nextMember()
            }
            guard let account, let amount else { throw JSONReadError(reason: "a source lacks a field") }
            sources.append(FundingSource(account: account, amount: amount))
        } while try nextElement()
        return sources
    }

    mutating func royaltyPayments() throws(JSONReadError) -> [RoyaltyPayment] {
        if let value = try inWriterLayout({ (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerRoyaltyPayments() }) { return value }
        var payments: [RoyaltyPayment] = []
        guard try openArray() else { return payments }
        payments.reserveCapacity(2)
        repeat {
            var holder: String?, amount: Int64?
            var seen: UInt32 = 0
            var others: [JSONKey] = []
            if try openObject() {
                repeat {
                    let key = try self.key()
                    if self.key(key, is: "amount") { try Self.once(&seen, 1); amount = try int64() }
                    else if self.key(key, is: "holder") { try Self.once(&seen, 2); holder = try string() }
                    else { try skipMember(key, others: &others) }
                } while try nextMember()
            }
            guard let holder, let amount else { throw JSONReadError(reason: "a royalty payment lacks a field") }
            payments.append(RoyaltyPayment(holder: holder, amount: amount))
        } while try nextElement()
        return payments
    }

    /// `IdempotencyMark?`: null is nil.
    mutating func idempotency() throws(JSONReadError) -> IdempotencyMark? {
        if try null() { return nil }
        if let value = try inWriterLayout({ (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerIdempotency() }) { return value }
        var vendor: String?, key: String?, digest: String?
        var seen: UInt32 = 0
        var others: [JSONKey] = []
        if try openObject() {
            repeat {
                let name = try self.key()
                if self.key(name, is: "key") { try Self.once(&seen, 1); key = try string() }
                else if self.key(name, is: "requestDigest") { try Self.once(&seen, 2); digest = try string() }
                else if self.key(name, is: "vendor") { try Self.once(&seen, 4); vendor = try string() }
                else { try skipMember(name, others: &others) }
            } while try nextMember()
        }
        guard let vendor, let key, let digest else { throw JSONReadError(reason: "an idempotency mark lacks a field") }
        return IdempotencyMark(vendor: vendor, key: key, requestDigest: digest)
    }
}

enum EventJSONReader {
    /// Calls a reader of bytes with the bytes of `payload`.
    @inline(__always)
    static func withBuffer<T>(
        _ payload: [UInt8], _ read: (UnsafeBufferPointer<UInt8>) throws(JSONReadError) -> T
    ) throws(JSONReadError) -> T {
        let result: Result<T, JSONReadError> = payload.withUnsafeBufferPointer { buffer in
            do throws(JSONReadError) {
                return .success(try read(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    static func purchaseCaptured(_ payload: [UInt8]) throws(JSONReadError) -> PurchaseCaptured {
        try withBuffer(payload) { (bytes) throws(JSONReadError) in try purchaseCaptured(bytes) }
    }

    static func purchaseCaptured(_ payload: UnsafeBufferPointer<UInt8>) throws(JSONReadError) -> PurchaseCaptured {
        try JSONCursor.read(payload) { (cursor: inout JSONCursor) throws(JSONReadError) -> PurchaseCaptured in
            if let event = try cursor.inWriterLayout({ (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerPurchaseCaptured() }) { return event }
            var transaction: String?, user: String?, member: String?, vendor: String?, terms: ContentTerms?, oneStep: Bool?
            var sources: [FundingSource]?, fee: Int64?, royalties: [RoyaltyPayment]?, rounding: String?, entitlement: AccessTerms?
            var postings: [Posting]?, idempotency: IdempotencyMark?, time: UInt64?
            var seen: UInt32 = 0
            var others: [JSONKey] = []
            if try cursor.openObject() {
                repeat {
                    let key = try cursor.key()
                    if cursor.key(key, is: "entitlement") { try JSONCursor.once(&seen, 1); entitlement = try cursor.access() }
                    else if cursor.key(key, is: "fee") { try JSONCursor.once(&seen, 2); fee = try cursor.int64() }
                    else if cursor.key(key, is: "idempotency") { try JSONCursor.once(&seen, 4); idempotency = try cursor.idempotency() }
                    else if cursor.key(key, is: "member") { try JSONCursor.once(&seen, 8); member = try cursor.optionalString() }
                    else if cursor.key(key, is: "oneStep") { try JSONCursor.once(&seen, 16); oneStep = try cursor.bool() }
                    else if cursor.key(key, is: "postings") { try JSONCursor.once(&seen, 32); postings = try cursor.postings() }
                    else if cursor.key(key, is: "rounding") { try JSONCursor.once(&seen, 64); rounding = try cursor.string(known: royaltyRoundingRule) }
                    else if cursor.key(key, is: "royalties") { try JSONCursor.once(&seen, 128); royalties = try cursor.royaltyPayments() }
                    else if cursor.key(key, is: "sources") { try JSONCursor.once(&seen, 256); sources = try cursor.sources() }
                    else if cursor.key(key, is: "terms") { try JSONCursor.once(&seen, 512); terms = try cursor.terms() }
                    else if cursor.key(key, is: "timeMilliseconds") { try JSONCursor.once(&seen, 1024); time = try cursor.uint64() }
                    else if cursor.key(key, is: "transaction") { try JSONCursor.once(&seen, 2048); transaction = try cursor.string() }
                    else if cursor.key(key, is: "user") { try JSONCursor.once(&seen, 4096); user = try cursor.string() }
                    else if cursor.key(key, is: "vendor") { try JSONCursor.once(&seen, 8192); vendor = try cursor.string() }
                    else if cursor.key(key, is: "vendorData") { throw JSONReadError(reason: "vendorData is read by the full decoder") }
                    else { try cursor.skipMember(key, others: &others) }
                } while try cursor.nextMember()
            }
            guard let transaction, let user, let vendor, let terms, let oneStep, let sources, let fee, let royalties, let rounding,
                  let entitlement, let postings, let time else {
                throw JSONReadError(reason: "PurchaseCaptured lacks a field")
            }
            return PurchaseCaptured(
                transaction: transaction, user: user, member: member, vendor: vendor, terms: terms, oneStep: oneStep,
                sources: sources, fee: fee, royalties: royalties, rounding: rounding, entitlement: entitlement, postings: postings,
                idempotency: idempotency, timeMilliseconds: time)
        }
    }

    static func purchaseAuthorized(_ payload: [UInt8]) throws(JSONReadError) -> PurchaseAuthorized {
        try withBuffer(payload) { (bytes) throws(JSONReadError) in try purchaseAuthorized(bytes) }
    }

    static func purchaseAuthorized(_ payload: UnsafeBufferPointer<UInt8>) throws(JSONReadError) -> PurchaseAuthorized {
        try JSONCursor.read(payload) { (cursor: inout JSONCursor) throws(JSONReadError) -> PurchaseAuthorized in
            if let event = try cursor.inWriterLayout({ (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerPurchaseAuthorized() }) { return event }
            var transaction: String?, user: String?, member: String?, vendor: String?, terms: ContentTerms?, holdExpires: UInt64?
            var sources: [FundingSource]?, postings: [Posting]?, idempotency: IdempotencyMark?, time: UInt64?
            var seen: UInt32 = 0
            var others: [JSONKey] = []
            if try cursor.openObject() {
                repeat {
                    let key = try cursor.key()
                    if cursor.key(key, is: "holdExpiresAtMilliseconds") { try JSONCursor.once(&seen, 1); holdExpires = try cursor.uint64() }
                    else if cursor.key(key, is: "idempotency") { try JSONCursor.once(&seen, 2); idempotency = try cursor.idempotency() }
                    else if cursor.key(key, is: "member") { try JSONCursor.once(&seen, 4); member = try cursor.optionalString() }
                    else if cursor.key(key, is: "postings") { try JSONCursor.once(&seen, 8); postings = try cursor.postings() }
                    else if cursor.key(key, is: "sources") { try JSONCursor.once(&seen, 16); sources = try cursor.sources() }
                    else if cursor.key(key, is: "terms") { try JSONCursor.once(&seen, 32); terms = try cursor.terms() }
                    else if cursor.key(key, is: "timeMilliseconds") { try JSONCursor.once(&seen, 64); time = try cursor.uint64() }
                    else if cursor.key(key, is: "transaction") { try JSONCursor.once(&seen, 128); transaction = try cursor.string() }
                    else if cursor.key(key, is: "user") { try JSONCursor.once(&seen, 256); user = try cursor.string() }
                    else if cursor.key(key, is: "vendor") { try JSONCursor.once(&seen, 512); vendor = try cursor.string() }
                    else if cursor.key(key, is: "vendorData") { throw JSONReadError(reason: "vendorData is read by the full decoder") }
                    else { try cursor.skipMember(key, others: &others) }
                } while try cursor.nextMember()
            }
            guard let transaction, let user, let vendor, let terms, let holdExpires, let sources, let postings, let time else {
                throw JSONReadError(reason: "PurchaseAuthorized lacks a field")
            }
            return PurchaseAuthorized(
                transaction: transaction, user: user, member: member, vendor: vendor, terms: terms,
                holdExpiresAtMilliseconds: holdExpires, sources: sources, postings: postings, idempotency: idempotency,
                timeMilliseconds: time)
        }
    }

    static func fundsAdded(_ payload: [UInt8]) throws(JSONReadError) -> FundsAdded {
        try withBuffer(payload) { (bytes) throws(JSONReadError) in try fundsAdded(bytes) }
    }

    static func fundsAdded(_ payload: UnsafeBufferPointer<UInt8>) throws(JSONReadError) -> FundsAdded {
        try JSONCursor.read(payload) { (cursor: inout JSONCursor) throws(JSONReadError) -> FundsAdded in
            var funding: String?, user: String?, currency: Currency?, amount: Int64?, method: FundingMethod?, throughVendor: String?
            var pending: Bool?, postings: [Posting]?, idempotency: IdempotencyMark?, time: UInt64?
            var seen: UInt32 = 0
            var others: [JSONKey] = []
            if try cursor.openObject() {
                repeat {
                    let key = try cursor.key()
                    if cursor.key(key, is: "amount") { try JSONCursor.once(&seen, 1); amount = try cursor.int64() }
                    else if cursor.key(key, is: "currency") { try JSONCursor.once(&seen, 2); currency = try cursor.currency() }
                    else if cursor.key(key, is: "funding") { try JSONCursor.once(&seen, 4); funding = try cursor.string() }
                    else if cursor.key(key, is: "idempotency") { try JSONCursor.once(&seen, 512); idempotency = try cursor.idempotency() }
                    else if cursor.key(key, is: "method") {
                        try JSONCursor.once(&seen, 8)
                        guard let value = FundingMethod(rawValue: try cursor.string()) else { throw JSONReadError(reason: "unknown funding method") }
                        method = value
                    }
                    else if cursor.key(key, is: "pending") { try JSONCursor.once(&seen, 16); pending = try cursor.bool() }
                    else if cursor.key(key, is: "postings") { try JSONCursor.once(&seen, 32); postings = try cursor.postings() }
                    else if cursor.key(key, is: "throughVendor") { try JSONCursor.once(&seen, 64); throughVendor = try cursor.optionalString() }
                    else if cursor.key(key, is: "timeMilliseconds") { try JSONCursor.once(&seen, 128); time = try cursor.uint64() }
                    else if cursor.key(key, is: "user") { try JSONCursor.once(&seen, 256); user = try cursor.string() }
                    else { try cursor.skipMember(key, others: &others) }
                } while try cursor.nextMember()
            }
            guard let funding, let user, let currency, let amount, let method, let pending, let postings, let time else {
                throw JSONReadError(reason: "FundsAdded lacks a field")
            }
            return FundsAdded(
                funding: funding, user: user, currency: currency, amount: amount, method: method, throughVendor: throughVendor,
                pending: pending, postings: postings, idempotency: idempotency, timeMilliseconds: time)
        }
    }

    static func accountOpened(_ payload: [UInt8]) throws(JSONReadError) -> AccountOpened {
        try withBuffer(payload) { (bytes) throws(JSONReadError) in try accountOpened(bytes) }
    }

    static func accountOpened(_ payload: UnsafeBufferPointer<UInt8>) throws(JSONReadError) -> AccountOpened {
        try JSONCursor.read(payload) { (cursor: inout JSONCursor) throws(JSONReadError) -> AccountOpened in
            var user: String?, channel: AccountChannel?, referringVendor: String?, representative: String?, time: UInt64?
            var seen: UInt32 = 0
            var others: [JSONKey] = []
            if try cursor.openObject() {
                repeat {
                    let key = try cursor.key()
                    if cursor.key(key, is: "channel") {
                        try JSONCursor.once(&seen, 1)
                        guard let value = AccountChannel(rawValue: try cursor.string()) else { throw JSONReadError(reason: "unknown channel") }
                        channel = value
                    }
                    else if cursor.key(key, is: "referringVendor") { try JSONCursor.once(&seen, 2); referringVendor = try cursor.optionalString() }
                    else if cursor.key(key, is: "representative") { try JSONCursor.once(&seen, 4); representative = try cursor.optionalString() }
                    else if cursor.key(key, is: "timeMilliseconds") { try JSONCursor.once(&seen, 8); time = try cursor.uint64() }
                    else if cursor.key(key, is: "user") { try JSONCursor.once(&seen, 16); user = try cursor.string() }
                    else { try cursor.skipMember(key, others: &others) }
                } while try cursor.nextMember()
            }
            guard let user, let channel, let time else { throw JSONReadError(reason: "AccountOpened lacks a field") }
            return AccountOpened(
                user: user, channel: channel, referringVendor: referringVendor, representative: representative, timeMilliseconds: time)
        }
    }

    static func walletOpened(_ payload: [UInt8]) throws(JSONReadError) -> WalletOpened {
        try withBuffer(payload) { (bytes) throws(JSONReadError) in try walletOpened(bytes) }
    }

    static func walletOpened(_ payload: UnsafeBufferPointer<UInt8>) throws(JSONReadError) -> WalletOpened {
        try JSONCursor.read(payload) { (cursor: inout JSONCursor) throws(JSONReadError) -> WalletOpened in
            var user: String?, currency: Currency?, time: UInt64?
            var seen: UInt32 = 0
            var others: [JSONKey] = []
            if try cursor.openObject() {
                repeat {
                    let key = try cursor.key()
                    if cursor.key(key, is: "currency") { try JSONCursor.once(&seen, 1); currency = try cursor.currency() }
                    else if cursor.key(key, is: "timeMilliseconds") { try JSONCursor.once(&seen, 2); time = try cursor.uint64() }
                    else if cursor.key(key, is: "user") { try JSONCursor.once(&seen, 4); user = try cursor.string() }
                    else { try cursor.skipMember(key, others: &others) }
                } while try cursor.nextMember()
            }
            guard let user, let currency, let time else { throw JSONReadError(reason: "WalletOpened lacks a field") }
            return WalletOpened(user: user, currency: currency, timeMilliseconds: time)
        }
    }
}

extension Posting {
    /// A posting whose rules the reader has already checked (`Posting.init(from:)`'s checks),
    /// so they are not checked twice.
    fileprivate init(checkedDebit debit: String, credit: String, amount: Int64, currency: Currency) {
        self.debit = debit
        self.credit = credit
        self.amount = amount
        self.currency = currency
    }
}

/// The fields of a `PurchaseCaptured` that the server's sweeper watches (which hold it ends,
/// which vendor and currency now have a payable, which user bought), read without decoding the
/// rest: the sweeper tails every event the ledger appends, and decoding each purchase whole
/// was 2.7 % of the server's CPU.
public struct CaptureSummary: Sendable, Equatable {
    public let transaction: String
    public let user: String
    public let vendor: String
    public let currency: Currency

    public init(transaction: String, user: String, vendor: String, currency: Currency) {
        self.transaction = transaction
        self.user = user
        self.vendor = vendor
        self.currency = currency
    }

    /// The summary of a `PurchaseCaptured` payload; nil when the payload is not one the reader
    /// fully understands (the caller then decodes the event whole, and gets its error).
    public init?(purchaseCaptured payload: [UInt8]) {
        guard let summary = EventJSONReader.captureSummary(payload) else { return nil }
        self = summary
    }
}

extension EventJSONReader {
    static func captureSummary(_ payload: [UInt8]) -> CaptureSummary? {
        try? JSONCursor.read(payload) { (cursor: inout JSONCursor) throws(JSONReadError) -> CaptureSummary in
            var transaction: String?, user: String?, vendor: String?, currency: Currency?
            var seen: UInt32 = 0
            var others: [JSONKey] = []
            if try cursor.openObject() {
                repeat {
                    let key = try cursor.key()
                    if cursor.key(key, is: "transaction") { try JSONCursor.once(&seen, 1); transaction = try cursor.string() }
                    else if cursor.key(key, is: "user") { try JSONCursor.once(&seen, 2); user = try cursor.string() }
                    else if cursor.key(key, is: "vendor") { try JSONCursor.once(&seen, 4); vendor = try cursor.string() }
                    else if cursor.key(key, is: "terms") { try JSONCursor.once(&seen, 8); currency = try cursor.termsCurrency() }
                    else { try cursor.skipMember(key, others: &others) }
                } while try cursor.nextMember()
            }
            guard let transaction, let user, let vendor, let currency else { throw JSONReadError(reason: "PurchaseCaptured lacks a field") }
            return CaptureSummary(transaction: transaction, user: user, vendor: vendor, currency: currency)
        }
    }
}

extension JSONCursor {
    /// The `currency` of a content-terms object, the other members skipped.
    mutating func termsCurrency() throws(JSONReadError) -> Currency {
        var currency: Currency?
        var others: [JSONKey] = []
        if try openObject() {
            repeat {
                let key = try self.key()
                if self.key(key, is: "currency") {
                    guard currency == nil else { throw JSONReadError(reason: "duplicate key") }
                    currency = try self.currency()
                } else {
                    try skipMember(key, others: &others)
                }
            } while try nextMember()
        }
        guard let currency else { throw JSONReadError(reason: "terms lack a currency") }
        return currency
    }
}

// MARK: The writer's own layout
//
// Almost every payload a reader meets was written by `JSONWriter` (EventJSON.swift): keys in
// sorted order, no whitespace, absent optionals left out. Each reader above first tries that
// exact layout: a member is then one comparison of `,"name":` against the bytes, not a scan
// of the key and a search through the type's keys. The values are read by the same readers as
// in the general loop, so a payload read this way gives the same value. The first byte that
// is not as the writer lays it out (another order, whitespace, an unknown or repeated key, a
// null written out) sends the cursor back to where the object began, and the general loop
// reads it from there.
extension JSONCursor {
    /// Reads the bytes at the cursor with `body` when they are in the writer's layout; nil,
    /// and the cursor back where it was, when `body` finds they are not.
    @inline(__always)
    mutating func inWriterLayout<T>(_ body: (inout JSONCursor) throws(JSONReadError) -> T?) throws(JSONReadError) -> T? {
        skipWhitespace()
        let start = index, startDepth = depth
        if let value = try body(&self) { return value }
        index = start
        depth = startDepth
        return nil
    }

    /// Reads `byte` when it is the one at the cursor.
    @inline(__always)
    mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// Reads `"name":` (after a ',' unless `first`) when those are the bytes at the cursor.
    @inline(__always)
    mutating func member(_ name: StaticString, first: Bool = false) -> Bool {
        let length = name.utf8CodeUnitCount
        let start = first ? index : index + 1
        guard start + length + 3 <= bytes.count, first || bytes[index] == UInt8(ascii: ","),
              bytes[start] == UInt8(ascii: "\""), bytes[start + length + 1] == UInt8(ascii: "\""),
              bytes[start + length + 2] == UInt8(ascii: ":"),
              memcmp(bytes.baseAddress! + start + 1, name.utf8Start, length) == 0 else { return false }
        index = start + length + 3
        return true
    }

    /// `{`, counted as `openObject` counts it.
    @inline(__always)
    mutating func enterObject() -> Bool {
        guard depth < Self.maximumDepth, take(UInt8(ascii: "{")) else { return false }
        depth += 1
        return true
    }

    @inline(__always)
    mutating func leaveObject() -> Bool {
        guard take(UInt8(ascii: "}")) else { return false }
        depth -= 1
        return true
    }

    /// An array of objects in the writer's layout, each read by `element` (nil when one is not).
    @inline(__always)
    mutating func writerArray<T>(_ element: (inout JSONCursor) throws(JSONReadError) -> T?) throws(JSONReadError) -> [T]? {
        guard depth < Self.maximumDepth, take(UInt8(ascii: "[")) else { return nil }
        depth += 1
        var values: [T] = []
        if take(UInt8(ascii: "]")) {
            depth -= 1
            return values
        }
        values.reserveCapacity(4)
        repeat {
            guard let value = try element(&self) else { return nil }
            values.append(value)
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "]")) else { return nil }
        depth -= 1
        return values
    }

    /// `JSONWriter.access`: the terms present, in sorted order.
    mutating func writerAccess() throws(JSONReadError) -> AccessTerms? {
        guard enterObject() else { return nil }
        var views: Int?, hours: Int?, days: Int?, expires: UInt64?
        var first = true
        if member("days", first: first) { days = try optionalInt(); first = false }
        if member("expiresAtMilliseconds", first: first) { expires = try optionalUInt64(); first = false }
        if member("hours", first: first) { hours = try optionalInt(); first = false }
        if member("views", first: first) { views = try optionalInt(); first = false }
        guard leaveObject() else { return nil }
        return AccessTerms(views: views, hours: hours, days: days, expiresAtMilliseconds: expires)
    }

    mutating func writerRoyaltyShares() throws(JSONReadError) -> [RoyaltyShare]? {
        try writerArray { (cursor: inout JSONCursor) throws(JSONReadError) -> RoyaltyShare? in
            guard cursor.enterObject(), cursor.member("basisPoints", first: true) else { return nil }
            let basisPoints = try cursor.int64()
            guard cursor.member("holder") else { return nil }
            let holder = try cursor.string()
            guard cursor.leaveObject() else { return nil }
            return RoyaltyShare(holder: holder, basisPoints: basisPoints)
        }
    }

    /// `JSONWriter.termsObject`.
    mutating func writerTerms() throws(JSONReadError) -> ContentTerms? {
        guard enterObject(), member("access", first: true) else { return nil }
        let access = try self.access()
        guard member("content") else { return nil }
        let content = try string()
        guard member("currency") else { return nil }
        let currency = try self.currency()
        guard member("description") else { return nil }
        let description = try string()
        guard member("incentiveIDs") else { return nil }
        let incentiveIDs = try strings()
        guard member("price") else { return nil }
        let price = try int64()
        guard member("royalties") else { return nil }
        let royalties = try royaltyShares()
        guard member("title") else { return nil }
        let title = try string()
        guard member("url") else { return nil }
        let url = try string()
        guard leaveObject() else { return nil }
        return ContentTerms(
            content: content, title: title, price: price, currency: currency, description: description, url: url,
            access: access, incentiveIDs: incentiveIDs, royalties: royalties)
    }

    /// `JSONWriter.postings`, with the checks of the general reader.
    mutating func writerPostings() throws(JSONReadError) -> [Posting]? {
        try writerArray { (cursor: inout JSONCursor) throws(JSONReadError) -> Posting? in
            guard cursor.enterObject(), cursor.member("amount", first: true) else { return nil }
            let amount = try cursor.int64()
            guard cursor.member("credit") else { return nil }
            let credit = try cursor.string()
            guard cursor.member("currency") else { return nil }
            let currency = try cursor.currency()
            guard cursor.member("debit") else { return nil }
            let debit = try cursor.string()
            guard cursor.leaveObject() else { return nil }
            guard amount > 0, debit != credit, Self.hasCurrencySuffix(debit, currency), Self.hasCurrencySuffix(credit, currency) else {
                throw JSONReadError(reason: "a posting breaks the posting rules")
            }
            return Posting(checkedDebit: debit, credit: credit, amount: amount, currency: currency)
        }
    }

    mutating func writerSources() throws(JSONReadError) -> [FundingSource]? {
        try writerArray { (cursor: inout JSONCursor) throws(JSONReadError) -> FundingSource? in
            guard cursor.enterObject(), cursor.member("account", first: true) else { return nil }
            let account = try cursor.string()
            guard cursor.member("amount") else { return nil }
            let amount = try cursor.int64()
            guard cursor.leaveObject() else { return nil }
            return FundingSource(account: account, amount: amount)
        }
    }

    mutating func writerRoyaltyPayments() throws(JSONReadError) -> [RoyaltyPayment]? {
        try writerArray { (cursor: inout JSONCursor) throws(JSONReadError) -> RoyaltyPayment? in
            guard cursor.enterObject(), cursor.member("amount", first: true) else { return nil }
            let amount = try cursor.int64()
            guard cursor.member("holder") else { return nil }
            let holder = try cursor.string()
            guard cursor.leaveObject() else { return nil }
            return RoyaltyPayment(holder: holder, amount: amount)
        }
    }

    mutating func writerIdempotency() throws(JSONReadError) -> IdempotencyMark? {
        guard enterObject(), member("key", first: true) else { return nil }
        let key = try string()
        guard member("requestDigest") else { return nil }
        let digest = try string()
        guard member("vendor") else { return nil }
        let vendor = try string()
        guard leaveObject() else { return nil }
        return IdempotencyMark(vendor: vendor, key: key, requestDigest: digest)
    }

    /// `EventJSON.purchaseCaptured`.
    mutating func writerPurchaseCaptured() throws(JSONReadError) -> PurchaseCaptured? {
        guard enterObject(), member("entitlement", first: true) else { return nil }
        let entitlement = try access()
        guard member("fee") else { return nil }
        let fee = try int64()
        let idempotency = member("idempotency") ? try self.idempotency() : nil
        let member = self.member("member") ? try optionalString() : nil
        guard self.member("oneStep") else { return nil }
        let oneStep = try bool()
        guard self.member("postings") else { return nil }
        let postings = try self.postings()
        guard self.member("rounding") else { return nil }
        let rounding = try string(known: royaltyRoundingRule)
        guard self.member("royalties") else { return nil }
        let royalties = try royaltyPayments()
        guard self.member("sources") else { return nil }
        let sources = try self.sources()
        guard self.member("terms") else { return nil }
        let terms = try self.terms()
        guard self.member("timeMilliseconds") else { return nil }
        let time = try uint64()
        guard self.member("transaction") else { return nil }
        let transaction = try string()
        guard self.member("user") else { return nil }
        let user = try string()
        guard self.member("vendor") else { return nil }
        let vendor = try string()
        guard leaveObject() else { return nil }
        return PurchaseCaptured(
            transaction: transaction, user: user, member: member, vendor: vendor, terms: terms, oneStep: oneStep,
            sources: sources, fee: fee, royalties: royalties, rounding: rounding, entitlement: entitlement, postings: postings,
            idempotency: idempotency, timeMilliseconds: time)
    }

    /// `EventJSON.purchaseAuthorized`. The members it shares with `PurchaseCaptured` are read
    /// in line, as there: a helper returning them (terms, sources and four more) made decoding a
    /// capture 1.26 → 1.76 µs (`ledger-benchmark --only codec`), in copies of what it returned.
    mutating func writerPurchaseAuthorized() throws(JSONReadError) -> PurchaseAuthorized? {
        guard enterObject(), member("holdExpiresAtMilliseconds", first: true) else { return nil }
        let holdExpires = try uint64()
        let idempotency = member("idempotency") ? try self.idempotency() : nil
        let member = self.member("member") ? try optionalString() : nil
        guard self.member("postings") else { return nil }
        let postings = try self.postings()
        guard self.member("sources") else { return nil }
        let sources = try self.sources()
        guard self.member("terms") else { return nil }
        let terms = try self.terms()
        guard self.member("timeMilliseconds") else { return nil }
        let time = try uint64()
        guard self.member("transaction") else { return nil }
        let transaction = try string()
        guard self.member("user") else { return nil }
        let user = try string()
        guard self.member("vendor") else { return nil }
        let vendor = try string()
        guard leaveObject() else { return nil }
        return PurchaseAuthorized(
            transaction: transaction, user: user, member: member, vendor: vendor, terms: terms,
            holdExpiresAtMilliseconds: holdExpires, sources: sources, postings: postings, idempotency: idempotency,
            timeMilliseconds: time)
    }
}
