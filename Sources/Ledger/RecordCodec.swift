// Binary layouts of the write model's hot records.
//
// The write model used to hold every record as Foundation JSON, and a purchase decoded and
// re-encoded several of them (≈ 90 % of its CPU). The records a purchase touches are now stored
// in a compact binary layout: a tag byte naming the record kind and layout version, then the
// fields in declaration order. Integers are LEB128 varints (signed ones zigzag-encoded),
// strings are a varint byte count and UTF-8, optionals a presence byte, arrays a varint count,
// and dictionaries are written sorted by key so that the bytes are a function of the value
// (live folding and a replay from empty must give identical bytes).
//
// JSON values start with `{` or `[`, never with a tag byte, so a value written before this
// layout still decodes: readers fall back to `JSONDecoder` for it. Records that are not hot
// (funding, disputes, lots, referrals) stay JSON.

import Foundation

enum RecordTag {
    static let user: UInt8 = 0xA1
    static let vendor: UInt8 = 0xA2
    /// A vendor whose policy has thresholds by currency (write-model layout 5): layout 0xA2,
    /// then the thresholds. A record without them keeps 0xA2 and its bytes.
    static let vendorWithThresholds: UInt8 = 0xA8
    static let content: UInt8 = 0xA3
    static let transaction: UInt8 = 0xA4
    /// A purchase with more (write-model layout 6): layout 0xA4, then a byte of flags saying
    /// which of these follow, in this order: what partial refunds took (1), the vendor's data
    /// (2). A record with neither keeps 0xA4 and its bytes.
    static let transactionWithMore: UInt8 = 0xA9
    static let idempotency: UInt8 = 0xA5
    /// 0xA6 was the spending log's first layout (still read).
    static let spending: UInt8 = 0xA7
}

public struct RecordCodingError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "write-model record: \(reason)" }
}

/// Appends fields to a byte array.
public struct ByteWriter {
    public internal(set) var bytes: [UInt8]

    public init(tag: UInt8, capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(tag)
    }

    @inline(__always) public mutating func byte(_ value: UInt8) { bytes.append(value) }

    @inline(__always) public mutating func unsigned(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    @inline(__always) public mutating func signed(_ value: Int64) {
        unsigned(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inline(__always) public mutating func int(_ value: Int) { signed(Int64(value)) }

    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            unsigned(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func optional<T>(_ value: T?, _ write: (inout ByteWriter, T) -> Void) {
        if let value {
            bytes.append(1)
            write(&self, value)
        } else {
            bytes.append(0)
        }
    }

    public mutating func optionalString(_ value: String?) { optional(value) { $0.string($1) } }
    public mutating func optionalUnsigned(_ value: UInt64?) { optional(value) { $0.unsigned($1) } }
    public mutating func optionalSigned(_ value: Int64?) { optional(value) { $0.signed($1) } }
    public mutating func optionalInt(_ value: Int?) { optional(value) { $0.int($1) } }

    public mutating func array<T>(_ values: [T], _ write: (inout ByteWriter, T) -> Void) {
        unsigned(UInt64(values.count))
        for value in values { write(&self, value) }
    }
}

/// Reads fields written by `ByteWriter`; every read is bounds-checked and throws on truncation.
public struct ByteReader {
    let bytes: [UInt8]
    var offset: Int

    /// The record's tag: its kind, and which of the kind's layouts follows.
    public let tag: UInt8

    /// Checks the tag and positions after it.
    public init(_ bytes: [UInt8], tag: UInt8) throws {
        guard bytes.first == tag else { throw RecordCodingError(reason: "expected tag \(tag), got \(bytes.first.map(String.init) ?? "nothing")") }
        self.bytes = bytes
        self.tag = tag
        offset = 1
    }

    /// Checks that the tag is `tag` or one of `others` (a kind's later layouts) and positions
    /// after it. `others` is read only when the tag is not `tag`, the common case.
    public init(_ bytes: [UInt8], tag: UInt8, orOneOf others: @autoclosure () -> [UInt8]) throws {
        guard let first = bytes.first, first == tag || others().contains(first) else {
            throw RecordCodingError(reason: "expected tag \(tag) or one of \(others()), got \(bytes.first.map(String.init) ?? "nothing")")
        }
        self.bytes = bytes
        self.tag = first
        offset = 1
    }

    public var atEnd: Bool { offset == bytes.count }

    @inline(__always) public mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw RecordCodingError(reason: "truncated") }
        defer { offset += 1 }
        return bytes[offset]
    }

    @inline(__always) public mutating func unsigned() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            guard shift < 64 else { throw RecordCodingError(reason: "varint too long") }
            result |= UInt64(next & 0x7F) << shift
            if next & 0x80 == 0 { return result }
            shift += 7
        }
    }

