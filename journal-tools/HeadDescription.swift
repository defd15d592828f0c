import Journal
import TallyCrypto

/// The state of a journal as `inspect head` shows it: its identity, last event and last block.
struct HeadDescription: Encodable {
    let journal: String
    /// `meta/format`: "tally-journal/1".
    let format: String?
    /// `meta/journal-id`: 16 random bytes chosen at creation, hex.
    let journalID: String?
    /// `meta/created-ms`.
    let createdMilliseconds: UInt64?
    /// `meta/verified-through`: the last sequence the service verified at a start.
    let verifiedThrough: UInt64?
    /// The last sequence (0 when the journal is empty).
    let lastSequence: UInt64
    let lastEventHash: String?
    /// The last block: sequences `first...last`.
    let lastBlock: String?
    let lastBlockTime: String?
    let lastBlockKeyID: String?
    /// Events after the last block (not sealed; a healthy journal has none).
    let unsealedEvents: UInt64
    let keyRecords: Int

    static func load(storage: LMDBJournalStorage) throws -> HeadDescription {
        try storage.read { reader in
            let last = try reader.lastEventSequence() ?? 0
            let lastHash: SHA256Digest? = last == 0 ? nil : try reader.withEventRecord(at: last) { record in
                guard let record, case .success(let view) = EventRecord.parse(record) else { return nil }
                return view.storedHash
            }
            let block = try reader.lastBlockRecord().flatMap { stored in
                stored.bytes.withUnsafeBytes { bytes -> SealedBlock? in
                    guard case .success(let block) = SealedBlock.parse(bytes) else { return nil }
                    return block
                }
            }
            let sealedThrough = block?.header.lastSequence ?? 0
            return HeadDescription(
                journal: storage.location,
                format: try reader.metadata("format").map { String(decoding: $0, as: UTF8.self) },
                journalID: try reader.metadata("journal-id").map { Hex.encode($0) },
                createdMilliseconds: try reader.metadata("created-ms").flatMap { BigEndianValue.uint64($0) },
                verifiedThrough: try reader.metadata("verified-through").flatMap { BigEndianValue.uint64($0) },
                lastSequence: last, lastEventHash: lastHash?.hex,
                lastBlock: block.map { "\($0.header.firstSequence)...\($0.header.lastSequence)" },
                lastBlockTime: block.map { TimeText.iso8601(milliseconds: $0.header.timeMilliseconds) },
                lastBlockKeyID: block?.header.keyID.hex,
                unsealedEvents: last > sealedThrough ? last - sealedThrough : 0,
                keyRecords: try reader.keyRecords().count)
        }
    }

    enum CodingKeys: String, CodingKey {
        case journal, format, journalID, createdMilliseconds, verifiedThrough, lastSequence, lastEventHash
        case lastBlock, lastBlockTime, lastBlockKeyID, unsealedEvents, keyRecords
    }

    /// Every key is present; absent values are `null`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(journal, forKey: .journal)
        try container.encode(format, forKey: .format)
        try container.encode(journalID, forKey: .journalID)
        try container.encode(createdMilliseconds, forKey: .createdMilliseconds)
        try container.encode(verifiedThrough, forKey: .verifiedThrough)
        try container.encode(lastSequence, forKey: .lastSequence)
        try container.encode(lastEventHash, forKey: .lastEventHash)
        try container.encode(lastBlock, forKey: .lastBlock)
        try container.encode(lastBlockTime, forKey: .lastBlockTime)
        try container.encode(lastBlockKeyID, forKey: .lastBlockKeyID)
        try container.encode(unsealedEvents, forKey: .unsealedEvents)
        try container.encode(keyRecords, forKey: .keyRecords)
    }

    var text: String {
        var table = TextTable()
        table.add("journal", journal)
        table.add("format", format ?? "(none)")
        table.add("journal id", journalID ?? "(none)")
        if let createdMilliseconds {
            table.add("created", "\(TimeText.iso8601(milliseconds: createdMilliseconds)) (\(createdMilliseconds) ms)")
        }
        table.add("verified through", verifiedThrough.map(String.init) ?? "(never verified at a start)")
        if lastSequence == 0 {
            table.add("head", "empty journal")
        } else {
            table.add("head", "\(lastSequence):\(lastEventHash ?? "(malformed record)")")
        }
        if let lastBlock {
            table.add("last block", "sequences \(lastBlock), \(lastBlockTime ?? ""), key \(lastBlockKeyID ?? "")")
        } else {
            table.add("last block", lastSequence == 0 ? "none" : "none, or malformed")
        }
        table.add("unsealed", "\(unsealedEvents) events")
        table.add("key records", String(keyRecords))
        return table.text
    }
}
