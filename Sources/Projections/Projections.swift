import Foundation
import Journal
import LMDB
import Ledger
import Logging
import TallyCrypto

public enum ProjectionError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The projections' environment is not what Tally wrote (foreign, damaged, another journal's).
    case corruptFile(path: String, reason: String)
    /// An event the fold cannot handle (a rebuild stops on it and is not swapped in).
    case foldFailed(sequence: UInt64, reason: String)
    /// A read asked for a sequence the read models have not reached.
    case notYetFolded(requested: UInt64, reached: UInt64)
    /// Another process swapped in or restarted the version this rebuild was building.
    case rebuildSuperseded(version: UInt64)
    /// Opened read-only, the live read models are of another schema than this build folds (a
    /// read-write open folds them again).
    case otherSchema(path: String, stored: UInt64?, expected: UInt64)

    public var description: String {
        switch self {
        case .corruptFile(let path, let reason): return "\(path): \(reason)"
        case .foldFailed(let sequence, let reason): return "cannot fold event \(sequence): \(reason)"
        case .notYetFolded(let requested, let reached): return "sequence \(requested) is not folded yet (reached \(reached))"
        case .rebuildSuperseded(let version): return "the rebuild of version \(version) was superseded by another process"
        case .otherSchema(let path, let stored, let expected):
            return "\(path): the live read models have schema \(stored.map(String.init) ?? "none"), this build reads schema \(expected)"
        }
    }
}

/// The read models, folded from the journal into their own LMDB environment.
///
/// The environment (`<data>/projections`) holds a `meta` database and two slots, `slot0` and
/// `slot1`, each a complete set of read models with their checkpoints (see `Keys`). `meta/live`
/// names the slot that serves reads and its version; a rebuild folds the journal into the other
/// slot (`meta/building`) while the live one keeps serving and folding, then swaps `meta/live`
/// in the transaction that finishes it. Reads look up `meta/live` in their own snapshot, so they
/// always see one whole version. Each batch of events is written in one write transaction that
/// also writes every read model's checkpoint, so a crash leaves data and checkpoints agreeing.
/// A long catch-up or rebuild folds the next batch while the last one is written
/// (`foldBatches`, in `FoldPipeline.swift`).
///
/// The environment relaxes syncing (`MDB_NOSYNC`): it is rebuilt from the journal, and a
/// process crash loses nothing LMDB has committed to the page cache. It also writes in place
/// (`MDB_WRITEMAP`): a commit changes pages in the map instead of copying every dirty page into
/// the file with `pwrite`.
///
/// Environment flags, measured:
/// - `MDB_NOMETASYNC` adds nothing: `MDB_NOSYNC` already skips both the data and the meta sync.
/// - `MDB_WRITEMAP` is a trade. The live fold commits a small batch every millisecond or so,
///   and each commit rewrote every leaf it touched (about 45 KB per purchase): in place, the
///   server's CPU per purchase fell by 14–23 % (HTTP benchmark, single mode, C = 64: 263–291 →
///   224–226 µs; 5.3–5.9k → 6.5–6.6k purchases/s; 80 → 23 KB written per purchase). A cold
///   catch-up or rebuild, which writes mostly new pages, pays a page fault per new page instead
///   of a copy: 10–12 % slower (1M rebuild 13.1 → 14.4 s; 200k catch-up 88–94k → 79–82k
///   events/s), much of it the kernel's readahead zero-filling the sparse file around each
///   fault (the disk's readahead is 8 MB here). `POSIX_FADV_RANDOM` on the file does not reach
///   faults in the map (the zeroing was still 9.5 % of the fold thread's samples); the writing
///   handle now opens with `MDB_NORDAHEAD` (LMDB advises `MADV_RANDOM` on the map, again after
///   every resize): 1M rebuild sys time 2.5–2.8 → 2.0 s, wall time within noise (13.5/14.8 →
///   13.5/14.2 s). The live path runs all day, so writing in place is used. The data file's
///   apparent size is the map's (a sparse file), and a stray write into the map could damage
///   committed pages, which a rebuild repairs. A truncated data file is
///   still refused at open: its length is checked before LMDB extends it to the map.
/// - Crash safety as it stands: a process crash (kill -9, a trap) leaves the last committed batch
///   intact, as every commit's pages are in the page cache before its meta page; an operating
///   system crash or power loss may lose the last commits or leave the meta page pointing at
///   pages that never reached the disk. LMDB does not checksum pages, so such a torn environment
///   would open as if whole: each writing process leaves a marker of its boot first, and an
///   opener that finds one of an earlier boot sets the environment aside and folds the journal
///   again (`UnsyncedWrites`); ``flush()`` syncs and withdraws the marker.
/// - Larger batches (`batchEvents`) are one transaction each, so they change nothing of the above.
public final class Projections: Sendable {
    public struct Configuration: Sendable {
        /// The data directory; the read models live in `<dataDirectory>/projections`.
        public var dataDirectory: String
        public var logger: Logger = Logger(label: "tally.projections")
        /// The first LMDB map size (it grows when it fills).
        public var mapSize: Int = 256 << 20
        /// Events folded per write transaction.
        public var batchEvents: Int = Projections.batchEvents

