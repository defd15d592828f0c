import TallyCrypto

/// Checks a journal without trusting anything it says about itself: every event's hash against
/// its bytes and predecessor, that blocks tile the sequence with no gap, each block's chain
/// head, Merkle root and signature, and that every signing key is trusted or endorsed by a
/// trusted key. Stops at the first failure and reports its sequence and reason.
public struct JournalVerifier {
    /// Public keys the caller trusts (published out of band). A journal key is trusted when it
    /// is one of these or is endorsed, through the rotation chain, by one of these.
    public var trustedKeys: [Ed25519PublicKey]

    public init(trustedKeys: [Ed25519PublicKey]) {
        self.trustedKeys = trustedKeys
    }

    /// Verifies from the block holding `start` through the block holding `through` (or the
    /// end). `progress` is called now and then with the last verified sequence.
    public func verify(
        _ storage: any JournalStorage, from start: UInt64 = 1, through: UInt64? = nil,
        progress: ((UInt64) -> Void)? = nil
    ) throws -> VerificationReport {
        try storage.read { reader in
            var run = Run(reader: reader, trusted: Set(trustedKeys), through: through ?? .max, progress: progress)
            return try run.execute(start: max(start, 1))
        }
    }

    struct KeyState {
        let record: KeyRecord
        let trusted: Bool
        /// The first sequence signed by the next key, or nil for the current key.
        var supersededAt: UInt64?
    }

    struct Run {
        let reader: any JournalStorageReader
        let trusted: Set<Ed25519PublicKey>
        let through: UInt64
        let progress: ((UInt64) -> Void)?
        var report = VerificationReport()
        let hasher = SHA256()
        let merkleHasher = SHA256()
        var leaves: [SHA256Digest] = []
        var scratch: [SHA256Digest] = []
        var keys: [KeyID: KeyState] = [:]

        init(reader: any JournalStorageReader, trusted: Set<Ed25519PublicKey>, through: UInt64, progress: ((UInt64) -> Void)?) {
            self.reader = reader
            self.trusted = trusted
            self.through = through
            self.progress = progress
        }

        mutating func fail(_ kind: VerificationFailure.Kind, _ sequence: UInt64, _ message: String) -> VerificationReport {
            report.failure = VerificationFailure(kind: kind, sequence: sequence, message: message)
            return report
        }

        mutating func execute(start: UInt64) throws -> VerificationReport {
            if let failure = try loadKeys() {
                report.failure = failure
                return report
            }
            guard let lastEvent = try reader.lastEventSequence() else {
                if let block = try reader.lastBlockRecord() {
                    return fail(.missingEvents, 1, "the journal holds no events but a block ending at \(block.key)")
                }
                return report
            }
            if start > lastEvent {
                // Nothing after the start to check; a block beyond the last event would be a
                // truncated tail.
                if let block = try reader.blockRecord(endingAtOrAfter: start) {
                    return fail(.missingEvents, lastEvent + 1, "a block ending at \(block.key) covers events that are not stored")
                }
                return report
            }
            // Start at the block holding `start`, trusting the stored hash before it.
            var expectedFirst: UInt64 = 1
            if start > 1 {
                guard let holding = try reader.blockRecord(endingAtOrAfter: start) else {
                    return fail(.unsealedEvents, start, "no block covers sequence \(start)")
                }
                guard case .success(let block) = holding.bytes.withUnsafeBytes({ SealedBlock.parse($0) }) else {
                    return fail(.malformedBlock, holding.key, "the block ending at \(holding.key) does not parse")
                }
                guard block.header.firstSequence <= start else {
                    return fail(.blockRange, start, "no block covers sequence \(start); the next block starts at \(block.header.firstSequence)")
                }
                expectedFirst = block.header.firstSequence
            }
            var previous = SHA256Digest.zero
            if expectedFirst > 1 {
                let stored: SHA256Digest? = try reader.withEventRecord(at: expectedFirst - 1) { record in
                    guard let record, case .success(let view) = EventRecord.parse(record) else { return nil }
                    return view.storedHash
                }
                guard let stored else {
                    return fail(.gap, expectedFirst - 1, "event \(expectedFirst - 1), the starting point, is missing or malformed")
                }
                previous = stored
            }
            report.firstSequence = expectedFirst

            var blockCursor = expectedFirst
            while blockCursor <= lastEvent {
                guard let stored = try reader.blockRecord(endingAtOrAfter: blockCursor) else {
                    return fail(.unsealedEvents, blockCursor, "events \(blockCursor)...\(lastEvent) are not sealed by any block")
                }
                let parsed = stored.bytes.withUnsafeBytes { SealedBlock.parse($0) }
                guard case .success(let block) = parsed else {
                    if case .failure(let reason) = parsed { return fail(.malformedBlock, blockCursor, reason.reason) }
                    break
                }
                let header = block.header
                guard header.lastSequence == stored.key else {
                    return fail(.malformedBlock, blockCursor, "block stored under \(stored.key) says it ends at \(header.lastSequence)")
                }
                guard header.firstSequence == blockCursor else {
                    return fail(.blockRange, blockCursor, "the next block starts at \(header.firstSequence), not \(blockCursor)")
                }
                if let failure = try verifyEvents(of: header, previous: &previous) {
                    report.failure = failure
                    return report
                }
                if let failure = verifySeal(block) {
                    report.failure = failure
                    return report
                }
                report.blocksVerified += 1
                report.eventsVerified += header.eventCount
                report.lastSequence = header.lastSequence
                report.head = previous
                if report.blocksVerified % 64 == 0 { progress?(header.lastSequence) }
                blockCursor = header.lastSequence + 1
                if header.lastSequence >= through {
                    progress?(report.lastSequence)
                    return report
                }
            }
            if let extra = try reader.blockRecord(endingAtOrAfter: blockCursor) {
                return fail(.missingEvents, blockCursor, "a block ending at \(extra.key) covers events from \(blockCursor) on that are not stored")
            }
            progress?(report.lastSequence)
            return report
        }

