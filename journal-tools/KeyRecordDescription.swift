import Foundation
import Journal
import TallyCrypto

/// One record of the journal's `keys` database: a key that signed (or signs) the journal, and
/// how it was handed over.
struct KeyRecordDescription: Encodable {
    /// The key id the record is stored under.
    let keyID: String
    /// Why the record does not parse, or its id does not match its key; nil when it is sound.
    let damaged: String?
    let publicKey: String?
    /// The first sequence this key signs.
    let activatedAt: UInt64?
    /// The key that endorsed this one (nil for the journal's first key).
    let endorsingKeyID: String?
    let endorsement: String?
    /// Whether the endorsement verifies under the endorsing key's record (nil when there is none,
    /// or the endorsing key is not recorded).
    let endorsementValid: Bool?
    /// The published public key file for this key, when it exists.
    let publishedFile: String?
    /// The stored 113-byte record (with `--hex`).
    let recordHex: String?

    /// Every key record, oldest (lowest activation) first; damaged records last.
    static func loadAll(storage: LMDBJournalStorage, keysDirectory: String, includeRecord: Bool) throws -> [KeyRecordDescription] {
        let entries = try storage.read { try $0.keyRecords() }
        let store = SigningKeyStore(directory: keysDirectory)
        var parsed: [(UInt64, [UInt8], KeyRecord?)] = []
        for entry in entries {
            let record = entry.bytes.withUnsafeBytes { bytes -> KeyRecord? in
                guard case .success(let record) = KeyRecord.parse(bytes) else { return nil }
                return record
            }
            parsed.append((entry.keyID, entry.bytes, record))
        }
        let byID = Dictionary(parsed.compactMap { $0.2 }.map { ($0.keyID, $0) }, uniquingKeysWith: { first, _ in first })
        return parsed.map { storedID, bytes, record -> KeyRecordDescription in
            let keyID = KeyID(value: storedID)
            let recordHex = includeRecord ? Hex.encode(bytes) : nil
            let published = store.publicKeyPath(keyID)
            let publishedFile = FileManager.default.fileExists(atPath: published) ? published : nil
            guard let record else {
                return KeyRecordDescription(
                    keyID: keyID.hex, damaged: "the record does not parse (\(bytes.count) bytes)", publicKey: nil,
                    activatedAt: nil, endorsingKeyID: nil, endorsement: nil, endorsementValid: nil,
                    publishedFile: publishedFile, recordHex: Hex.encode(bytes))
            }
            var endorsementValid: Bool?
            if let endorsingID = record.endorsingKeyID, let endorsement = record.endorsement, let endorser = byID[endorsingID] {
                endorsementValid = endorser.publicKey.isValidSignature(
                    endorsement, for: KeyRecord.endorsementMessage(publicKey: record.publicKey, activatedAt: record.activatedAt))
            }
            return KeyRecordDescription(
                keyID: keyID.hex,
                damaged: record.keyID == keyID ? nil : "stored under \(keyID.hex) but holds key \(record.keyID.hex)",
                publicKey: Hex.encode(record.publicKey.rawRepresentation), activatedAt: record.activatedAt,
                endorsingKeyID: record.endorsingKeyID?.hex, endorsement: record.endorsement.map { Hex.encode($0) },
                endorsementValid: endorsementValid, publishedFile: publishedFile, recordHex: recordHex)
        }.sorted { ($0.activatedAt ?? .max, $0.keyID) < ($1.activatedAt ?? .max, $1.keyID) }
    }

    enum CodingKeys: String, CodingKey {
        case keyID, damaged, publicKey, activatedAt, endorsingKeyID, endorsement, endorsementValid, publishedFile, recordHex
    }

    /// Every key is present; absent values are `null`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(keyID, forKey: .keyID)
        try container.encode(damaged, forKey: .damaged)
        try container.encode(publicKey, forKey: .publicKey)
        try container.encode(activatedAt, forKey: .activatedAt)
        try container.encode(endorsingKeyID, forKey: .endorsingKeyID)
        try container.encode(endorsement, forKey: .endorsement)
        try container.encode(endorsementValid, forKey: .endorsementValid)
        try container.encode(publishedFile, forKey: .publishedFile)
        try container.encode(recordHex, forKey: .recordHex)
    }

    var text: String {
        var table = TextTable()
        table.add("key id", keyID)
        if let damaged { table.add("DAMAGED", damaged) }
        if let publicKey { table.add("public key", publicKey + " (raw Ed25519)") }
        if let activatedAt { table.add("activated at", "sequence \(activatedAt)") }
        if let endorsingKeyID {
            let check = endorsementValid.map { $0 ? "valid" : "INVALID" } ?? "cannot check: endorsing key not recorded"
            table.add("endorsed by", "\(endorsingKeyID) (\(check))")
            table.add("endorsement", endorsement ?? "")
        } else if damaged == nil {
            table.add("endorsed by", "none (the journal's first key)")
        }
        table.add("published", publishedFile ?? "no public key file")
        if let recordHex { table.add("record hex", recordHex) }
        return table.text
    }
}