        public init(dataDirectory: String) {
            self.dataDirectory = dataDirectory
        }
    }

    /// The read models' format. A slot of another schema is folded again from the start.
    /// 2: the records are binary (`ViewCodec.swift`), no longer JSON.
    /// 3: balance history and the time index in chunks of points (`SeriesChunk`), history,
    ///    purchases and royalty entries in chunks of entries (`LogChunk`), not one entry each.
    /// 4: customer-service cases (fundings, disputes and the queues of those still open).
    /// 5: a wallet shows its `outgoing` tokens (payouts the user asked for, not yet decided).
    /// 6: a dispute shows what it `disputed` (the price less partial refunds before it);
    ///    purchases are listed under their vendor's reference (`vr/`).
    public static let schemaVersion: UInt64 = 6
    /// Events folded per write transaction. A cold catch-up rewrites fewer pages with larger
    /// batches (each user's history pages take more entries per commit): 200,000 events folded
    /// in 4.22 s CPU (0.66 s sys) with 4096, 4.06 s (0.33 s sys) with 16384, 4.03 s with 32768.
    /// A tailing fold's batches hold whatever is new, so this bounds only catch-ups. A catch-up
    /// whose batches spread over many users grows its batches up to 4 times this
    /// (`EventBatches.adapt`): 1M events over 10,000 users rebuild 15.2-15.4 -> 12.7-13.0 s.
    public static let batchEvents = 16384
    static let formatMarker = Array("tally-projections/1".utf8)

    public static func path(in dataDirectory: String) -> String { dataDirectory + "/projections" }

    /// The environment's directory.
    public let path: String
    let environment: Environment
    let meta: Database
    let slots: [Database]
    let journal: any JournalStorage
    let logger: Logger
    let batchEvents: Int
    /// This process's marker of writes not yet synced (see `UnsyncedWrites`).
    let unsynced: UnsyncedWrites
    private let state = LockedState()
    /// Serialises folding into the live slot and the swap that ends a rebuild.
    private let foldLock = NSLock()
    /// One rebuild at a time.
    private let rebuildLock = NSLock()

    /// What the live fold has reached, kept in memory beside what is stored.
    private final class LockedState: @unchecked Sendable {
        private let lock = NSLock()
        private var _live = (slot: 0, version: UInt64(1), sequence: UInt64(0))
        private var _failure: ProjectionFailure?

        var live: (slot: Int, version: UInt64, sequence: UInt64) {
            get { lock.withLock { _live } }
            set { lock.withLock { _live = newValue } }
        }

        var failure: ProjectionFailure? {
            get { lock.withLock { _failure } }
            set { lock.withLock { _failure = newValue } }
        }
    }