    @inline(__always) public mutating func signed() throws -> Int64 {
        let raw = try unsigned()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    public mutating func int() throws -> Int {
        let value = try signed()
        guard let int = Int(exactly: value) else { throw RecordCodingError(reason: "integer out of range") }
        return int
    }

    public mutating func count() throws -> Int {
        let value = try unsigned()
        guard value <= UInt64(bytes.count - offset) else { throw RecordCodingError(reason: "count beyond the record") }
        return Int(value)
    }

    public mutating func string() throws -> String {
        let length = try count()
        let start = offset
        offset += length
        // Strict: bytes that are not UTF-8 are a damaged record, never silently replaced.
        // ASCII (nearly every stored string) is UTF-8 as it is: decoding it cannot repair
        // anything, and skips `String(validating:as:)`, which is generic over the encoding and
        // looked its metadata up on every call (6 % of a purchase's decide-and-fold).
        let text = bytes.withUnsafeBufferPointer { buffer -> String? in
            let slice = UnsafeBufferPointer(rebasing: buffer[start..<(start + length)])
            if Self.isASCII(slice) { return String(decoding: slice, as: UTF8.self) }
            return String(validating: slice, as: UTF8.self)
        }
        guard let text else { throw RecordCodingError(reason: "a string is not UTF-8") }
        return text
    }

    /// Whether every byte is below 0x80, eight at a time.
    @inline(__always) static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        var any: UInt64 = 0
        while index + 8 <= count {
            any |= UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            index += 8
        }
        while index < count {
            any |= UInt64(base[index])
            index += 1
        }
        return any & 0x8080_8080_8080_8080 == 0
    }

    public mutating func bool() throws -> Bool {
        switch try byte() {
        case 0: return false
        case 1: return true
        default: throw RecordCodingError(reason: "bad boolean")
        }
    }

    public mutating func optional<T>(_ read: (inout ByteReader) throws -> T) throws -> T? {
        switch try byte() {
        case 0: return nil
        case 1: return try read(&self)
        default: throw RecordCodingError(reason: "bad presence byte")
        }
    }

    public mutating func optionalString() throws -> String? { try optional { try $0.string() } }
    public mutating func optionalUnsigned() throws -> UInt64? { try optional { try $0.unsigned() } }
    public mutating func optionalSigned() throws -> Int64? { try optional { try $0.signed() } }
    public mutating func optionalInt() throws -> Int? { try optional { try $0.int() } }

    public mutating func array<T>(_ read: (inout ByteReader) throws -> T) throws -> [T] {
        let count = try count()
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try read(&self)) }
        return values
    }

    public mutating func currency() throws -> Currency {
        let code = try string()
        guard let currency = Currency(code: code) else { throw RecordCodingError(reason: "unknown currency \(code)") }
        return currency
    }

    public mutating func rawEnum<T: RawRepresentable>(_ type: T.Type) throws -> T where T.RawValue == String {
        let raw = try string()
        guard let value = T(rawValue: raw) else { throw RecordCodingError(reason: "bad \(T.self) \(raw)") }
        return value
    }

    public func finish() throws {
        guard atEnd else { throw RecordCodingError(reason: "\(bytes.count - offset) bytes after the record") }
    }
}