        /// Rebuilds the rotation chain and decides which keys are trusted.
        mutating func loadKeys() throws -> VerificationFailure? {
            var records: [KeyRecord] = []
            for (keyID, bytes) in try reader.keyRecords() {
                guard case .success(let record) = bytes.withUnsafeBytes({ KeyRecord.parse($0) }),
                      record.keyID.value == keyID
                else {
                    return VerificationFailure(kind: .badKeyRecord, sequence: 0, message: "key record \(KeyID(value: keyID)) is damaged")
                }
                records.append(record)
            }
            let order = KeyRecord.rotationOrder(records)
            if let stray = order.strays.first {
                return VerificationFailure(
                    kind: .badKeyRecord, sequence: stray.activatedAt,
                    message: "key \(stray.keyID) is not on the endorsement chain from the journal's first key")
            }
            records = order.chain
            var previous: (record: KeyRecord, trusted: Bool)?
            for record in records {
                var isTrusted = trusted.contains(record.publicKey)
                if let previous {
                    guard let endorsement = record.endorsement, record.endorsingKeyID == previous.record.keyID,
                          previous.record.publicKey.isValidSignature(
                            endorsement, for: KeyRecord.endorsementMessage(publicKey: record.publicKey, activatedAt: record.activatedAt))
                    else {
                        return VerificationFailure(
                            kind: .badKeyRecord, sequence: record.activatedAt,
                            message: "key \(record.keyID) is not endorsed by the key before it (\(previous.record.keyID))")
                    }
                    isTrusted = isTrusted || previous.trusted
                    keys[previous.record.keyID]?.supersededAt = record.activatedAt
                } else if record.endorsement != nil {
                    return VerificationFailure(
                        kind: .badKeyRecord, sequence: record.activatedAt,
                        message: "the journal's first key \(record.keyID) claims an endorsement by a key it does not record")
                }
                keys[record.keyID] = KeyState(record: record, trusted: isTrusted, supersededAt: nil)
                previous = (record, isTrusted)
            }
            return nil
        }

        mutating func verifyEvents(of header: BlockHeader, previous: inout SHA256Digest) throws -> VerificationFailure? {
            leaves.removeAll(keepingCapacity: true)
            var expected = header.firstSequence
            var failure: VerificationFailure?
            var hash = previous
            let hasher = self.hasher
            var collected = leaves
            leaves = []
            try reader.forEachEventRecord(from: header.firstSequence) { sequence, record in
                guard sequence == expected else {
                    failure = VerificationFailure(
                        kind: .gap, sequence: expected, message: "event \(expected) is missing (next stored is \(sequence))")
                    return false
                }
                let parsed = EventRecord.parse(record)
                guard case .success(let view) = parsed else {
                    if case .failure(let reason) = parsed {
                        failure = VerificationFailure(kind: .malformedEvent, sequence: sequence, message: reason.reason)
                    }
                    return false
                }
                let computed = EventRecord.eventHash(sequence: sequence, previous: hash, body: view.body, hasher: hasher)
                guard computed == view.storedHash else {
                    failure = VerificationFailure(
                        kind: .eventHashMismatch, sequence: sequence,
                        message: "stored hash \(view.storedHash) but the bytes, position and previous event give \(computed)")
                    return false
                }
                hash = computed
                collected.append(computed)
                expected += 1
                return expected <= header.lastSequence
            }
            leaves = collected
            if let failure { return failure }
            if expected <= header.lastSequence {
                return VerificationFailure(
                    kind: .missingEvents, sequence: expected,
                    message: "block \(header.firstSequence)...\(header.lastSequence) covers events from \(expected) on that are not stored")
            }
            guard hash == header.chainHead else {
                return VerificationFailure(
                    kind: .chainHeadMismatch, sequence: header.lastSequence,
                    message: "block says the chain head is \(header.chainHead), the events give \(hash)")
            }
            let root = MerkleTree.root(of: leaves, hasher: merkleHasher, scratch: &scratch)
            guard root == header.merkleRoot else {
                return VerificationFailure(
                    kind: .merkleRootMismatch, sequence: header.firstSequence,
                    message: "block says the Merkle root is \(header.merkleRoot), the events give \(root)")
            }
            previous = hash
            return nil
        }

        func verifySeal(_ block: SealedBlock) -> VerificationFailure? {
            let header = block.header
            guard let key = keys[header.keyID] else {
                return VerificationFailure(
                    kind: .unknownKey, sequence: header.firstSequence, message: "block is signed by key \(header.keyID), which the journal does not record")
            }
            guard key.trusted else {
                return VerificationFailure(
                    kind: .untrustedKey, sequence: header.firstSequence,
                    message: "block is signed by key \(header.keyID), which is not trusted or endorsed by a trusted key")
            }
            let active = header.firstSequence >= key.record.activatedAt
                && (key.supersededAt.map { header.lastSequence < $0 } ?? true)
            guard active else {
                return VerificationFailure(
                    kind: .untrustedKey, sequence: header.firstSequence,
                    message: "block is signed by key \(header.keyID) outside the range it was active for")
            }
            guard block.isSigned(by: key.record.publicKey) else {
                return VerificationFailure(
                    kind: .badSignature, sequence: header.firstSequence,
                    message: "the signature of block \(header.firstSequence)...\(header.lastSequence) does not verify under key \(header.keyID)")
            }
            return nil
        }
    }
}
