import Foundation
import Journal
import TallyCrypto

/// The result of an accepted command: its events, where they are in the journal, and whether
/// this was a replay of an idempotent request already answered.
public struct LedgerResult: Sendable {
    public let events: [LedgerEvent]
    public let sequences: ClosedRange<UInt64>?
    /// True when the idempotency key was seen before with the same request: `events` are the
    /// first answer's, and nothing new was appended.
    public let replayed: Bool
    public let receipts: [Receipt]

    /// The server-created transaction ID of a purchase or authorisation.
    public var transaction: String? {
        for event in events {
            switch event {
            case .purchaseAuthorized(let event): return event.transaction
            case .purchaseCaptured(let event): return event.transaction
            case .purchaseVoided(let event): return event.transaction
            default: continue
            }
        }
        return nil
    }
}

/// The ledger: decides commands against the write model kept in the journal's LMDB
/// environment, and appends their events and write-model changes in the same transaction, so
/// the write model is never behind the journal.
public final class Ledger: Sendable {
    public let journal: Journal

    /// Most events one command appends.
    static let commandEventsMax = 4
    /// Idempotency keys are 1 to 128 printable ASCII characters.
    static let idempotencyKeyBytesMax = 128

    /// A ledger over `journal`. A journal with no events yet is marked as of this build's
    /// write-model layout at once (``upgradeWriteModel(_:)``), since its write model will be
    /// folded by this build from the start. (If that write fails, the journal stays unmarked
    /// and is later taken for an older layout and folded afresh: slower, never wrong.)
    public init(journal: Journal) {
        self.journal = journal
        if journal.head == 0 { _ = try? Self.upgradeWriteModel(journal.storage) }
    }

    /// Decides and, if accepted, durably appends `command`. A command that accepts one
    /// (``LedgerCommand/acceptsIdempotencyKey``) may carry an idempotency key, unique within
    /// its `scope` (``IdempotencyScope``; a vendor command's is always its vendor): the same key
    /// with the same command returns the first result; with a different command it is refused
    /// as `idempotencyConflict`.
    public func execute(_ command: LedgerCommand, idempotencyKey: String? = nil, scope: String? = nil) async throws -> LedgerResult {
        let mark = try Self.mark(for: command, key: idempotencyKey, scope: scope)
        let commit = try await journal.write(maxEvents: Self.commandEventsMax) { [mark] context -> JournalEffect<Decision> in
            var state = LedgerState(base: { key in try context.state(Array(key.utf8)) })
            if let mark, let seen = try state.idempotency(vendor: mark.vendor, key: mark.key) {
                guard seen.requestDigest == mark.requestDigest else {
                    throw LedgerRejection(.idempotencyConflict, "Idempotency-Key \(mark.key) was used for a different request", field: "idempotencyKey")
                }
                return JournalEffect(events: [], outcome: .replay(firstSequence: seen.sequence))
            }
            let events = try LedgerDecider(state: state, time: context.timeMilliseconds, nextSequence: context.nextSequence, idempotency: mark)
                .decide(command)
            var sequence = context.nextSequence
            var drafts: [EventDraft] = []
            for event in events {
                // The key was looked up above and is new: the fold need not look again.
                try LedgerFold.apply(event, at: sequence, to: &state, idempotencyKeyIsNew: sequence == context.nextSequence && mark != nil)
                drafts.append(try event.draft())
                sequence += 1
            }
            let changes = state.stagedChanges.map { change -> StateChange in
                if let value = change.value { return .put(key: Array(change.key.utf8), value: value) }
                return .delete(key: Array(change.key.utf8))
            }
            return JournalEffect(events: drafts, stateChanges: changes, outcome: .accepted(events))
        }
        switch commit.outcome {
        case .accepted(let events):
            return LedgerResult(events: events, sequences: commit.sequences, replayed: false, receipts: commit.receipts)
        case .replay(let first):
            return try replayResult(firstSequence: first, mark: mark)
        }
    }