/// A record with a binary layout in the write model.
protocol BinaryRecord: Codable {
    static var tag: UInt8 { get }
    /// Every tag of the kind's layouts (`tag` and any later one).
    static var tags: [UInt8] { get }
    /// The tag this value is written with (the layout its fields need).
    var layoutTag: UInt8 { get }
    func write(to writer: inout ByteWriter)
    init(from reader: inout ByteReader) throws
}

extension BinaryRecord {
    static var tags: [UInt8] { [tag] }
    var layoutTag: UInt8 { Self.tag }

    var binaryBytes: [UInt8] {
        var writer = ByteWriter(tag: layoutTag, capacity: 96)
        write(to: &writer)
        return writer.bytes
    }

    /// Decodes the binary layout, or JSON written before it existed.
    static func decodeStored(_ bytes: [UInt8]) throws -> Self {
        if let first = bytes.first, first == tag || tags.contains(first) {
            var reader = try ByteReader(bytes, tag: tag, orOneOf: tags)
            let value = try Self(from: &reader)
            try reader.finish()
            return value
        }
        return try JSONDecoder().decode(Self.self, from: Data(bytes))
    }
}

extension Currency {
    @inline(__always) public func write(to writer: inout ByteWriter) { writer.string(code) }
}

extension UserRecord: BinaryRecord {
    static var tag: UInt8 { RecordTag.user }

    func write(to writer: inout ByteWriter) {
        writer.string(channel.rawValue)
        writer.optionalString(referringVendor)
        writer.optionalString(representative)
        writer.array(members.sorted { $0.key < $1.key }) { $0.string($1.key); $0.bool($1.value) }
        writer.array(wallets) { $1.write(to: &$0) }
        writer.array(creditLimits.sorted { $0.key < $1.key }) { $0.string($1.key); $0.signed($1.value) }
        writer.array(limits) { $1.write(to: &$0) }
        writer.unsigned(openedAtMilliseconds)
    }

    init(from reader: inout ByteReader) throws {
        let channel = try reader.rawEnum(AccountChannel.self)
        let referringVendor = try reader.optionalString()
        let representative = try reader.optionalString()
        var members: [String: Bool] = [:]
        for _ in 0..<(try reader.count()) { members[try reader.string()] = try reader.bool() }
        let wallets = try reader.array { try $0.currency() }
        var creditLimits: [String: Int64] = [:]
        for _ in 0..<(try reader.count()) { creditLimits[try reader.string()] = try reader.signed() }
        let limits = try reader.array { try SpendingLimit(from: &$0) }
        self.init(
            channel: channel, referringVendor: referringVendor, representative: representative, members: members,
            wallets: wallets, creditLimits: creditLimits, limits: limits, openedAtMilliseconds: try reader.unsigned())
    }
}

extension SpendingLimit {
    public func write(to writer: inout ByteWriter) {
        writer.string(kind.rawValue)
        currency.write(to: &writer)
        writer.signed(amount)
        writer.optionalString(member)
        writer.optionalString(vendor)
    }

    public init(from reader: inout ByteReader) throws {
        self.init(
            kind: try reader.rawEnum(Kind.self), currency: try reader.currency(), amount: try reader.signed(),
            member: try reader.optionalString(), vendor: try reader.optionalString())
    }
}

extension VendorRecord: BinaryRecord {
    static var tag: UInt8 { RecordTag.vendor }
    static var tags: [UInt8] { [RecordTag.vendor, RecordTag.vendorWithThresholds] }
    var layoutTag: UInt8 { settlement.currencyThresholds == nil ? RecordTag.vendor : RecordTag.vendorWithThresholds }

