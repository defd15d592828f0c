import Foundation
import LMDB
import Logging
import TallyCrypto

/// The single writer of a journal: one dedicated OS thread that owns every write transaction.
///
/// Group commit: callers queue requests; the writer takes everything waiting (up to
/// ``JournalLimits/batchEventsMax`` events), decides each request in order against the write
/// model, appends its events, seals the batch with one signed block, commits once (a durable
/// LMDB commit), and only then answers every caller of the batch. A full queue refuses new
/// requests at once with ``JournalError/overloaded(retryAfterSeconds:)``.
///
/// Fail closed: a commit that fails for any reason other than a full disk stops the writer.
/// Nothing in the failed batch, or queued behind it, is acknowledged, and the commit is never
/// retried (after a failed fsync the kernel may have dropped the dirty pages, so a retry could
/// report success for data that is gone). The owner learns of it through `onFailure` and must
/// exit; the next start verifies the journal.
final class JournalWriter: @unchecked Sendable {
    enum Status {
        case running
        case closing
        case failed(String)
        case closed
    }

    struct Completion: Sendable {
        let sequences: ClosedRange<UInt64>?
        let batch: SealedBatch?
    }

    final class Request: @unchecked Sendable {
        enum Kind {
            case command((JournalWriteContext) throws -> (events: [EventDraft], stateChanges: [StateChange]))
            case rotateKey(Ed25519PrivateKey)
        }
        let kind: Kind
        /// The most events this request may append; bounds the batch before it runs.
        let eventBudget: Int
        let complete: @Sendable (Result<Completion, any Error>) -> Void

        init(kind: Kind, eventBudget: Int, complete: @escaping @Sendable (Result<Completion, any Error>) -> Void) {
            self.kind = kind
            self.eventBudget = eventBudget
            self.complete = complete
        }
    }