    private init(
        path: String, environment: Environment, meta: Database, slots: [Database], journal: any JournalStorage, logger: Logger,
        batchEvents: Int, unsynced: UnsyncedWrites
    ) {
        self.batchEvents = max(1, batchEvents)
        self.unsynced = unsynced
        self.path = path
        self.environment = environment
        self.meta = meta
        self.slots = slots
        self.journal = journal
        self.logger = logger
    }

    // MARK: Opening

    /// Opens (or creates) the read models at `<dataDirectory>/projections`.
    public static func open(_ configuration: Configuration, journal: any JournalStorage) throws -> Projections {
        try open(
            at: path(in: configuration.dataDirectory), journal: journal, logger: configuration.logger,
            mapSize: configuration.mapSize, batchEvents: configuration.batchEvents)
    }

    /// Why the read models of `dataDirectory` cannot be trusted (a system crash may have torn
    /// them; opening them read-write sets them aside and folds again), or nil. For tools that
    /// only read them.
    public static func tornReason(dataDirectory: String) -> String? {
        UnsyncedWrites.tornReason(in: path(in: dataDirectory), bootID: UnsyncedWrites.currentBootID())
    }

    /// Opens the existing read models at `<dataDirectory>/projections` read-only (`MDB_RDONLY`),
    /// for tools that only compare them beside a live writer: nothing in the directory is
    /// written (no marker of unsynced writes, no set-aside, no reset; LMDB's lock file is still
    /// used, so a concurrent writer stays safe). Read models that may be torn are refused
    /// (``tornReason(dataDirectory:)`` says why), and a live slot of another schema throws
    /// ``ProjectionError/otherSchema(path:stored:expected:)``. Folding or rebuilding through
    /// the returned value is a programming error.
    public static func openReadOnly(dataDirectory: String, journal: any JournalStorage) throws -> Projections {
        try open(
            at: path(in: dataDirectory), journal: journal, logger: Logger(label: "tally.projections"), mapSize: 256 << 20,
            batchEvents: batchEvents, readOnly: true)
    }

    /// Opens (or creates) the read models in exactly `directory` (for `journal-tool` replays).
    public static func open(directory: String, journal: any JournalStorage) throws -> Projections {
        try open(at: directory, journal: journal, logger: Logger(label: "tally.projections"), mapSize: 256 << 20, batchEvents: batchEvents)
    }