    func write(to writer: inout ByteWriter) {
        writer.string(name)
        writer.array(sites) { $0.string($1) }
        writer.signed(feeBasisPoints)
        writer.optionalSigned(settlement.thresholdAmount)
        writer.optionalUnsigned(settlement.periodSeconds)
        writer.unsigned(lastSettledAtMilliseconds)
        writer.unsigned(settledThroughSequence)
        // Write-model layout 5, tag `vendorWithThresholds`: a policy's thresholds by currency.
        if let thresholds = settlement.currencyThresholds { writer.thresholds(thresholds) }
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            name: try reader.string(), sites: try reader.array { try $0.string() }, feeBasisPoints: try reader.signed(),
            settlement: SettlementPolicy(thresholdAmount: try reader.optionalSigned(), periodSeconds: try reader.optionalUnsigned()),
            lastSettledAtMilliseconds: try reader.unsigned(), settledThroughSequence: try reader.unsigned())
        if reader.tag == RecordTag.vendorWithThresholds { settlement.currencyThresholds = try reader.thresholds() }
    }
}

extension ByteWriter {
    /// Thresholds by currency code, sorted by code: a count, then each code and amount.
    public mutating func thresholds(_ thresholds: [String: Int64]) {
        let codes = thresholds.keys.sorted()
        array(codes) { writer, code in
            writer.string(code)
            writer.signed(thresholds[code]!)
        }
    }
}

extension ByteReader {
    /// What ``ByteWriter/thresholds(_:)`` wrote: at least one, each code once, in order.
    public mutating func thresholds() throws -> [String: Int64] {
        let pairs = try array { (try $0.string(), try $0.signed()) }
        guard !pairs.isEmpty, zip(pairs, pairs.dropFirst()).allSatisfy({ $0.0 < $1.0 }) else {
            throw RecordCodingError(reason: "thresholds by currency are empty or out of order")
        }
        return Dictionary(uniqueKeysWithValues: pairs)
    }
}

extension ContentTerms: BinaryRecord {
    static var tag: UInt8 { RecordTag.content }

    func write(to writer: inout ByteWriter) {
        writer.string(content)
        writer.string(title)
        writer.signed(price)
        currency.write(to: &writer)
        writer.string(description)
        writer.string(url)
        writer.optionalInt(access.views)
        writer.optionalInt(access.hours)
        writer.optionalInt(access.days)
        writer.optionalUnsigned(access.expiresAtMilliseconds)
        writer.array(incentiveIDs) { $0.string($1) }
        writer.array(royalties) { $0.string($1.holder); $0.signed($1.basisPoints) }
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            content: try reader.string(), title: try reader.string(), price: try reader.signed(), currency: try reader.currency(),
            description: try reader.string(), url: try reader.string(),
            access: AccessTerms(
                views: try reader.optionalInt(), hours: try reader.optionalInt(), days: try reader.optionalInt(),
                expiresAtMilliseconds: try reader.optionalUnsigned()),
            incentiveIDs: try reader.array { try $0.string() },
            royalties: try reader.array { RoyaltyShare(holder: try $0.string(), basisPoints: try $0.signed()) })
    }
}

extension TransactionRecord: BinaryRecord {
    static var tag: UInt8 { RecordTag.transaction }
    static var tags: [UInt8] { [RecordTag.transaction, RecordTag.transactionWithMore] }
    var layoutTag: UInt8 { refundedParts == nil && vendorData == nil ? RecordTag.transaction : RecordTag.transactionWithMore }

    func write(to writer: inout ByteWriter) {
        writer.string(user)
        writer.optionalString(member)
        writer.string(vendor)
        terms.write(to: &writer)
        writer.string(status.rawValue)
        writer.optionalUnsigned(holdExpiresAtMilliseconds)
        writer.array(sources) { $0.string($1.account); $0.signed($1.amount) }
        writer.optionalSigned(fee)
        writer.optional(royalties) { writer, royalties in
            writer.array(royalties) { $0.string($1.holder); $0.signed($1.amount) }
        }
        guard layoutTag == RecordTag.transactionWithMore else { return }
        writer.byte((refundedParts == nil ? 0 : 1) | (vendorData == nil ? 0 : 2))
        if let parts = refundedParts {
            writer.signed(parts.fee)
            writer.array(parts.royalties) { $0.signed($1) }
            writer.array(parts.sources) { $0.signed($1) }
        }
        if let data = vendorData {
            writer.optionalString(data.reference)
            writer.optional(data.parameters) { writer, parameters in
                writer.array(parameters.sorted { $0.key < $1.key }) { $0.string($1.key); $0.string($1.value) }
            }
        }
    }