    /// Decides many commands as one journal request (one commit, one block): each is decided
    /// in order against the write model including the ones before it, and accepted or refused
    /// on its own. Up to ``batchCommandsMax`` commands.
    public func executeBatch(_ commands: [(command: LedgerCommand, idempotencyKey: String?)]) async throws
        -> [Result<LedgerResult, LedgerRejection>]
    {
        precondition(commands.count <= Self.batchCommandsMax, "at most \(Self.batchCommandsMax) commands per batch")
        var marks: [IdempotencyMark?] = []
        var prepared: [Result<Void, LedgerRejection>] = []
        for entry in commands {
            do {
                marks.append(try Self.mark(for: entry.command, key: entry.idempotencyKey))
                prepared.append(.success(()))
            } catch let rejection as LedgerRejection {
                marks.append(nil)
                prepared.append(.failure(rejection))
            }
        }
        let frozenMarks = marks
        let frozenPrepared = prepared
        let commit = try await journal.write(maxEvents: Self.commandEventsMax * commands.count) { context -> JournalEffect<[BatchDecision]> in
            var state = LedgerState(base: { key in try context.state(Array(key.utf8)) })
            state.reserveCapacity(commands.count * 4)
            var drafts: [EventDraft] = []
            drafts.reserveCapacity(commands.count)
            var decisions: [BatchDecision] = []
            decisions.reserveCapacity(commands.count)
            for (index, entry) in commands.enumerated() {
                if case .failure(let rejection) = frozenPrepared[index] {
                    decisions.append(.refused(rejection))
                    continue
                }
                let mark = frozenMarks[index]
                if let mark, let seen = try state.idempotency(vendor: mark.vendor, key: mark.key) {
                    if seen.requestDigest == mark.requestDigest {
                        decisions.append(.replay(firstSequence: seen.sequence))
                    } else {
                        decisions.append(.refused(LedgerRejection(.idempotencyConflict, "Idempotency-Key \(mark.key) was used for a different request", field: "idempotencyKey")))
                    }
                    continue
                }
                let first = context.nextSequence + UInt64(drafts.count)
                let events: [LedgerEvent]
                do {
                    // The decider's copy of `state` must be gone before the fold writes to it:
                    // a live copy makes the first write copy every change staged so far.
                    events = try LedgerDecider(state: state, time: context.timeMilliseconds, nextSequence: first, idempotency: mark)
                        .decide(entry.command)
                } catch let rejection as LedgerRejection {
                    // Deciding reads only: a refused command leaves the staged state untouched.
                    decisions.append(.refused(rejection))
                    continue
                }
                var sequence = first
                for event in events {
                    // The key was looked up above and is new: the fold need not look again.
                    try LedgerFold.apply(event, at: sequence, to: &state, idempotencyKeyIsNew: sequence == first && mark != nil)
                    drafts.append(try event.draft())
                    sequence += 1
                }
                decisions.append(.accepted(events, offset: Int(first - context.nextSequence)))
            }
            let changes = state.stagedChanges.map { change -> StateChange in
                if let value = change.value { return .put(key: Array(change.key.utf8), value: value) }
                return .delete(key: Array(change.key.utf8))
            }
            return JournalEffect(events: drafts, stateChanges: changes, outcome: decisions)
        }
        var results: [Result<LedgerResult, LedgerRejection>] = []
        results.reserveCapacity(commands.count)
        // Every receipt of the request at once: the block's Merkle tree is built once, not once
        // per command (which made a batch of n commands cost n trees).
        let allReceipts: [Receipt] = {
            guard let batch = commit.batch, let sequences = commit.sequences else { return [] }
            return batch.receipts(for: sequences)
        }()
        for (index, decision) in commit.outcome.enumerated() {
            switch decision {
            case .refused(let rejection):
                results.append(.failure(rejection))
            case .accepted(let events, let offset):
                let first = commit.sequences!.lowerBound + UInt64(offset)
                let range = first...(first + UInt64(events.count) - 1)
                results.append(.success(LedgerResult(
                    events: events, sequences: range, replayed: false,
                    receipts: allReceipts.isEmpty ? [] : Array(allReceipts[offset..<(offset + events.count)]))))
            case .replay(let first):
                results.append(.success(try replayResult(firstSequence: first, mark: frozenMarks[index])))
            }
        }
        return results
    }

    /// Most commands in one batch (each may append up to ``commandEventsMax`` events).
    public static let batchCommandsMax = 2_500

    enum BatchDecision: Sendable {
        case accepted([LedgerEvent], offset: Int)
        case refused(LedgerRejection)
        case replay(firstSequence: UInt64)
    }