    static func open(
        at path: String, journal: any JournalStorage, logger: Logger, mapSize: Int, batchEvents: Int,
        bootID: String? = UnsyncedWrites.currentBootID(), readOnly: Bool = false
    ) throws -> Projections {
        // Read models a system crash may have torn are set aside and folded again (read-only:
        // refused, and left as they are).
        if let reason = UnsyncedWrites.tornReason(in: path, bootID: bootID) {
            if readOnly { throw ProjectionError.corruptFile(path: path, reason: "may be torn by a system crash (\(reason))") }
            let aside = path + ".torn"
            logger.warning("projections may be torn by a system crash; setting them aside and folding the journal again", metadata: [
                "tally.projections.path": "\(path)", "tally.projections.aside": "\(aside)", "tally.projections.reason": "\(reason)",
            ])
            FileSystem.removeTree(aside)
            try FileSystem.rename(path, to: aside)
            try FileSystem.sync(FileSystem.parentDirectory(of: path))
        }
        var configuration = Environment.Configuration()
        configuration.mapSize = mapSize
        configuration.maxDatabases = 8
        configuration.durability = .relaxed
        configuration.writesInPlace = !readOnly
        configuration.readOnly = readOnly
        let journalID = try journal.read { try $0.metadata("journal-id") } ?? []

        let environment: Environment
        if !FileSystem.exists(path) && !readOnly {
            environment = try Environment.create(at: path, configuration: configuration) { transaction in
                let meta = try transaction.openDatabase(named: "meta")
                let slot0 = try transaction.openDatabase(named: "slot0")
                _ = try transaction.openDatabase(named: "slot1")
                try transaction.put(meta, key: Keys.bytes("format"), value: formatMarker)
                try transaction.put(meta, key: Keys.bytes("journal-id"), value: journalID)
                try transaction.put(meta, key: Keys.bytes("live"), value: slotPointer(slot: 0, version: 1))
                try resetSlot(transaction, slot0)
            }
        } else {
            switch Result(catching: { () throws(LMDBError) in try Environment.open(at: path, configuration: configuration) }) {
            case .success(let opened):
                environment = opened
            case .failure(let error):
                if error.kind == .corrupted || error.kind == .notFound {
                    throw ProjectionError.corruptFile(path: error.path ?? path, reason: "not a usable projections environment: \(error.message)")
                }
                throw error
            }
        }
        func database(_ name: String) throws -> Database {
            switch Result(catching: { () throws(LMDBError) in try environment.database(named: name) }) {
            case .success(let database):
                return database
            case .failure(let error):
                if error.kind == .notFound {
                    throw ProjectionError.corruptFile(
                        path: environment.dataFilePath, reason: "not a Tally projections environment: database '\(name)' is missing")
                }
                throw error
            }
        }
        let meta = try database("meta")
        let slots = [try database("slot0"), try database("slot1")]
        let projections = Projections(
            path: path, environment: environment, meta: meta, slots: slots, journal: journal, logger: logger, batchEvents: batchEvents,
            unsynced: UnsyncedWrites(directory: path, bootID: bootID))

        let (format, storedID, live) = try environment.read { transaction in
            (try transaction.get(meta, key: Keys.bytes("format")), try transaction.get(meta, key: Keys.bytes("journal-id")),
             try transaction.get(meta, key: Keys.bytes("live")))
        }
        guard format == formatMarker else {
            let found = format.map { String(decoding: $0, as: UTF8.self) } ?? "none"
            throw ProjectionError.corruptFile(path: environment.dataFilePath, reason: "not Tally projections (format marker: \(found))")
        }
        guard storedID == journalID else {
            throw ProjectionError.corruptFile(
                path: environment.dataFilePath,
                reason: "holds the read models of another journal; remove \(path) to fold this journal's")
        }
        guard let pointer = live.flatMap(parseSlotPointer) else {
            throw ProjectionError.corruptFile(path: environment.dataFilePath, reason: "meta/live is missing or damaged")
        }

        // A live slot of another schema is folded again from the start.
        let schema = try environment.read { Integers.uint64(try $0.get(slots[pointer.slot], key: Keys.schema)) }
        if schema != schemaVersion {
            if readOnly { throw ProjectionError.otherSchema(path: path, stored: schema, expected: schemaVersion) }
            logger.warning("projections schema changed; folding the read models again", metadata: [
                "tally.projections.schema.stored": "\(schema.map(String.init) ?? "none")",
                "tally.projections.schema": "\(schemaVersion)",
            ])
            try projections.write { try resetSlot($0, slots[pointer.slot]) }
        }
        let sequence = try environment.read { try checkpoint($0, slots[pointer.slot]) }
        let head = try JournalReader(storage: journal).lastSequence()
        guard sequence <= head else {
            throw ProjectionError.corruptFile(
                path: environment.dataFilePath,
                reason: "has folded through sequence \(sequence) but the journal ends at \(head) (restored from an older copy?); remove \(path) to fold again")
        }
        projections.state.live = (pointer.slot, pointer.version, sequence)
        logger.info("projections opened", metadata: [
            "tally.projections.path": "\(path)", "tally.projections.seq": "\(sequence)",
            "tally.projections.version": "\(pointer.version)",
        ])
        return projections
    }

    static func slotPointer(slot: Int, version: UInt64) -> [UInt8] {
        [UInt8(slot)] + Integers.encode(version)
    }

    /// `meta[name]` (`live` or `building`): a slot and its version; nil if absent or damaged.
    func slotPointer(_ name: String, in transaction: ReadTransaction) throws -> (slot: Int, version: UInt64)? {
        try transaction.get(meta, key: Keys.bytes(name)).flatMap(Self.parseSlotPointer)
    }