    init(from reader: inout ByteReader) throws {
        self.init(
            user: try reader.string(), member: try reader.optionalString(), vendor: try reader.string(),
            terms: try ContentTerms(from: &reader), status: try reader.rawEnum(Status.self),
            holdExpiresAtMilliseconds: try reader.optionalUnsigned(),
            sources: try reader.array { FundingSource(account: try $0.string(), amount: try $0.signed()) },
            fee: try reader.optionalSigned(),
            royalties: try reader.optional { try $0.array { RoyaltyPayment(holder: try $0.string(), amount: try $0.signed()) } })
        guard reader.tag == RecordTag.transactionWithMore else { return }
        let flags = try reader.byte()
        guard flags & ~3 == 0, flags != 0 else { throw RecordCodingError(reason: "a purchase record's flags are \(flags)") }
        if flags & 1 != 0 {
            refundedParts = RefundedParts(
                fee: try reader.signed(),
                royalties: try reader.array { try $0.signed() }, sources: try reader.array { try $0.signed() })
        }
        if flags & 2 != 0 {
            let reference = try reader.optionalString()
            let parameters: [String: String]? = try reader.optional { reader in
                var parameters: [String: String] = [:]
                for (name, value) in try reader.array({ (try $0.string(), try $0.string()) }) {
                    guard parameters.updateValue(value, forKey: name) == nil else {
                        throw RecordCodingError(reason: "a purchase record names parameter \(name) twice")
                    }
                }
                return parameters
            }
            vendorData = VendorData(reference: reference, parameters: parameters)
        }
    }
}

extension IdempotencyRecord: BinaryRecord {
    static var tag: UInt8 { RecordTag.idempotency }

    func write(to writer: inout ByteWriter) {
        writer.string(requestDigest)
        writer.unsigned(sequence)
    }

    init(from reader: inout ByteReader) throws {
        self.init(requestDigest: try reader.string(), sequence: try reader.unsigned())
    }
}

/// A user's recent spending (`spend/<user>`): every purchase of the last 30 days, exactly as
/// the JSON list held it, in an append-only binary log.
///
/// Layout (tag `0xA7`): the tag, the first entry's time and the smallest entry time (8 bytes
/// each, little-endian), then the entries in the order added, each
/// `time − first time` (zigzag varint), `amount`, `vendor`, `member?`, and the transaction:
/// `0, sequence` for a server-created `tx-<sequence>` ID, else `1, string`. Adding an entry
/// while nothing is old enough to drop (the smallest time is after the horizon) appends its
/// bytes without decoding the others, so the fold's cost no longer grows with the list; when
/// something is old enough, the log is decoded, filtered as the JSON list's `removeAll` did,
/// and written again. The bytes are always those of `encode(entries)`. (An empty log's header
/// holds 0 and `UInt64.max`.)
///
/// The header is checked wherever entries are read: decoding, and the drop, refuse a log whose
/// first entry is not at the header's first time (its delta 0) or whose smallest time is not
/// the header's. A changed base would otherwise move every time, and the limits with them.
/// Appending reads no entry and carries such a log on as it is; decoding still refuses it.
///
/// Also read: the first binary layout (tag `0xA6`: one minimum time, absolute times, the
/// transaction as a string) and JSON; both are rewritten in this layout when next changed.
enum SpendLog {
    static let headerBytes = 17
    static let firstLayoutTag: UInt8 = 0xA6
    static let firstLayoutHeaderBytes = 9

    static func entryBytes(_ entry: SpendEntry, base: UInt64, into writer: inout ByteWriter) {
        writer.signed(Int64(bitPattern: entry.timeMilliseconds &- base))
        writer.signed(entry.amount)
        writer.string(entry.vendor)
        writer.optionalString(entry.member)
        if let sequence = ServerTransactionID.sequence(of: entry.transaction) {
            writer.byte(0)
            writer.unsigned(sequence)
        } else {
            writer.byte(1)
            writer.string(entry.transaction)
        }
    }