    private let storage: any JournalStorage
    private let clock: @Sendable () -> UInt64
    private let logger: Logger
    private let queueCapacity: Int
    private let onFailure: @Sendable (String) -> Void

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Request] = []
    private var queueStart = 0
    private var status = Status.running
    private var publishedHead: UInt64
    private var finished = false

    // Owned by the writer thread.
    private var headSequence: UInt64
    private var headHash: SHA256Digest
    private var signer: Ed25519PrivateKey
    private var signerID: KeyID
    private let hasher = SHA256()
    private let merkleHasher = SHA256()
    private let sealer = BatchSealer()

    /// Told the size and duration (decide, write, commit) of every committed batch, on the
    /// writer thread: it must be quick (a metrics update).
    let onCommit: (@Sendable (Int, Duration) -> Void)?

    /// Commit statistics, for metrics and benchmarks (guarded by `condition`).
    private(set) var batchesCommitted: UInt64 = 0
    private(set) var eventsCommitted: UInt64 = 0

    init(
        storage: any JournalStorage, headSequence: UInt64, headHash: SHA256Digest, signer: Ed25519PrivateKey,
        clock: @escaping @Sendable () -> UInt64, logger: Logger, queueCapacity: Int,
        onFailure: @escaping @Sendable (String) -> Void, onCommit: (@Sendable (Int, Duration) -> Void)? = nil
    ) {
        self.onCommit = onCommit
        self.storage = storage
        self.headSequence = headSequence
        self.headHash = headHash
        self.publishedHead = headSequence
        self.signer = signer
        self.signerID = KeyID(publicKey: signer.publicKey)
        self.clock = clock
        self.logger = logger
        self.queueCapacity = queueCapacity
        self.onFailure = onFailure
    }

    func start() {
        startThread(named: "tally.writer", qualityOfService: .userInitiated) { [self] in run() }
    }

    /// The last committed sequence.
    var head: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return publishedHead
    }

    var failureReason: String? {
        condition.lock()
        defer { condition.unlock() }
        if case .failed(let reason) = status { return reason }
        return nil
    }

    /// Requests waiting for the writer.
    var queuedRequests: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - queueStart
    }

    var statistics: (batches: UInt64, events: UInt64) {
        condition.lock()
        defer { condition.unlock() }
        return (batchesCommitted, eventsCommitted)
    }

    /// Queues a request, or refuses it at once.
    func submit(_ request: Request) throws(JournalError) {
        condition.lock()
        defer { condition.unlock() }
        switch status {
        case .running: break
        case .failed(let reason): throw .writerFailed(reason: reason)
        case .closing, .closed: throw .closed
        }
        guard queue.count - queueStart < queueCapacity else {
            throw .overloaded(retryAfterSeconds: JournalLimits.retryAfterSeconds)
        }
        queue.append(request)
        condition.signal()
    }

    /// Stops taking requests, commits what is queued, and waits for the thread to end.
    func close() {
        condition.lock()
        if case .running = status { status = .closing }
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    // MARK: The writer thread

    /// How often the idle writer clears reader slots of dead processes.
    static let maintenanceIntervalSeconds: Double = 30

    private func run() {
        var lastMaintenance = Date()
        while let batch = takeBatch() {
            if !batch.isEmpty { process(batch) }
            if Date().timeIntervalSince(lastMaintenance) >= Self.maintenanceIntervalSeconds {
                lastMaintenance = Date()
                do {
                    let cleared = try storage.clearStaleReaders()
                    if cleared > 0 { logger.info("cleared stale journal readers", metadata: ["tally.journal.readers": "\(cleared)"]) }
                } catch {
                    logger.warning("could not clear stale readers", metadata: ["tally.journal.error": "\(error)"])
                }
            }
        }
        sealer.stop()
        condition.lock()
        if case .closing = status { status = .closed }
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for work and takes every waiting request up to the batch bound; nil when closing
    /// with an empty queue, or failed; empty when the maintenance interval passed idle.
    private func takeBatch() -> [Request]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.count == queueStart {
            guard case .running = status else { return nil }
            if !condition.wait(until: Date(timeIntervalSinceNow: Self.maintenanceIntervalSeconds)) { return [] }
        }
        if case .failed = status { return nil }
        var budget = 0
        var end = queueStart
        while end < queue.count {
            let request = queue[end]
            if case .rotateKey = request.kind {
                // A rotation is committed alone, so every block has exactly one signer.
                if end == queueStart { end += 1 }
                break
            }
            if end > queueStart && budget + request.eventBudget > JournalLimits.batchEventsMax { break }
            budget += request.eventBudget
            end += 1
        }
        let batch = Array(queue[queueStart..<end])
        queueStart = end
        if queueStart > 4096 && queueStart * 2 > queue.count {
            queue.removeFirst(queueStart)
            queueStart = 0
        }
        return batch
    }

    private func process(_ batch: [Request]) {
        if batch.count == 1, case .rotateKey(let newKey) = batch[0].kind {
            rotate(to: newKey, request: batch[0])
            return
        }
        let time = clock()
        var results: [Result<ClosedRange<UInt64>?, any Error>] = []
        var drafts: [EventDraft] = []
        var job: SealJob?
        let startSequence = headSequence
        let startHash = headHash
        let started = ContinuousClock.now
        do {
            try storage.write { writer in
                // This closure may run again if the map grows: start from the head each time.
                results.removeAll(keepingCapacity: true)
                drafts.removeAll(keepingCapacity: true)
                job = nil
                // 1. Decide every request in order; its write-model changes land in the
                //    transaction at once, so the next request sees them.
                var sequence = startSequence
                var batchBytes = 0
                for request in batch {
                    guard case .command(let command) = request.kind else { continue }
                    let context = JournalWriteContext(reader: writer, nextSequence: sequence + 1, timeMilliseconds: time)
                    let effect: (events: [EventDraft], stateChanges: [StateChange])
                    do {
                        effect = try command(context)
                    } catch let error as LMDBError {
                        throw error
                    } catch {
                        results.append(.failure(error))
                        continue
                    }
                    if let rule = Self.violation(of: effect.events, budget: request.eventBudget, batchBytes: &batchBytes) {
                        results.append(.failure(JournalError.invalidEvent(reason: rule)))
                        continue
                    }
                    for change in effect.stateChanges {
                        switch change {
                        case .put(let key, let value): try writer.putState(key, value)
                        case .delete(let key): try writer.deleteState(key)
                        }
                    }
                    if effect.events.isEmpty {
                        results.append(.success(nil))
                    } else {
                        results.append(.success((sequence + 1)...(sequence + UInt64(effect.events.count))))
                        sequence += UInt64(effect.events.count)
                        drafts.append(contentsOf: effect.events)
                    }
                }
                guard !drafts.isEmpty else { return }
                // 2. Seal: the hash chain, Merkle root and signature. A large batch's chain runs
                //    on the sealer thread while this one copies each record in as its hash
                //    appears and adds the hash to the Merkle tree.
                let sealing = SealJob(
                    drafts: drafts, firstSequence: startSequence + 1, previous: startHash, timeMilliseconds: time,
                    signer: signer, keyID: signerID)
                job = sealing
                let parallel = drafts.count >= Self.parallelSealingEventsMin
                // However this closure ends, the sealer must be done with the job first.
                defer { if parallel { sealing.waitForChain() } }
                if parallel {
                    sealer.submit(sealing)
                } else {
                    sealing.seal(hasher: hasher, merkleHasher: merkleHasher)
                }
                // 3. Append the records, then the block that seals them.
                var merkle = MerkleTree.Builder(hasher: merkleHasher)
                for index in drafts.indices {
                    let draft = drafts[index]
                    let hash = sealing.hash(at: index)
                    let size = EventRecord.storedSize(typeNameBytes: draft.typeName.utf8.count, payloadBytes: draft.payload.count)
                    try writer.appendEventRecord(at: startSequence + 1 + UInt64(index), count: size) { buffer in
                        EventRecord.write(draft, hash: hash, into: buffer)
                    }
                    if parallel { merkle.add(hash) }
                }
                if parallel { sealing.finish(merkleRoot: merkle.root()) }
                let block = sealing.sealedBlock()
                try writer.appendBlockRecord(lastSequence: sealing.lastSequence, bytes: block.bytes)
            }
        } catch {
            fail(batch, error: error)
            return
        }
        var sealedBatch: SealedBatch?
        if let job {
            sealedBatch = SealedBatch(job: job)
            headSequence = job.lastSequence
            headHash = job.hashes[job.drafts.count - 1]
        }
        condition.lock()
        publishedHead = headSequence
        batchesCommitted += sealedBatch == nil ? 0 : 1
        eventsCommitted += UInt64(drafts.count)
        condition.unlock()
        if let onCommit, !drafts.isEmpty { onCommit(drafts.count, ContinuousClock.now - started) }
        var index = 0
        for request in batch {
            guard case .command = request.kind else { continue }
            switch results[index] {
            case .success(let sequences):
                request.complete(.success(Completion(sequences: sequences, batch: sequences == nil ? nil : sealedBatch)))
            case .failure(let error):
                request.complete(.failure(error))
            }
            index += 1
        }
    }

    /// From this many events, a batch's chain runs on the sealer thread beside the writer;
    /// below it the hand-off costs more than it saves.
    static let parallelSealingEventsMin = 64

    private static func violation(of events: [EventDraft], budget: Int, batchBytes: inout Int) -> String? {
        if events.count > budget {
            return "the command produced \(events.count) events; it may produce at most \(budget)"
        }
        var bytes = 0
        var checkedTypeName: String?
        for (index, draft) in events.enumerated() {
            if draft.payload.count > JournalLimits.eventPayloadBytesMax || draft.typeName != checkedTypeName {
                // Events of one request mostly share a type name: check each distinct one once.
                if let rule = draft.violation() { return "event \(index): \(rule)" }
                checkedTypeName = draft.typeName
            }
            bytes += draft.payload.count
        }
        if batchBytes + bytes > JournalLimits.batchBytesMax && batchBytes > 0 {
            return "the batch would exceed \(JournalLimits.batchBytesMax) payload bytes; retry"
        }
        batchBytes += bytes
        return nil
    }

    /// Records a new signing key, endorsed by the current one; it signs from the next block on.
    private func rotate(to newKey: Ed25519PrivateKey, request: Request) {
        let activatedAt = headSequence + 1
        let record = KeyRecord(
            publicKey: newKey.publicKey, activatedAt: activatedAt, endorsingKeyID: signerID,
            endorsement: signer.signature(for: KeyRecord.endorsementMessage(publicKey: newKey.publicKey, activatedAt: activatedAt)))
        do {
            try storage.write { writer in
                try writer.putKeyRecord(keyID: record.keyID.value, bytes: record.bytes)
            }
        } catch {
            fail([request], error: error)
            return
        }
        logger.info("journal signing key rotated", metadata: [
            "tally.journal.key.old": "\(signerID)", "tally.journal.key.new": "\(record.keyID)",
            "tally.journal.seq": "\(activatedAt)",
        ])
        signer = newKey
        signerID = record.keyID
        request.complete(.success(Completion(sequences: nil, batch: nil)))
    }

    /// Stops taking appends for good, failing those queued, without telling `onFailure` (the
    /// process goes on serving reads): for a journal found damaged after it was opened.
    func stop(reason: String) {
        condition.lock()
        guard case .running = status else {
            condition.unlock()
            return
        }
        status = .failed(reason)
        let queued = Array(queue[queueStart...])
        queue.removeAll()
        queueStart = 0
        condition.broadcast()
        condition.unlock()
        for request in queued {
            request.complete(.failure(JournalError.writerFailed(reason: reason)))
        }
    }

    /// A failed commit: a full disk refuses this batch and keeps serving; anything else stops
    /// the writer for good.
    private func fail(_ batch: [Request], error: any Error) {
        if let storageError = error as? LMDBError, storageError.kind == .diskFull {
            logger.error("journal commit refused: disk full", metadata: ["tally.journal.error": "\(storageError)"])
            for request in batch {
                request.complete(.failure(JournalError.storageFull(retryAfterSeconds: 30)))
            }
            return
        }
        if let storageError = error as? LMDBError, storageError.kind == .mapFull {
            // The map could not grow within its limit; the transaction was aborted, nothing was
            // written. The batch is refused; the writer stays up.
            logger.error("journal commit refused: map full", metadata: ["tally.journal.error": "\(storageError)"])
            for request in batch {
                request.complete(.failure(JournalError.storage(storageError)))
            }
            return
        }
        let reason = "commit failed: \(error)"
        logger.critical("journal writer stopped", metadata: ["tally.journal.error": "\(error)"])
        condition.lock()
        status = .failed(reason)
        let queued = Array(queue[queueStart...])
        queue.removeAll()
        queueStart = 0
        condition.unlock()
        for request in batch + queued {
            request.complete(.failure(JournalError.writerFailed(reason: reason)))
        }
        onFailure(reason)
    }
}