    static func parseSlotPointer(_ bytes: [UInt8]) -> (slot: Int, version: UInt64)? {
        guard bytes.count == 9, bytes[0] <= 1 else { return nil }
        return (Int(bytes[0]), BigEndian.uint64(bytes, at: 1))
    }

    static func resetSlot(_ transaction: WriteTransaction, _ slot: Database) throws {
        try transaction.clear(slot)
        try transaction.put(slot, key: Keys.schema, value: Integers.encode(schemaVersion))
        for model in Keys.models {
            try transaction.put(slot, key: Keys.checkpoint(model), value: Integers.encode(UInt64(0)))
        }
    }

    static func checkpoint(_ transaction: ReadTransaction, _ slot: Database) throws -> UInt64 {
        Integers.uint64(try transaction.get(slot, key: Keys.checkpoint(Keys.models[0]))) ?? 0
    }

    // MARK: Folding


    enum BatchOutcome {
        case folded(reached: UInt64, failure: ProjectionFailure?, usersTouched: Int)
        /// The slot is no longer the one expected, or another process folded these events first.
        case stale
    }

    /// Folds `events` into slot `slotIndex` in one write transaction, if `meta[pointerName]` still
    /// names that slot and the slot's checkpoint is right before the first event (another
    /// process, such as `journal-tool rebuild` beside the server, may share the environment).
    /// On an event it cannot fold, it folds and commits the events before it and returns the failure.
    func foldBatch(
        _ batch: EventBatch, into slotIndex: Int, pointer pointerName: String, version: UInt64, buffers: FoldBuffers
    ) throws -> BatchOutcome {
        let slot = slots[slotIndex]
        // A record created again (a transaction, an account, a vendor, a lot) that an earlier
        // batch stored is found only when the batch is written: the put refuses to overwrite it.
        // The transaction is then abandoned and the events before that one folded again.
        let events = batch.events
        var count = events.count
        var writeFailure: ProjectionFailure?
        while true {
            do {
                return try write { transaction in
                    let pointer = try slotPointer(pointerName, in: transaction)
                    guard let pointer, pointer.slot == slotIndex, pointer.version == version else { return .stale }
                    var folder = try Folder(reader: transaction, database: slot, reusing: buffers)
                    guard let first = events.first, first.sequence == folder.checkpoint + 1 else { return .stale }
                    var failure = writeFailure
                    var good = count
                    for (index, event) in events[..<count].enumerated() {
                        do {
                            try folder.fold(event, batch.decoded[index])
                        } catch let error as FoldFailure {
                            failure = ProjectionFailure(sequence: event.sequence, reason: error.reason)
                            good = index
                            break
                        }
                    }
                    if good < count {
                        // Nothing is written before flush: fold again only what was good.
                        folder.releaseBuffers()
                        folder = try Folder(reader: transaction, database: slot, reusing: buffers)
                        for index in 0..<good { try folder.fold(events[index], batch.decoded[index]) }
                    }
                    if good > 0 { try folder.flush(into: transaction) }
                    let usersTouched = folder.usersTouched
                    folder.releaseBuffers()
                    return .folded(reached: folder.checkpoint, failure: failure, usersTouched: usersTouched)
                }
            } catch let duplicate as WriteBatch.CreatedTwice {
                // The batch's puts go in key order, so this may not be the earliest such event:
                // the next round, with fewer events, finds an earlier one if there is one.
                guard let index = events[..<count].firstIndex(where: { $0.sequence == duplicate.sequence }) else {
                    preconditionFailure("a created record's event \(duplicate.sequence) is not in the batch")
                }
                count = index
                writeFailure = ProjectionFailure(sequence: duplicate.sequence, reason: Folder.createdTwice(key: duplicate.key))
            }
        }
    }

    /// The live slot, its version and its checkpoint, as stored.
    private func storedLive() throws -> (slot: Int, version: UInt64, sequence: UInt64) {
        try environment.read { transaction in
            guard let pointer = try slotPointer("live", in: transaction) else {
                throw ProjectionError.corruptFile(path: environment.dataFilePath, reason: "meta/live is missing or damaged")
            }
            return (pointer.slot, pointer.version, try Self.checkpoint(transaction, slots[pointer.slot]))
        }
    }