    static func appendTime(_ value: UInt64, to writer: inout ByteWriter) {
        withUnsafeBytes(of: value.littleEndian) { writer.bytes.append(contentsOf: $0) }
    }

    static func encode(_ entries: [SpendEntry]) -> [UInt8] {
        var writer = ByteWriter(tag: RecordTag.spending, capacity: headerBytes + entries.count * 16)
        let base = entries.first?.timeMilliseconds ?? 0
        appendTime(base, to: &writer)
        appendTime(entries.map(\.timeMilliseconds).min() ?? .max, to: &writer)
        for entry in entries { entryBytes(entry, base: base, into: &writer) }
        return writer.bytes
    }

    static func time(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }

    static func decode(_ bytes: [UInt8]) throws -> [SpendEntry] {
        switch bytes.first {
        case RecordTag.spending:
            guard bytes.count >= headerBytes else { throw RecordCodingError(reason: "truncated spending log") }
            let base = time(bytes, at: 1)
            var reader = try ByteReader(bytes, tag: RecordTag.spending)
            reader.offset = headerBytes
            var entries: [SpendEntry] = []
            while !reader.atEnd {
                let time = base &+ UInt64(bitPattern: try reader.signed())
                let amount = try reader.signed()
                let vendor = try reader.string()
                let member = try reader.optionalString()
                let transaction: String
                switch try reader.byte() {
                case 0: transaction = ServerTransactionID.make(try reader.unsigned())
                case 1: transaction = try reader.string()
                default: throw RecordCodingError(reason: "bad transaction kind in a spending log")
                }
                entries.append(SpendEntry(timeMilliseconds: time, amount: amount, vendor: vendor, member: member, transaction: transaction))
            }
            // The header is what `encode` writes for these entries: the first one's time (every
            // time is read relative to it, so a changed base would move them all) and the
            // smallest (which decides whether adding drops anything). A log whose header says
            // otherwise is damaged, not read with times that were never written.
            let smallest = entries.map(\.timeMilliseconds).min()
            guard base == entries.first?.timeMilliseconds ?? 0, time(bytes, at: 9) == smallest ?? .max else {
                throw RecordCodingError(reason: "spending log header does not match its entries")
            }
            return entries
        case firstLayoutTag:
            guard bytes.count >= firstLayoutHeaderBytes else { throw RecordCodingError(reason: "truncated spending log") }
            var reader = try ByteReader(bytes, tag: firstLayoutTag)
            reader.offset = firstLayoutHeaderBytes
            var entries: [SpendEntry] = []
            while !reader.atEnd {
                entries.append(SpendEntry(
                    timeMilliseconds: try reader.unsigned(), amount: try reader.signed(), vendor: try reader.string(),
                    member: try reader.optionalString(), transaction: try reader.string()))
            }
            return entries
        default:
            return try JSONDecoder().decode([SpendEntry].self, from: Data(bytes))
        }
    }

