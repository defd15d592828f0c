import Ledger

/// History entries are the most numerous records (one per wallet and vendor an event touches),
/// so they are stored in a compact binary form rather than JSON:
///
///     sequence u64be | time u64be | amount i64be | held i64be |
///     eventType, currency, counterparty: each u8 length + UTF-8 |
///     transaction: u8 length + UTF-8, length 255 meaning none
///
/// The canonical dump prints them as JSON.
enum HistoryCodec {
    struct Malformed: Error, CustomStringConvertible {
        var description: String { "a stored history entry is malformed" }
    }

    static func encode(_ entry: HistoryEntry) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        encode(entry, into: &bytes)
        return bytes
    }

    /// Appends the entry's bytes to `bytes`.
    static func encode(_ entry: HistoryEntry, into bytes: inout [UInt8]) {
        func append(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
        func append(_ text: String) {
            let utf8 = text.utf8
            if utf8.count <= 254 {
                bytes.append(UInt8(utf8.count))
                bytes.append(contentsOf: utf8)
            } else {
                let prefix = utf8.prefix(254)
                bytes.append(UInt8(prefix.count))
                bytes.append(contentsOf: prefix)
            }
        }
        append(entry.sequence)
        append(entry.timeMilliseconds)
        append(UInt64(bitPattern: entry.amount))
        append(UInt64(bitPattern: entry.held))
        append(entry.eventType)
        append(entry.currency.code)
        append(entry.counterparty)
        if let transaction = entry.transaction {
            append(transaction)
        } else {
            bytes.append(255)
        }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws -> HistoryEntry {
        var offset = 0
        func number() throws -> UInt64 {
            guard offset + 8 <= bytes.count else { throw Malformed() }
            defer { offset += 8 }
            return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        func text(optional: Bool = false) throws -> String? {
            guard offset < bytes.count else { throw Malformed() }
            let count = Int(bytes[offset])
            offset += 1
            if count == 255 && optional { return nil }
            guard offset + count <= bytes.count else { throw Malformed() }
            defer { offset += count }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]), as: UTF8.self)
        }
        let sequence = try number()
        let time = try number()
        let amount = Int64(bitPattern: try number())
        let held = Int64(bitPattern: try number())
        let eventType = try text()!
        guard let currency = Currency(code: try text()!) else { throw Malformed() }
        let counterparty = try text()!
        let transaction = try text(optional: true)
        guard offset == bytes.count else { throw Malformed() }
        return HistoryEntry(
            sequence: sequence, timeMilliseconds: time, eventType: eventType, currency: currency, amount: amount,
            held: held, counterparty: counterparty, transaction: transaction)
    }

    static func decode(_ bytes: [UInt8]) throws -> HistoryEntry {
        try bytes.withUnsafeBytes { try decode($0) }
    }
}