    /// Folds the journal into the live read models up to its head and returns the sequence
    /// reached. After a failure it folds nothing more and returns the last good sequence.
    @discardableResult
    public func catchUp() throws -> UInt64 {
        try foldLock.withLock { try catchUpLocked() }
    }

    private func catchUpLocked() throws -> UInt64 {
        let batches = EventBatches(journal: journal, limit: batchEvents)
        defer { batches.finish() }
        let buffers = FoldBuffers()
        // A failure belongs to the version that met it; another process may have swapped in a new one.
        if state.failure != nil, try storedLive().version != state.live.version { state.failure = nil }
        while state.failure == nil {
            // Read from storage each time: another process may have folded or swapped versions.
            let live = try storedLive()
            state.live = live
            let batch = try batches.batch(from: live.sequence + 1)
            if batch.events.isEmpty { break }
            try foldBatches(
                from: batch, batches: batches, into: live.slot, pointer: "live", version: live.version, buffers: buffers,
                proceed: { _ in true }
            ) { batch, outcome in
                switch outcome {
                case .stale:
                    return false
                case .folded(let reached, let failure, let usersTouched):
                    batches.adapt(folded: batch.events.count, usersTouched: usersTouched)
                    state.live = (live.slot, live.version, reached)
                    if let failure {
                        state.failure = failure
                        logger.error("projection stopped at an event it cannot fold", metadata: [
                            "tally.projections.seq": "\(failure.sequence)", "tally.projections.reason": "\(failure.reason)",
                        ])
                        return false
                    }
                    return true
                }
            }
        }
        return state.live.sequence
    }

