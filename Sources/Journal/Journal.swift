import Foundation
import LMDB
import Logging
import TallyCrypto

/// Tally's system of record: an append-only, hash-chained, block-signed log of opaque events,
/// with the write model kept beside it in the same transactions.
///
/// A data directory holds `journal/` (the LMDB environment) and `keys/` (the signing keys).
/// Opening a journal read-write checks that every file is what the journal wrote, that the
/// signing key is the journal's current key, and verifies the tail written since the last
/// verified start; any failure is an error that names the file or sequence, and nothing is
/// written.
public final class Journal: Sendable {
    public struct Configuration: Sendable {
        /// The data directory (holds `journal/` and `keys/`).
        public var directory: String
        /// Create the journal and its first key when the directory holds none.
        public var createIfMissing: Bool = true
        /// The clock for block times, in milliseconds since 1970 (injected for tests).
        public var clock: @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }
        public var logger: Logger = Logger(label: "tally.journal")
        /// Requests that may wait for the writer before appends are refused as overloaded.
        public var queueCapacity: Int = JournalLimits.queueRequestsMax
        /// The first LMDB map size (it grows when it fills).
        public var mapSize: Int = 1 << 30
        /// Called once if the writer stops after a failed commit; the process should exit.
        public var onWriterFailure: @Sendable (String) -> Void = { _ in }
        /// Told each committed batch's event count and duration (for metrics), on the writer
        /// thread; keep it quick.
        public var onCommit: (@Sendable (Int, Duration) -> Void)?