    /// `adding` when some entry is at or before `horizon`, without decoding the log: its entries
    /// are scanned in place, and those kept copied byte for byte after their time (re-based on
    /// the first one kept), then `entry` added. The same bytes as decoding, dropping and
    /// encoding again, without a `String` per field: a user who buys every day has a month of
    /// entries, and each purchase past the first month dropped some. Nil when the log holds
    /// anything that a decoding would not give back byte for byte (a varint not in its shortest
    /// form, a string that is not ASCII, a transaction written as text that reads as a server
    /// ID) or that is damaged: the caller decodes it, which refuses what is damaged.
    static func dropping(through horizon: UInt64, from stored: [UInt8], adding entry: SpendEntry) -> [UInt8]? {
        let base = time(stored, at: 1)
        var kept: [(time: UInt64, rest: Range<Int>)] = []
        var smallest = UInt64.max
        let scanned = stored.withUnsafeBufferPointer { bytes -> Bool in
            var offset = headerBytes
            /// A varint in its shortest form (what `ByteWriter.unsigned` writes).
            func varint() -> UInt64? {
                let start = offset
                var result: UInt64 = 0
                var shift: UInt64 = 0
                while offset < bytes.count {
                    let byte = bytes[offset]
                    offset += 1
                    guard shift < 63 || byte <= 1 else { return nil }
                    result |= UInt64(byte & 0x7F) << shift
                    if byte & 0x80 == 0 { return byte == 0 && offset - start > 1 ? nil : result }
                    shift += 7
                }
                return nil
            }
            /// Skips an ASCII string; its bytes, or nil.
            func string() -> UnsafeBufferPointer<UInt8>? {
                guard let length = varint(), length <= UInt64(bytes.count - offset) else { return nil }
                let text = UnsafeBufferPointer(rebasing: bytes[offset..<(offset + Int(length))])
                guard ByteReader.isASCII(text) else { return nil }
                offset += Int(length)
                return text
            }
            while offset < bytes.count {
                let isFirst = offset == headerBytes
                guard let delta = varint(), delta == 0 || !isFirst else { return false }
                let time = base &+ ((delta >> 1) ^ (0 &- (delta & 1)))
                smallest = min(smallest, time)
                let rest = offset
                guard varint() != nil, string() != nil, offset < bytes.count else { return false }
                let member = bytes[offset]
                offset += 1
                guard member == 0 || (member == 1 && string() != nil), offset < bytes.count else { return false }
                let kind = bytes[offset]
                offset += 1
                switch kind {
                case 0: guard varint() != nil else { return false }
                case 1: guard let text = string(), ServerTransactionID.sequence(bytes: text) == nil else { return false }
                default: return false
                }
                if time > horizon { kept.append((time, rest..<offset)) }
            }
            return true
        }
        // The header must be what `decode` accepts (the first entry's delta 0, the smallest time
        // the stored one): otherwise the times read here were moved by a damaged base, and
        // writing them back under a fresh header would hide the damage. The decoder refuses it.
        guard scanned, smallest == time(stored, at: 9) else { return nil }
        let newBase = kept.first?.time ?? entry.timeMilliseconds
        var minimum = entry.timeMilliseconds
        for entry in kept { minimum = min(minimum, entry.time) }
        var writer = ByteWriter(tag: RecordTag.spending, capacity: stored.count + 24)
        appendTime(newBase, to: &writer)
        appendTime(minimum, to: &writer)
        for entry in kept {
            writer.signed(Int64(bitPattern: entry.time &- newBase))
            writer.bytes.append(contentsOf: stored[entry.rest])
        }
        entryBytes(entry, base: newBase, into: &writer)
        return writer.bytes
    }

    /// The log with `entry` added and every entry at or before `horizon` dropped.
    static func adding(_ entry: SpendEntry, to stored: [UInt8]?, horizon: UInt64) throws -> [UInt8] {
        guard let stored, stored.first == RecordTag.spending, stored.count > headerBytes,
              time(stored, at: 9) > horizon
        else {
            if let stored, stored.first == RecordTag.spending, stored.count > headerBytes,
               let dropped = dropping(through: horizon, from: stored, adding: entry)
            {
                return dropped
            }
            // Empty, an earlier layout, or bytes the scan leaves to the decoder: decode and rewrite.
            var entries = try stored.map(decode) ?? []
            entries.removeAll { $0.timeMilliseconds <= horizon }
            entries.append(entry)
            return encode(entries)
        }
        // Nothing to drop: append, and lower the stored minimum if needed.
        var writer = ByteWriter(tag: RecordTag.spending, capacity: 0)
        writer.bytes = stored
        writer.bytes.reserveCapacity(stored.count + 24)
        entryBytes(entry, base: time(stored, at: 1), into: &writer)
        if entry.timeMilliseconds < time(stored, at: 9) {
            withUnsafeBytes(of: entry.timeMilliseconds.littleEndian) { raw in
                for index in 0..<8 { writer.bytes[9 + index] = raw[index] }
            }
        }
        return writer.bytes
    }
}