    static func mark(for command: LedgerCommand, key: String?, scope: String? = nil) throws -> IdempotencyMark? {
        guard let key else { return nil }
        guard command.acceptsIdempotencyKey else {
            throw LedgerRejection(.invalidIdentifier, "this command does not take an idempotency key", field: "idempotencyKey")
        }
        let vendor: String
        if let issuing = command.issuingVendor {
            // A vendor's keys are its own, whatever scope the caller names.
            guard scope == nil || scope == issuing else {
                throw LedgerRejection(.invalidIdentifier, "a vendor command's idempotency key is scoped to its vendor", field: "idempotencyKey")
            }
            vendor = issuing
        } else {
            guard let scope, scope == IdempotencyScope.customerService || Self.isUserScope(scope) else {
                throw LedgerRejection(.invalidIdentifier, "an idempotency key needs the scope of a user (user:<account>) or of customer service", field: "idempotencyKey")
            }
            vendor = scope
        }
        guard !key.isEmpty, key.utf8.count <= Self.idempotencyKeyBytesMax, key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7e }) else {
            throw LedgerRejection(.invalidIdentifier, "Idempotency-Key must be 1 to 128 printable ASCII characters", field: "idempotencyKey")
        }
        return IdempotencyMark(vendor: vendor, key: key, requestDigest: try requestDigest(command))
    }

    static func isUserScope(_ scope: String) -> Bool {
        guard scope.hasPrefix("user:") else { return false }
        let account = scope.utf8.dropFirst(5)
        return !account.isEmpty && account.count <= LedgerDecider.identifierBytesMax && account.allSatisfy(LedgerDecider.isIdentifierByte)
    }

    /// The idempotency digest of a request: SHA-256 (hex) of the command's canonical JSON
    /// (`JSONEncoder`'s sorted-keys form, written by hand for catalog purchases).
    /// Whether `text` is an ID the ledger accepts (1 to 64 of A-Z a-z 0-9 . _ -), as every
    /// command checks its IDs.
    public static func isIdentifier(_ text: String) -> Bool {
        (1...LedgerDecider.identifierBytesMax).contains(text.utf8.count) && text.utf8.allSatisfy { LedgerDecider.isIdentifierByte($0) }
    }

    public static func requestDigest(_ command: LedgerCommand) throws -> String {
        try SHA256.hash(EventJSON.digestForm(command) ?? Array(LedgerEvent.encoder.encode(command))).hex
    }

    /// The first answer to an idempotent request: the events appended from its first sequence
    /// that carry its mark.
    func replayResult(firstSequence first: UInt64, mark: IdempotencyMark?) throws -> LedgerResult {
        var events: [LedgerEvent] = []
        var sequences: [UInt64] = []
        for stored in try journal.events(from: first, limit: Self.commandEventsMax) {
            let event = try LedgerEvent(typeName: stored.typeName, payload: stored.payload)
            guard event.idempotency == mark else { break }
            events.append(event)
            sequences.append(stored.sequence)
        }
        let receipts = try sequences.map { try journal.receipt(for: $0) }
        return LedgerResult(events: events, sequences: sequences.first.map { $0...sequences.last! }, replayed: true, receipts: receipts)
    }

    enum Decision: Sendable {
        case accepted([LedgerEvent])
        case replay(firstSequence: UInt64)
    }

    /// Decides `command` against `state` and, if accepted, folds its events into it: the pure
    /// core of `execute`, with no journal and no I/O (for replays, simulations and benchmarks).
    /// A refusal throws and leaves `state` unchanged.
    public static func decideAndFold(
        _ command: LedgerCommand, state: inout LedgerState, timeMilliseconds: UInt64, nextSequence: UInt64
    ) throws -> [LedgerEvent] {
        let events = try LedgerDecider(state: state, time: timeMilliseconds, nextSequence: nextSequence, idempotency: nil)
            .decide(command)
        var sequence = nextSequence
        for event in events {
            try LedgerFold.apply(event, at: sequence, to: &state)
            sequence += 1
        }
        return events
    }

    // MARK: Reading the write model

    /// A read of the write model as committed.
    public func read<R>(_ body: (LedgerState) throws -> R) throws -> R {
        try journal.storage.read { reader in
            try body(LedgerState(base: { key in try reader.state(Array(key.utf8)) }))
        }
    }

    public func balance(_ account: LedgerAccount) throws -> Int64 {
        try read { try $0.balance(account) }
    }

    /// Every write-model entry, as stored.
    public func writeModel() throws -> [String: [UInt8]] {
        var entries: [String: [UInt8]] = [:]
        try journal.storage.read { reader in
            try reader.forEachState { key, value in
                entries[String(decoding: key, as: UTF8.self)] = value
                return true
            }
        }
        return entries
    }

    /// Folds the whole journal from empty into a fresh write model (for audits and to check
    /// that the live one equals it).
    public static func replay(_ storage: any JournalStorage) throws -> [String: [UInt8]] {
        var entries: [String: [UInt8]] = [:]
        let reader = JournalReader(storage: storage)
        var next: UInt64 = 1
        while true {
            let batch = try reader.events(from: next, limit: 4096)
            if batch.isEmpty { break }
            // One state per chunk, as the journal's writer folds a batch of commands: later
            // events read earlier ones' changes from the staged slots, and each record is
            // encoded and merged once per chunk instead of once per event.
            var state = LedgerState(base: { entries[$0] })
            state.reserveCapacity(batch.count * 4)
            for stored in batch {
                let event = try LedgerEvent(typeName: stored.typeName, payload: stored.payload)
                try LedgerFold.apply(event, at: stored.sequence, to: &state)
            }
            for change in state.stagedChanges {
                entries[change.key] = change.value
            }
            next = batch.last!.sequence + 1
        }
        return entries
    }

    /// An account whose balance in the write model is not what the journal's postings give.
    public struct BalanceMismatch: Sendable, Equatable, CustomStringConvertible {
        public let account: String
        /// The sum of the account's postings (credits minus debits), events 1 through `throughSequence`.
        public let fromPostings: Int64
        /// The write model's value: nil when it has none, or when its record is not 8 bytes.
        public let inWriteModel: Int64?
        public let throughSequence: UInt64
        public var description: String {
            "the write model's balance of \(account) is \(inWriteModel.map(String.init) ?? "missing or damaged"), but the postings of events 1 through \(throughSequence) give \(fromPostings)"
        }
    }

    /// Recomputes every balance from the journal's postings alone and compares it with the
    /// write model's. LMDB keeps no page checksums: this is what finds a write model damaged at
    /// rest, which the journal's own scrub does not read.
    ///
    /// The postings are summed in read transactions of `chunk` events, so that a running writer
    /// is not kept from reusing pages for the minutes a large journal takes (a snapshot pins
    /// every page it can see; under load the file would grow by what the writer dirties
    /// meanwhile). Events never change once appended, so the sums carry across snapshots; the
    /// last snapshot adds the events appended meanwhile and reads the write model's balances,
    /// which it holds as of its own last event. Returns the first mismatch, or nil when every
    /// balance agrees or `stop` returned true (asked once per chunk).
    public static func checkBalances(_ storage: any JournalStorage, chunk: UInt64 = 65_536, stop: () -> Bool = { false }) throws -> BalanceMismatch? {
        var sums: [String: Int64] = [:]
        var last: UInt64 = 0
        /// Adds the postings of the events after `last`, up to `limit` of them (nil: to the
        /// snapshot's end); false when there were no more.
        func add(_ reader: any JournalStorageReader, limit: UInt64?) throws -> Bool {
            var count: UInt64 = 0
            try reader.forEachEventRecord(from: last + 1) { sequence, record in
                guard let stored = StoredEvent(sequence: sequence, record: record) else {
                    throw JournalError.corruptFile(path: storage.location, reason: "event \(sequence) is malformed")
                }
                for posting in try LedgerEvent(typeName: stored.typeName, payload: stored.payload).postings {
                    sums[posting.debit] = try Money.subtract(sums[posting.debit] ?? 0, posting.amount)
                    sums[posting.credit] = try Money.add(sums[posting.credit] ?? 0, posting.amount)
                }
                last = sequence
                count += 1
                return limit.map { count < $0 } ?? true
            }
            return limit.map { count == $0 } ?? false
        }
        var more = true
        while more {
            more = try storage.read { try add($0, limit: chunk) }
            if stop() { return nil }
        }
        return try storage.read { reader in
            _ = try add(reader, limit: nil)
            var mismatch: BalanceMismatch?
            let prefix = Array(LedgerState.balanceKey("").utf8)
            try reader.forEachState { key, value in
                guard key.starts(with: prefix) else { return true }
                let account = String(decoding: key.dropFirst(prefix.count), as: UTF8.self)
                let stored = LedgerState.storedBalance(value)
                let expected = sums.removeValue(forKey: account) ?? 0
                guard stored == expected else {
                    mismatch = BalanceMismatch(account: account, fromPostings: expected, inWriteModel: stored, throughSequence: last)
                    return false
                }
                return true
            }
            if mismatch == nil, let missing = sums.filter({ $0.value != 0 }).min(by: { $0.key < $1.key }) {
                mismatch = BalanceMismatch(account: missing.key, fromPostings: missing.value, inWriteModel: nil, throughSequence: last)
            }
            return mismatch
        }
    }

    /// The layout of the write model this build folds. Raise it whenever the fold changes
    /// what it keeps (a new record, or a record kept differently), and say what changed here:
    /// a write model of an older layout is folded afresh from the journal when it is next
    /// opened (``upgradeWriteModel(_:)``), so that the live write model always equals a replay.
    /// - 1: before the marker existed.
    /// - 2: a dispute customer service rejected is recorded (`rejected/<transaction>`).
    /// - 3: the capture time of a purchase authorized first (`capturedat/<transaction>`).
    /// - 4: `lots/<user>` lists only the user's lots that hold tokens.
    /// - 5: a vendor record may end with its thresholds by currency. It only adds to what 4
    ///   wrote (a layout-4 fold never met such a policy), so a layout-4 write model is marked 5
    ///   without a fold (``layoutsWithoutFold``).
    /// - 6: a purchase record may end with what partial refunds took and the vendor's data
    ///   (tag `0xA9`). Layouts 4 and 5 never met either (no command made them), so they are
    ///   marked 6 without a fold.
    public static let writeModelVersion = 6
    /// Older layouts whose every record this build writes byte for byte the same.
    static let layoutsWithoutFold: Set<Int> = [4, 5]
    static let writeModelVersionName = "write-model-version"

    /// What ``upgradeWriteModel(_:)`` did.
    public enum WriteModelUpgrade: Sendable, Equatable {
        /// The write model was of this build's layout.
        case current
        /// The journal was empty: the layout is recorded, nothing to fold.
        case marked
        /// The write model of layout `from` was replaced by one folded from the journal's `events` events.
        case refolded(from: Int, events: UInt64, entries: Int)
        /// The write model of layout `from`, which this build writes the same, was marked current.
        case remarked(from: Int)
    }

    /// Why the write model cannot be brought to this build's layout.
    public struct WriteModelError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// The layout of the write model beside `storage`'s journal (1 when it has no marker), once
    /// checked that this build can fold it: a damaged marker, or a layout written by a newer
    /// build, is refused. Reads only, so that a start can refuse before it writes anything.
    public static func writeModelLayout(_ storage: any JournalStorage) throws -> Int {
        guard let stored = try storage.read({ try $0.metadata(writeModelVersionName) }) else { return 1 }
        guard let version = Int(String(decoding: stored, as: UTF8.self)), version >= 1 else {
            throw WriteModelError(description: "\(storage.location): the write model's version marker is damaged (\(stored.count) bytes)")
        }
        guard version <= writeModelVersion else {
            throw WriteModelError(description:
                "\(storage.location): the write model has layout \(version), written by a newer Tally; this build knows up to \(writeModelVersion)")
        }
        return version
    }

    /// Brings the write model beside `storage`'s journal to ``writeModelVersion``: an older one
    /// is folded afresh from the journal and replaced in one write transaction (a crash leaves
    /// the old one and its marker, so the next open folds again); one written by a newer build
    /// is refused rather than written with rules it does not know. Call it before the journal
    /// takes commands.
    public static func upgradeWriteModel(_ storage: any JournalStorage) throws -> WriteModelUpgrade {
        let version = try writeModelLayout(storage)
        if version == writeModelVersion { return .current }
        if layoutsWithoutFold.contains(version) {
            try storage.write { writer in
                // Another process may have marked it meanwhile: only a layout this build reads is replaced.
                let stored = try writer.metadata(writeModelVersionName).flatMap { Int(String(decoding: $0, as: UTF8.self)) }
                guard stored == version || stored == writeModelVersion else {
                    throw WriteModelError(description: "\(storage.location): the write model's layout changed while it was being marked")
                }
                try writer.setMetadata(writeModelVersionName, Array(String(writeModelVersion).utf8))
            }
            return .remarked(from: version)
        }
        let last = try storage.read { try $0.lastEventSequence() } ?? 0
        if last == 0 {
            try installWriteModel([:], foldedThrough: 0, in: storage)
            return .marked
        }
        let entries = try replay(storage)
        try installWriteModel(entries, foldedThrough: last, in: storage)
        return .refolded(from: version, events: last, entries: entries.count)
    }

    /// Replaces the write model beside `storage`'s journal with `entries`, which this build
    /// folded (``replay(_:)``) from events 1 through `through`, and marks it as of this build's
    /// layout, in one write transaction; refused if the journal has moved on meanwhile.
    public static func installWriteModel(_ entries: [String: [UInt8]], foldedThrough through: UInt64, in storage: any JournalStorage) throws {
        try storage.write { writer in
            guard try writer.lastEventSequence() ?? 0 == through else {
                throw WriteModelError(description: "\(storage.location): events were appended while the write model was being folded")
            }
            try writer.clearState()
            for key in entries.keys.sorted() { try writer.putState(Array(key.utf8), entries[key]!) }
            try writer.setMetadata(writeModelVersionName, Array(String(writeModelVersion).utf8))
        }
    }
}