        public init(directory: String) {
            self.directory = directory
        }
    }

    public let directory: String
    public let storage: LMDBJournalStorage
    public let keyStore: SigningKeyStore
    private let writer: JournalWriter
    private let logger: Logger
    /// The events an earlier start verified (1 through this); this open verified only those
    /// after them. `scrub` checks these again.
    public let verifiedBeforeOpen: UInt64

    public static func journalPath(in directory: String) -> String { directory + "/journal" }
    public static func keysPath(in directory: String) -> String { directory + "/keys" }

    private init(directory: String, storage: LMDBJournalStorage, keyStore: SigningKeyStore, writer: JournalWriter, logger: Logger,
                 verifiedBeforeOpen: UInt64) {
        self.directory = directory
        self.storage = storage
        self.keyStore = keyStore
        self.writer = writer
        self.logger = logger
        self.verifiedBeforeOpen = verifiedBeforeOpen
    }

    /// Opens (or creates) the journal in `configuration.directory` for writing.
    public static func open(_ configuration: Configuration) throws -> Journal {
        JournalLimits.check()
        let directory = configuration.directory
        let logger = configuration.logger
        try FileSystem.makeDirectory(directory, mode: 0o700)
        let journalPath = journalPath(in: directory)
        let keyStore = SigningKeyStore(directory: keysPath(in: directory))
        let exists = FileSystem.exists(journalPath)
        if !exists && !configuration.createIfMissing {
            throw JournalError.corruptFile(path: journalPath, reason: "no journal here")
        }

        // The signing key: created with a new journal; an existing journal needs its own.
        var signer = try keyStore.loadSigningKey()?.key
        if !exists, let owner = try keyStore.journalID() {
            // keys/ belongs to a journal that was created: a missing journal is a lost or moved
            // one, not a new one. Starting a second history under the same key would let two
            // journals with clashing sequences both verify.
            throw JournalError.corruptFile(
                path: journalPath,
                reason: "is missing, but \(keyStore.directory) holds the keys of journal \(Hex.encode(owner)); restore the journal, or move keys/ away to start a new one")
        }
        if !exists && signer == nil {
            signer = try keyStore.createSigningKey()
            logger.info("created journal signing key", metadata: ["tally.journal.key": "\(KeyID(publicKey: signer!.publicKey))"])
        }
        let journalID = SecureRandom.bytes(16)
        let storage = try LMDBJournalStorage.open(
            at: journalPath, create: configuration.createIfMissing, mapSize: configuration.mapSize,
            initialMetadata: [
                "journal-id": journalID,
                "created-ms": BigEndianBytes.bytes(configuration.clock()),
            ])

        // Tie keys/ to this journal (see SigningKeyStore.journalID).
        let storedID = try storage.read { try $0.metadata("journal-id") } ?? []
        if let owner = try keyStore.journalID() {
            guard owner == storedID else {
                throw JournalError.keyFile(
                    path: keyStore.journalIDPath,
                    reason: "names journal \(Hex.encode(owner)), but \(journalPath) is journal \(Hex.encode(storedID))")
            }
        } else {
            try keyStore.recordJournalID(storedID)
        }

        let records = try storage.read { reader in
            try reader.keyRecords().map { entry -> KeyRecord in
                guard case .success(let record) = entry.bytes.withUnsafeBytes({ KeyRecord.parse($0) }) else {
                    throw JournalError.corruptFile(path: storage.environment.dataFilePath, reason: "key record \(KeyID(value: entry.keyID)) is damaged")
                }
                return record
            }
        }
        let order = KeyRecord.rotationOrder(records)
        guard order.strays.isEmpty else {
            throw JournalError.corruptFile(
                path: storage.environment.dataFilePath,
                reason: "key records \(order.strays.map(\.keyID)) are not on the endorsement chain")
        }

        if let current = order.chain.last {
            // Finish a rotation interrupted after the journal recorded the new key.
            if signer.map({ KeyID(publicKey: $0.publicKey) }) != current.keyID,
               let pending = try keyStore.pendingKey(current.keyID) {
                let old = signer.map { KeyID(publicKey: $0.publicKey) }
                try keyStore.promotePending(current.keyID, retiring: old)
                signer = pending
                logger.info("finished an interrupted key rotation", metadata: ["tally.journal.key": "\(current.keyID)"])
            }
            guard let signer else {
                throw JournalError.keyFile(
                    path: keyStore.directory, reason: "holds no signing key; the journal's current key is \(current.keyID)")
            }
            let signerID = KeyID(publicKey: signer.publicKey)
            guard signerID == current.keyID, signer.publicKey == current.publicKey else {
                throw JournalError.keyFile(
                    path: keyStore.privateKeyPath(signerID),
                    reason: "is key \(signerID), but the journal is signed by key \(current.keyID)")
            }
            try keyStore.publish(current.publicKey)
        } else {
            guard let signer else {
                throw JournalError.keyFile(path: keyStore.directory, reason: "holds no signing key")
            }
            // The journal's first key is recorded before the first event.
            let record = KeyRecord(publicKey: signer.publicKey, activatedAt: 1, endorsingKeyID: nil, endorsement: nil)
            let head = try storage.read { try $0.lastEventSequence() }
            guard head == nil else {
                throw JournalError.corruptFile(path: storage.environment.dataFilePath, reason: "holds events but no signing key record")
            }
            try storage.write { try $0.putKeyRecord(keyID: record.keyID.value, bytes: record.bytes) }
        }

        // Verify what was written since the last verified start, before serving anything.
        let trusted = try keyStore.publishedKeys()
        let verifiedThrough = try storage.read { reader in
            try reader.metadata("verified-through").map { $0.withUnsafeBytes { BigEndianBytes.uint64($0, at: 0) } } ?? 0
        }
        let report = try JournalVerifier(trustedKeys: trusted).verify(storage, from: verifiedThrough + 1)
        if let failure = report.failure {
            logger.error("journal failed verification", metadata: ["tally.journal.failure": "\(failure)"])
            throw JournalError.verificationFailed(failure)
        }
        let (headSequence, headHash) = try head(of: storage)
        if headSequence > verifiedThrough {
            try storage.write { try $0.setMetadata("verified-through", BigEndianBytes.bytes(headSequence)) }
        }
        logger.info("journal opened", metadata: [
            "tally.journal.path": "\(journalPath)", "tally.journal.seq": "\(headSequence)",
            "tally.journal.verified.events": "\(report.eventsVerified)",
        ])

        let writer = JournalWriter(
            storage: storage, headSequence: headSequence, headHash: headHash, signer: signer!,
            clock: configuration.clock, logger: logger, queueCapacity: configuration.queueCapacity,
            onFailure: configuration.onWriterFailure, onCommit: configuration.onCommit)
        writer.start()
        return Journal(directory: directory, storage: storage, keyStore: keyStore, writer: writer, logger: logger,
                       verifiedBeforeOpen: min(verifiedThrough, headSequence))
    }

    private static func head(of storage: LMDBJournalStorage) throws -> (UInt64, SHA256Digest) {
        try storage.read { reader in
            guard let last = try reader.lastEventSequence() else { return (0, .zero) }
            let hash: SHA256Digest? = try reader.withEventRecord(at: last) { record in
                guard let record, case .success(let view) = EventRecord.parse(record) else { return nil }
                return view.storedHash
            }
            guard let hash else {
                throw JournalError.corruptFile(path: storage.environment.dataFilePath, reason: "event \(last) is malformed")
            }
            return (last, hash)
        }
    }

    /// Stops the writer after committing what is queued. Appends after this fail with `closed`.
    public func close() {
        writer.close()
    }

    deinit {
        writer.close()
    }

    // MARK: Writing

    /// Runs `command` on the writer thread, inside the batch's write transaction, and returns
    /// once its events are durable. If `command` throws, the error is returned and nothing of
    /// it is written. `maxEvents` bounds the events it may return.
    public func write<Outcome: Sendable>(
        maxEvents: Int = 16,
        _ command: @escaping @Sendable (JournalWriteContext) throws -> JournalEffect<Outcome>
    ) async throws -> JournalCommit<Outcome> {
        precondition(maxEvents >= 0 && maxEvents <= JournalLimits.requestEventsMax, "maxEvents out of range")
        let box = OutcomeBox<Outcome>()
        let completion: JournalWriter.Completion = try await withCheckedThrowingContinuation { continuation in
            let request = JournalWriter.Request(
                kind: .command({ context in
                    let effect = try command(context)
                    box.value = effect.outcome
                    return (effect.events, effect.stateChanges)
                }),
                eventBudget: maxEvents,
                complete: { continuation.resume(with: $0) })
            do {
                try writer.submit(request)
            } catch {
                continuation.resume(throwing: error)
            }
        }
        return JournalCommit(outcome: box.value!, sequences: completion.sequences, batch: completion.batch)
    }

    /// Appends events as one request (one block unless others share the batch); returns once
    /// they are durable. An invalid draft refuses the whole request.
    public func append(_ events: [EventDraft]) async throws -> JournalCommit<Void> {
        guard events.count <= JournalLimits.requestEventsMax else {
            throw JournalError.invalidEvent(reason: "a request may append at most \(JournalLimits.requestEventsMax) events")
        }
        return try await write(maxEvents: events.count) { _ in JournalEffect(events: events, outcome: ()) }
    }

    public func append(_ event: EventDraft) async throws -> JournalCommit<Void> {
        try await append([event])
    }

    /// Generates a new signing key, records it in the journal endorsed by the current key, and
    /// makes it the active key. Old public keys stay published.
    @discardableResult
    public func rotateSigningKey() async throws -> KeyID {
        let newKey = try Ed25519PrivateKey.generate()
        let newID = KeyID(publicKey: newKey.publicKey)
        let oldID = try keyStore.loadSigningKey().map { KeyID(publicKey: $0.key.publicKey) }
        try keyStore.stagePending(newKey)
        let _: JournalWriter.Completion = try await withCheckedThrowingContinuation { continuation in
            let request = JournalWriter.Request(kind: .rotateKey(newKey), eventBudget: 0) { continuation.resume(with: $0) }
            do {
                try writer.submit(request)
            } catch {
                continuation.resume(throwing: error)
            }
        }
        try keyStore.promotePending(newID, retiring: oldID)
        return newID
    }

    // MARK: Reading

    /// The last committed sequence (0 when empty).
    public var head: UInt64 { writer.head }

    /// Why the writer stopped, if it did.
    public var writerFailure: String? { writer.failureReason }

    /// Requests waiting for the writer (queue depth).
    public var queuedRequests: Int { writer.queuedRequests }

    /// Batches and events committed since open.
    public var commitStatistics: (batches: UInt64, events: UInt64) { writer.statistics }

    public func event(at sequence: UInt64) throws -> StoredEvent? {
        try JournalReader(storage: storage).event(at: sequence)
    }

    /// Up to `limit` events from `sequence` on.
    public func events(from sequence: UInt64, limit: Int) throws -> [StoredEvent] {
        try JournalReader(storage: storage).events(from: sequence, limit: limit)
    }

    /// The receipt of a committed event.
    public func receipt(for sequence: UInt64) throws -> Receipt {
        try JournalReader(storage: storage).receipt(for: sequence)
    }

    /// Every key the journal records, oldest first.
    public func keyRecords() throws -> [KeyRecord] {
        try JournalReader(storage: storage).keyRecords()
    }

    /// Verifies again what an earlier start verified (1 through `verifiedBeforeOpen`): LMDB
    /// keeps no checksums of its pages, so a disk fault or a hand edit since then would
    /// otherwise go unseen while the service signs new blocks on top of it. Meant to run in the
    /// background after the service has started, in read transactions of `chunk` events (so
    /// that LMDB can reuse freed pages meanwhile); `stop` is asked between them. On a failure
    /// the writer stops taking appends (reads go on), and the failure is returned.
    public func scrub(chunk: UInt64 = 65_536, stop: () -> Bool = { false }) throws -> VerificationFailure? {
        var start: UInt64 = 1
        while start <= verifiedBeforeOpen {
            if stop() { return nil }
            let through = min(verifiedBeforeOpen, start + chunk - 1)
            if let failure = try verify(from: start, through: through).failure {
                let reason = "the journal does not verify at sequence \(failure.sequence): \(failure.message); nothing more is appended (run journal-tool verify)"
                logger.critical("journal scrub failed", metadata: ["tally.journal.failure": "\(failure)"])
                writer.stop(reason: reason)
                return failure
            }
            start = through + 1
        }
        return nil
    }

    /// Stops taking appends for good (reads go on), for damage found beside the journal after it
    /// was opened, as ``scrub(chunk:stop:)`` does for the journal itself; `reason` is what
    /// ``writerFailure`` and `/ready` then say.
    public func stopAppends(reason: String) {
        logger.critical("journal stops taking appends", metadata: ["tally.journal.failure": "\(reason)"])
        writer.stop(reason: reason)
    }

    /// Verifies the journal (or a range) against the published keys.
    public func verify(from start: UInt64 = 1, through: UInt64? = nil) throws -> VerificationReport {
        try JournalVerifier(trustedKeys: keyStore.publishedKeys()).verify(storage, from: start, through: through)
    }
}

final class OutcomeBox<Value>: @unchecked Sendable {
    // Written by the writer thread before the continuation resumes, read after.
    var value: Value?
}
