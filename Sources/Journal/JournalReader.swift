import TallyCrypto

/// Reads a journal's storage: events, blocks, keys and receipts. Works on any backend and
/// while the writer runs (each call is one read snapshot).
public struct JournalReader: Sendable {
    public let storage: any JournalStorage

    public init(storage: any JournalStorage) {
        self.storage = storage
    }

    public func lastSequence() throws -> UInt64 {
        try storage.read { try $0.lastEventSequence() } ?? 0
    }

    public func event(at sequence: UInt64) throws -> StoredEvent? {
        try storage.read { reader in
            try reader.withEventRecord(at: sequence) { record in
                guard let record else { return nil }
                guard let event = StoredEvent(sequence: sequence, record: record) else {
                    throw JournalError.corruptFile(path: storage.location, reason: "event \(sequence) is malformed")
                }
                return event
            }
        }
    }

    public func events(from sequence: UInt64, limit: Int) throws -> [StoredEvent] {
        var events: [StoredEvent] = []
        try storage.read { reader in
            try reader.forEachEventRecord(from: sequence) { key, record in
                guard let event = StoredEvent(sequence: key, record: record) else {
                    throw JournalError.corruptFile(path: storage.location, reason: "event \(key) is malformed")
                }
                events.append(event)
                return events.count < limit
            }
        }
        return events
    }

    /// The sealed block that holds `sequence`.
    public func block(containing sequence: UInt64) throws -> SealedBlock? {
        guard let stored = try storage.read({ try $0.blockRecord(endingAtOrAfter: sequence) }) else { return nil }
        guard case .success(let block) = stored.bytes.withUnsafeBytes({ SealedBlock.parse($0) }),
              block.header.firstSequence <= sequence
        else { return nil }
        return block
    }

    /// The key records in rotation order (first key first).
    public func keyRecords() throws -> [KeyRecord] {
        let records = try storage.read { try $0.keyRecords() }.compactMap { entry -> KeyRecord? in
            guard case .success(let record) = entry.bytes.withUnsafeBytes({ KeyRecord.parse($0) }) else { return nil }
            return record
        }
        let order = KeyRecord.rotationOrder(records)
        return order.chain + order.strays
    }

    /// Builds the receipt of `sequence` from the stored block and its events' stored hashes.
    public func receipt(for sequence: UInt64) throws -> Receipt {
        guard let block = try block(containing: sequence) else {
            throw JournalError.notFound("no sealed event \(sequence)")
        }
        let header = block.header
        var hashes: [SHA256Digest] = []
        var typeName = ""
        var previous = SHA256Digest.zero
        try storage.read { reader in
            if header.firstSequence > 1 {
                previous = try reader.withEventRecord(at: header.firstSequence - 1) { record in
                    guard let record, case .success(let view) = EventRecord.parse(record) else {
                        throw JournalError.corruptFile(path: storage.location, reason: "event \(header.firstSequence - 1) is malformed")
                    }
                    return view.storedHash
                }
            }
            try reader.forEachEventRecord(from: header.firstSequence) { key, record in
                guard key <= header.lastSequence else { return false }
                guard case .success(let view) = EventRecord.parse(record) else {
                    throw JournalError.corruptFile(path: storage.location, reason: "event \(key) is malformed")
                }
                if key == sequence { typeName = String(decoding: view.typeName, as: UTF8.self) }
                hashes.append(view.storedHash)
                return true
            }
        }
        guard hashes.count == Int(header.eventCount) else {
            throw JournalError.corruptFile(path: storage.location, reason: "block \(header.firstSequence)...\(header.lastSequence) is missing events")
        }
        let index = Int(sequence - header.firstSequence)
        return Receipt(
            sequence: sequence, typeName: typeName, eventHash: hashes[index],
            previousHash: index == 0 ? previous : hashes[index - 1], sealed: block,
            merklePath: MerkleTree.path(for: index, in: hashes))
    }
}
