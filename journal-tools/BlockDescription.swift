import Journal
import TallyCrypto

/// The sealed block holding a sequence, as `inspect block` shows it: the header's fields, the
/// exact bytes that are signed, the signature, and whether it verifies under the key the
/// journal records for the key id.
struct BlockDescription: Encodable {
    /// The key the block is stored under in the `blocks` database (its last sequence).
    let storedUnder: UInt64
    let firstSequence: UInt64
    let lastSequence: UInt64
    let eventCount: UInt64
    let chainHead: String
    let merkleRoot: String
    let timeMilliseconds: UInt64
    let time: String
    let keyID: String
    /// The 97 header bytes.
    let headerHex: String
    /// The 64-byte Ed25519 signature.
    let signature: String
    /// "valid", "invalid", or "key not recorded" (checked against the journal's key records;
    /// `verify` also decides whether the key is trusted).
    let signatureCheck: String
    /// `"tally/block/v1" 0x00 || header`: the message the signature covers (with `--hex`).
    let signedMessageHex: String?
    /// The stored value: header then signature (with `--hex`).
    let recordHex: String?

    /// The block holding `sequence`, or nil when no block does (unsealed, or past the end).
    /// A block record that does not parse is an error naming the reason.
    static func load(containing sequence: UInt64, storage: LMDBJournalStorage, includeRecord: Bool) throws -> BlockDescription? {
        let (stored, keyBytes) = try storage.read { reader in
            (try reader.blockRecord(endingAtOrAfter: sequence), try reader.keyRecords())
        }
        guard let stored else { return nil }
        let parsed = stored.bytes.withUnsafeBytes { SealedBlock.parse($0) }
        let block: SealedBlock
        switch parsed {
        case .failure(let violation):
            throw ToolExit(
                .checkFailed,
                message: "journal-tool: the block stored under \(stored.key) is malformed: \(violation.reason)\nrecord hex: \(Hex.encode(stored.bytes))",
                kind: VerificationFailure.Kind.malformedBlock.rawValue, sequence: stored.key)
        case .success(let value):
            block = value
        }
        let header = block.header
        guard header.firstSequence <= sequence else { return nil }
        let records = keyBytes.compactMap { entry in
            entry.bytes.withUnsafeBytes { bytes -> KeyRecord? in
                guard case .success(let record) = KeyRecord.parse(bytes) else { return nil }
                return record
            }
        }
        let signatureCheck: String
        if let record = records.first(where: { $0.keyID == header.keyID }) {
            signatureCheck = block.isSigned(by: record.publicKey) ? "valid" : "invalid"
        } else {
            signatureCheck = "key not recorded"
        }
        return BlockDescription(
            storedUnder: stored.key, firstSequence: header.firstSequence, lastSequence: header.lastSequence,
            eventCount: header.eventCount, chainHead: header.chainHead.hex, merkleRoot: header.merkleRoot.hex,
            timeMilliseconds: header.timeMilliseconds, time: TimeText.iso8601(milliseconds: header.timeMilliseconds),
            keyID: header.keyID.hex, headerHex: Hex.encode(header.bytes), signature: Hex.encode(block.signature),
            signatureCheck: signatureCheck,
            signedMessageHex: includeRecord ? Hex.encode(header.signedMessage) : nil,
            recordHex: includeRecord ? Hex.encode(stored.bytes) : nil)
    }

    enum CodingKeys: String, CodingKey {
        case storedUnder, firstSequence, lastSequence, eventCount, chainHead, merkleRoot, timeMilliseconds, time
        case keyID, headerHex, signature, signatureCheck, signedMessageHex, recordHex
    }

    /// Every key is present; absent values are `null`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(storedUnder, forKey: .storedUnder)
        try container.encode(firstSequence, forKey: .firstSequence)
        try container.encode(lastSequence, forKey: .lastSequence)
        try container.encode(eventCount, forKey: .eventCount)
        try container.encode(chainHead, forKey: .chainHead)
        try container.encode(merkleRoot, forKey: .merkleRoot)
        try container.encode(timeMilliseconds, forKey: .timeMilliseconds)
        try container.encode(time, forKey: .time)
        try container.encode(keyID, forKey: .keyID)
        try container.encode(headerHex, forKey: .headerHex)
        try container.encode(signature, forKey: .signature)
        try container.encode(signatureCheck, forKey: .signatureCheck)
        try container.encode(signedMessageHex, forKey: .signedMessageHex)
        try container.encode(recordHex, forKey: .recordHex)
    }

    var text: String {
        var table = TextTable()
        table.add("block", "sequences \(firstSequence)...\(lastSequence) (\(eventCount) events)")
        table.add("stored under", String(storedUnder))
        table.add("chain head", chainHead)
        table.add("merkle root", merkleRoot)
        table.add("time", "\(time) (\(timeMilliseconds) ms)")
        table.add("key id", keyID)
        table.add("header hex", headerHex)
        table.add("signature", signature)
        table.add("signature check", signatureCheck)
        if let signedMessageHex { table.add("signed message", signedMessageHex) }
        if let recordHex { table.add("record hex", recordHex) }
        return table.text
    }
}
