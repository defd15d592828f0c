import Foundation
import Journal
import TallyCrypto

/// One stored event as `inspect event` shows it: its fields, a recomputation of its hash, and
/// (with `--hex`) the stored record byte for byte.
struct EventDescription: Encodable {
    let sequence: UInt64
    let recordBytes: Int
    /// Why the record does not parse, or nil when it does.
    let malformed: String?
    let typeName: String?
    let storedHash: String?
    /// The stored hash of the event before (32 zero bytes for event 1); nil when that event is
    /// missing or malformed.
    let previousHash: String?
    /// SHA-256("tally/event/v1" 0x00 || sequence || previous hash || record[32...]).
    let computedHash: String?
    let hashMatches: Bool?
    let payloadBytes: Int?
    /// The payload as text when it is valid UTF-8.
    let payloadText: String?
    let payloadHex: String?
    /// The block holding the event, `first...last`, or nil when no block seals it.
    let block: String?
    /// The whole stored record in hex (with `--hex`).
    let recordHex: String?

    /// Reads event `sequence`, or nil when the journal holds no such event.
    static func load(sequence: UInt64, storage: LMDBJournalStorage, includeRecord: Bool) throws -> EventDescription? {
        let (record, previous): ([UInt8]?, SHA256Digest?) = try storage.read { reader in
            let record = try reader.withEventRecord(at: sequence) { $0.map { Array($0) } }
            var previous: SHA256Digest? = .zero
            if sequence > 1 {
                previous = try reader.withEventRecord(at: sequence - 1) { bytes in
                    guard let bytes, case .success(let view) = EventRecord.parse(bytes) else { return nil }
                    return view.storedHash
                }
            }
            return (record, previous)
        }
        guard let record else { return nil }
        let block = try JournalReader(storage: storage).block(containing: sequence)
        let blockText = block.map { "\($0.header.firstSequence)...\($0.header.lastSequence)" }
        let recordHex = includeRecord ? Hex.encode(record) : nil
        let parsed = record.withUnsafeBytes { bytes -> Result<(String, SHA256Digest, [UInt8], SHA256Digest?), FormatViolation> in
            EventRecord.parse(bytes).map { view in
                let computed = previous.map {
                    EventRecord.eventHash(sequence: sequence, previous: $0, body: view.body, hasher: SHA256())
                }
                return (String(decoding: view.typeName, as: UTF8.self), view.storedHash, Array(view.payload), computed)
            }
        }
        switch parsed {
        case .failure(let violation):
            return EventDescription(
                sequence: sequence, recordBytes: record.count, malformed: violation.reason, typeName: nil, storedHash: nil,
                previousHash: previous?.hex, computedHash: nil, hashMatches: nil, payloadBytes: nil, payloadText: nil,
                payloadHex: nil, block: blockText, recordHex: Hex.encode(record))
        case .success(let (typeName, storedHash, payload, computed)):
            return EventDescription(
                sequence: sequence, recordBytes: record.count, malformed: nil, typeName: typeName, storedHash: storedHash.hex,
                previousHash: previous?.hex, computedHash: computed?.hex, hashMatches: computed.map { $0 == storedHash },
                payloadBytes: payload.count, payloadText: String(bytes: payload, encoding: .utf8), payloadHex: Hex.encode(payload),
                block: blockText, recordHex: recordHex)
        }
    }

    enum CodingKeys: String, CodingKey {
        case sequence, recordBytes, malformed, typeName, storedHash, previousHash, computedHash, hashMatches
        case payloadBytes, payloadText, payloadHex, block, recordHex
    }

    /// Every key is present; absent values are `null`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(recordBytes, forKey: .recordBytes)
        try container.encode(malformed, forKey: .malformed)
        try container.encode(typeName, forKey: .typeName)
        try container.encode(storedHash, forKey: .storedHash)
        try container.encode(previousHash, forKey: .previousHash)
        try container.encode(computedHash, forKey: .computedHash)
        try container.encode(hashMatches, forKey: .hashMatches)
        try container.encode(payloadBytes, forKey: .payloadBytes)
        try container.encode(payloadText, forKey: .payloadText)
        try container.encode(payloadHex, forKey: .payloadHex)
        try container.encode(block, forKey: .block)
        try container.encode(recordHex, forKey: .recordHex)
    }

    var text: String {
        var table = TextTable()
        table.add("sequence", String(sequence))
        if let malformed {
            table.add("MALFORMED", malformed)
            table.add("record", "\(recordBytes) bytes")
            table.add("record hex", recordHex ?? "")
            return table.text
        }
        table.add("type", typeName ?? "")
        table.add("hash", storedHash ?? "")
        table.add("previous hash", previousHash ?? "(event \(sequence - 1) is missing or malformed)")
        if let computedHash, let hashMatches {
            table.add("recomputed", computedHash + (hashMatches ? "  (matches)" : "  (MISMATCH: the stored hash is wrong)"))
        }
        table.add("block", block.map { "sequences \($0)" } ?? "none (the event is not sealed)")
        table.add("record", "\(recordBytes) bytes")
        if let payloadText {
            table.add("payload", "\(payloadBytes ?? 0) bytes, UTF-8: \(payloadText)")
        } else {
            table.add("payload", "\(payloadBytes ?? 0) bytes, hex: \(payloadHex ?? "")")
        }
        if let recordHex {
            table.add("record hex", recordHex)
            for (label, value) in layout(recordHex) { table.add(label, value) }
        }
        return table.text
    }

    /// The record's fields by offset (the table in Schemas/journal.md), for `--hex`.
    private func layout(_ recordHex: String) -> [(String, String)] {
        let digits = Array(recordHex)
        func slice(_ start: Int, _ end: Int) -> String { String(digits[(start * 2)..<min(end * 2, digits.count)]) }
        let nameCount = (typeName?.utf8.count ?? 0)
        return [
            ("  [0,32)", slice(0, 32) + "  event hash"),
            ("  [32]", slice(32, 33) + "  record format"),
            ("  [33]", slice(33, 34) + "  type name length"),
            ("  [34,38)", slice(34, 38) + "  payload length, big-endian"),
            ("  [38,\(38 + nameCount))", slice(38, 38 + nameCount) + "  type name"),
            ("  [\(38 + nameCount),\(recordBytes))", slice(38 + nameCount, recordBytes) + "  payload"),
        ]
    }
}