    /// Tails the journal until the task is cancelled: folds whatever is new, then polls the
    /// journal's head with a short sleep that doubles (1 ms up to 50 ms) while nothing arrives.
    /// The folding runs on a thread of its own, so a long catch-up never holds one of the
    /// concurrency pool's few threads (the HTTP server's).
    public func run() async {
        let stop = StopFlag()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                startThread(named: "tally.fold") { [self] in
                    self.tail(until: stop)
                    continuation.resume()
                }
            }
        } onCancel: {
            stop.set()
        }
    }

    private func tail(until stop: StopFlag) {
        var delay: UInt32 = 1_000
        while !stop.isSet {
            let before = state.live.sequence
            do {
                try catchUp()
            } catch {
                logger.error("projection fold failed", metadata: ["tally.projections.error": "\(error)"])
            }
            delay = state.live.sequence > before ? 1_000 : min(delay * 2, 50_000)
            usleep(delay)
        }
    }

    /// Waits until the read models reflect `sequence`, up to `timeout`. Folds by itself when the
    /// journal already holds it, so a writer reads its own write without waiting for `run`.
    public func waitUntil(sequence: UInt64, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if state.live.sequence >= sequence { return true }
            if let failure = state.failure, failure.sequence <= sequence { return false }
            if let head = try? JournalReader(storage: journal).lastSequence(), head >= sequence {
                _ = try? catchUp()
                if state.live.sequence >= sequence { return true }
            }
            if ContinuousClock.now >= deadline { return false }
            do {
                try await Task.sleep(for: .milliseconds(1))
            } catch {
                return false
            }
        }
    }

    // MARK: Writing and syncing

    /// Every write transaction of the read models: this process's marker of unsynced writes is
    /// on disk before the first one (`UnsyncedWrites`).
    func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        try unsynced.beginWrite()
        defer { unsynced.endWrite() }
        return try environment.write(body)
    }

    /// Syncs every committed read model to disk and withdraws this process's marker of unsynced
    /// writes. Call it when done writing (the server at shutdown, `journal-tool` at the end of a
    /// rebuild; 0.85 s for the 1 GB of a 1M-event rebuild): read models that were not flushed are
    /// folded again from the journal if the system restarts before they are, since a system crash
    /// may have torn them.
    public func flush() throws {
        try unsynced.flush { () throws(LMDBError) in try environment.sync() }
    }

    // MARK: Reading

    /// Runs `body` on one consistent snapshot of the live read models.
    public func read<R>(_ body: (ProjectionReader) throws -> R) throws -> R {
        try environment.read { transaction in
            guard let pointer = try slotPointer("live", in: transaction) else {
                throw ProjectionError.corruptFile(path: environment.dataFilePath, reason: "meta/live is missing or damaged")
            }
            let slot = slots[pointer.slot]
            let sequence = try Self.checkpoint(transaction, slot)
            return try body(ProjectionReader(transaction: transaction, database: slot, sequence: sequence, version: pointer.version))
        }
    }

    public var status: ProjectionStatus {
        let failure = state.failure
        let fallback = state.live
        let stored: ProjectionStatus? = try? environment.read { transaction in
            guard let pointer = try slotPointer("live", in: transaction) else { return nil }
            let slot = slots[pointer.slot]
            let models = try Keys.models.map { model in
                ReadModelCheckpoint(model: model, sequence: Integers.uint64(try transaction.get(slot, key: Keys.checkpoint(model))) ?? 0)
            }
            var rebuilding: ReadModelCheckpoint?
            if let building = try slotPointer("building", in: transaction) {
                rebuilding = ReadModelCheckpoint(model: "v\(building.version)", sequence: try Self.checkpoint(transaction, slots[building.slot]))
            }
            return ProjectionStatus(
                sequence: models.map(\.sequence).min() ?? 0, models: models, version: pointer.version,
                schemaVersion: Self.schemaVersion, rebuilding: rebuilding, failure: failure)
        }
        return stored ?? ProjectionStatus(
            sequence: fallback.sequence, models: Keys.models.map { ReadModelCheckpoint(model: $0, sequence: fallback.sequence) },
            version: fallback.version, schemaVersion: Self.schemaVersion, rebuilding: nil, failure: failure)
    }

    /// A deterministic text dump of every live read model, sorted by key: equal dumps mean equal
    /// read models (versions and the environment's bookkeeping are not part of it).
    public func canonicalDump() throws -> String {
        try read { try $0.canonicalDump() }
    }

    /// ``canonicalDump()`` handed to `sink` in pieces, in order, without holding it whole.
    public func canonicalDump(into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try read { try $0.canonicalDump(into: sink) }
    }

    /// The SHA-256 of ``canonicalDump()`` followed by one newline, computed piece by piece.
    public func canonicalDumpDigest() throws -> SHA256Digest {
        let hasher = SHA256()
        try canonicalDump { hasher.update($0) }
        hasher.update([0x0A])
        return hasher.finish()
    }

    // MARK: Rebuilding

    /// Builds a new version of the read models from the journal in the other slot while the live
    /// one keeps serving reads (and folding), then swaps it in atomically. Interrupted (a crash,
    /// an error), the half-built version is never served; the next `rebuild` resumes it from its
    /// checkpoint. `progress` gets (sequence reached, journal head) after each batch.
    public func rebuild(progress: ((UInt64, UInt64) -> Void)? = nil) throws {
        _ = try rebuild(progress: progress, stoppingAfter: nil)
    }

    /// `rebuild`, stopping (as if interrupted) once the new version has reached `stop`. Returns
    /// true when the new version was swapped in.
    func rebuild(progress: ((UInt64, UInt64) -> Void)?, stoppingAfter stop: UInt64?) throws -> Bool {
        try rebuildLock.withLock {
            let reader = JournalReader(storage: journal)
            let batches = EventBatches(journal: journal, limit: batchEvents)
            defer { batches.finish() }
            let buffers = FoldBuffers()
            // Resume a half-built version, or start one in the slot that is not live.
            let (slotIndex, version) = try write { transaction -> (Int, UInt64) in
                guard let live = try slotPointer("live", in: transaction) else {
                    throw ProjectionError.corruptFile(path: environment.dataFilePath, reason: "meta/live is missing or damaged")
                }
                if let building = try slotPointer("building", in: transaction),
                   building.slot != live.slot, building.version > live.version,
                   Integers.uint64(try transaction.get(slots[building.slot], key: Keys.schema)) == Self.schemaVersion {
                    return (building.slot, building.version)
                }
                let slot = 1 - live.slot
                try Self.resetSlot(transaction, slots[slot])
                try transaction.put(meta, key: Keys.bytes("building"), value: Self.slotPointer(slot: slot, version: live.version + 1))
                return (slot, live.version + 1)
            }
            let slot = slots[slotIndex]
            var reached = try environment.read { try Self.checkpoint($0, slot) }
            logger.info("rebuilding projections", metadata: ["tally.projections.version": "\(version)", "tally.projections.from": "\(reached)"])

            // The journal's head as last read, for progress reports.
            var head = try reader.lastSequence()
            /// Folds batches from `reached + 1` while `proceed` allows; false at the journal's head.
            func foldNext(proceed: (UInt64) throws -> Bool = { _ in true }) throws -> Bool {
                let batch = try batches.batch(from: reached + 1)
                if batch.events.isEmpty { return false }
                try foldBatches(
                    from: batch, batches: batches, into: slotIndex, pointer: "building", version: version, buffers: buffers,
                    proceed: proceed, handle: handle)
                return true
            }
            func handle(_ batch: EventBatch, _ outcome: BatchOutcome) throws -> Bool {
                switch outcome {
                case .stale:
                    // Another process folded into it, or replaced it: go on from what is stored.
                    let building = try environment.read { transaction in
                        try slotPointer("building", in: transaction)
                    }
                    guard let building, building.slot == slotIndex, building.version == version else {
                        throw ProjectionError.rebuildSuperseded(version: version)
                    }
                    reached = try environment.read { try Self.checkpoint($0, slot) }
                    return false
                case .folded(let newReached, let failure, let usersTouched):
                    batches.adapt(folded: batch.events.count, usersTouched: usersTouched)
                    reached = newReached
                    if let failure {
                        logger.error("projection rebuild stopped at an event it cannot fold", metadata: [
                            "tally.projections.seq": "\(failure.sequence)", "tally.projections.reason": "\(failure.reason)",
                        ])
                        throw ProjectionError.foldFailed(sequence: failure.sequence, reason: failure.reason)
                    }
                    progress?(reached, max(head, reached))
                    return true
                }
            }

            // Catch up without holding the live fold.
            while true {
                if let stop, reached >= stop { return false }
                head = try reader.lastSequence()
                if reached >= head { break }
                let target = min(head, stop ?? head)
                guard try foldNext(proceed: { $0 < target }) else { break }
            }
            // The last stretch and the swap, with the live fold held so nothing is lost between.
            let previous: Int = try foldLock.withLock {
                while true {
                    while try foldNext() {}
                    let swapped = try write { transaction -> Int? in
                        let building = try slotPointer("building", in: transaction)
                        guard let building, building.slot == slotIndex, building.version == version,
                              let live = try slotPointer("live", in: transaction)
                        else { throw ProjectionError.rebuildSuperseded(version: version) }
                        // Never swap in a version behind the live one (another process may be folding it):
                        // a reader must not see the sequence go back.
                        guard try Self.checkpoint(transaction, slot) >= Self.checkpoint(transaction, slots[live.slot]) else { return nil }
                        try transaction.put(meta, key: Keys.bytes("live"), value: Self.slotPointer(slot: slotIndex, version: version))
                        try transaction.delete(meta, key: Keys.bytes("building"))
                        return live.slot
                    }
                    if let previous = swapped {
                        state.live = (slotIndex, version, reached)
                        state.failure = nil
                        return previous
                    }
                }
            }
            progress?(reached, reached)
            logger.info("projections rebuilt and swapped in", metadata: ["tally.projections.version": "\(version)", "tally.projections.seq": "\(reached)"])
            // The old version is no longer read by new snapshots; free its pages.
            try write { try $0.clear(slots[previous]) }
            return true
        }
    }
}
