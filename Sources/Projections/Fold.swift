import Foundation
import Journal
import LMDB
import Ledger

/// An event the fold cannot handle: undecodable, or inconsistent with what was folded before.
struct FoldFailure: Error, CustomStringConvertible {
    let reason: String
    init(_ reason: String) { self.reason = reason }
    var description: String { reason }
}

/// Records read from a slot once per batch, changed in memory, and written back once when the
/// batch commits. A record absent from the slot is cached as `nil`. Records are stored in their
/// binary layout (`ViewRecord`); one that does not decode is a fold failure.
///
/// One dictionary lookup per access (ID to position in `entries`), and records are changed in
/// place (`mutate`), so the arrays inside a view are not copied on every change. A body that
/// throws may leave its record half-changed: the fold failure discards the whole `Folder`
/// (`Projections.foldBatch` folds the good events again in a fresh one), so nothing of it is
/// ever written.
struct RecordCache<Value: ViewRecord> {
    struct Entry {
        var value: Value?
        var dirty: Bool
        /// The event that created the record without looking it up in the slot (`create`), 0
        /// for none: the record is then put so that it must not exist yet.
        var createdAt: UInt64 = 0
    }

    let prefix: String
    /// The records, in the order of `positions` (each record's ID).
    private(set) var entries: [Entry] = []
    private var positions = StringIndex()
    /// The cache of the batch before this one when that batch may not be committed yet
    /// (`FoldPipeline`): its records as that batch left them, found here before the slot.
    private var previousEntries: [Entry] = []
    private var previousPositions = StringIndex()

    init(prefix: String) { self.prefix = prefix }

    /// Reads records the previous batch read or changed from its cache (shared, not copied).
    /// Batches are alike: this one is given room for as many records as the previous one
    /// touched, so that its table is not rehashed over and over as it grows.
    mutating func continuing(_ previous: RecordCache<Value>) {
        previousEntries = previous.entries
        previousPositions = previous.positions
        entries.reserveCapacity(previous.entries.count)
        positions.reserveCapacity(previous.positions.count)
    }

    private mutating func position(_ id: String, _ folder: Folder) throws -> Int {
        let hash = StringIndex.hash(id)
        if let position = positions.index(of: id, hash: hash) { return position }
        if let previous = previousPositions.index(of: id, hash: hash) {
            entries.append(Entry(value: previousEntries[previous].value, dirty: false))
            return positions.append(id, hash: hash)
        }
        let value = try folder.reader.get(folder.database, key: Keys.bytes(prefix, id)).map { bytes in
            do {
                return try Value.decodeBinary(bytes)
            } catch {
                throw FoldFailure("stored record \(prefix + id) is malformed: \((error as? RecordCodingError)?.reason ?? "\(error)")")
            }
        }
        entries.append(Entry(value: value, dirty: false))
        return positions.append(id, hash: hash)
    }

    mutating func get(_ id: String, _ folder: Folder) throws -> Value? {
        entries[try position(id, folder)].value
    }

    /// Whether the record exists (without copying it out).
    mutating func exists(_ id: String, _ folder: Folder) throws -> Bool {
        entries[try position(id, folder)].value != nil
    }

    /// Creates a record at event `sequence`; false when it exists in this batch's state. A
    /// record the batch has not seen is not looked up: whether the slot holds it already is
    /// found when the batch is written (`WriteBatch.put` refuses to overwrite it, naming the
    /// event), which saves a B-tree descent that almost always misses.
    mutating func create(_ id: String, _ value: Value, sequence: UInt64) -> Bool {
        let hash = StringIndex.hash(id)
        if let position = positions.index(of: id, hash: hash) {
            guard entries[position].value == nil else { return false }
            entries[position].value = value
            entries[position].dirty = true
            return true
        }
        entries.append(Entry(value: value, dirty: true, createdAt: sequence))
        positions.append(id, hash: hash)
        return true
    }

    mutating func set(_ id: String, _ value: Value, _ folder: Folder) throws {
        let position = try position(id, folder)
        entries[position].value = value
        entries[position].dirty = true
    }

    /// Changes the record in place; false (and `body` not run) when it does not exist.
    mutating func mutate(_ id: String, _ folder: Folder, _ body: (inout Value) throws -> Void) throws -> Bool {
        let position = try position(id, folder)
        guard entries[position].value != nil else { return false }
        entries[position].dirty = true
        try body(&entries[position].value!)
        return true
    }

    /// Forgets every record, keeping the storage's capacity (`FoldBuffers`).
    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        positions.removeAll()
        previousEntries = []
        previousPositions = StringIndex()
    }

    func write(into batch: inout WriteBatch) {
        for (entry, id) in zip(entries, positions.keys) where entry.dirty {
            // Every dirty record was set to a value.
            guard let value = entry.value else { continue }
            batch.append(key: { $0.append(prefix, id) }, value: value.binaryBytes, createdAt: entry.createdAt)
        }
    }
}

/// The entries a batch writes, keys and values packed in one byte buffer, put in key order
/// when the batch commits: sorted puts walk the B-tree's pages in order (each leaf page is
/// found hot and, once dirty, filled with its neighbours) instead of jumping to a random page
/// for every put.
struct WriteBatch {
    private var bytes: [UInt8] = []
    /// Each entry: where its key starts, where its value starts (the key's end), where it ends,
    /// and the event that created it when the slot must not hold its key yet (0 for none).
    private var spans: [Span] = []
    private typealias Span = (key: Int, value: Int, end: Int, created: UInt64)

    init() {
        bytes.reserveCapacity(1 << 20)
        spans.reserveCapacity(1 << 14)
    }

    var count: Int { spans.count }

    /// Forgets every entry, keeping the buffers' capacity (`FoldBuffers`).
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
    }

    struct KeyBuilder {
        fileprivate var bytes: [UInt8]
        mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }
        mutating func append(_ text: String, _ more: String) {
            bytes.append(contentsOf: text.utf8)
            bytes.append(contentsOf: more.utf8)
        }
        /// A zero byte and `number` big-endian (`Keys.numbered`).
        mutating func number(_ number: UInt64) {
            bytes.append(0)
            withUnsafeBytes(of: number.bigEndian) { bytes.append(contentsOf: $0) }
        }
    }

    mutating func append(key: (inout KeyBuilder) -> Void, value: [UInt8]) {
        append(key: key, writeValue: { $0.append(contentsOf: value) })
    }

    /// An entry whose value `value` writes straight into the buffer (no array of its own).
    mutating func append(key: (inout KeyBuilder) -> Void, writeValue value: (inout [UInt8]) -> Void) {
        let start = bytes.count
        var builder = KeyBuilder(bytes: [])
        swap(&builder.bytes, &bytes)
        key(&builder)
        swap(&builder.bytes, &bytes)
        let valueStart = bytes.count
        value(&bytes)
        spans.append((start, valueStart, bytes.count, 0))
    }

    /// An entry whose value is `number`, 8 bytes big-endian (`Integers.encode`).
    mutating func append(key: (inout KeyBuilder) -> Void, number: UInt64) {
        append(key: key, writeValue: { bytes in withUnsafeBytes(of: number.bigEndian) { bytes.append(contentsOf: $0) } })
    }

    mutating func append(key: [UInt8], value: [UInt8]) {
        append(key: { $0.bytes.append(contentsOf: key) }, value: value)
    }

    /// An entry that event `createdAt` created and that the slot must not hold yet (none when 0).
    mutating func append(key: (inout KeyBuilder) -> Void, value: [UInt8], createdAt: UInt64) {
        append(key: key, value: value)
        spans[spans.count - 1].created = createdAt
    }

    /// A put of a created record whose key the slot holds already.
    struct CreatedTwice: Error {
        let key: [UInt8]
        let sequence: UInt64
    }

    /// Puts every entry, in key order.
    func put(into transaction: WriteTransaction, _ database: Database) throws {
        try bytes.withUnsafeBytes { buffer in
            for entry in Self.order(spans, buffer) {
                let span = spans[Int(entry)]
                let key = UnsafeRawBufferPointer(rebasing: buffer[span.key..<span.value])
                let value = UnsafeRawBufferPointer(rebasing: buffer[span.value..<span.end])
                if span.created == 0 {
                    try transaction.put(database, key: key, value: value)
                } else {
                    do {
                        try transaction.put(database, key: key, value: value, options: .noOverwrite)
                    } catch let error as LMDBError where error.kind == .keyExists {
                        throw CreatedTwice(key: Array(key), sequence: span.created)
                    }
                }
            }
        }
    }

    /// Every entry in key order (each key ends in a zero byte and a sequence, as `LogChunk`'s).
    func forEachInKeyOrder(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { buffer in
            for entry in Self.order(spans, buffer) {
                let span = spans[Int(entry)]
                precondition(span.value - span.key >= 9, "a log entry's key ends in a zero byte and a sequence")
                body(UnsafeRawBufferPointer(rebasing: buffer[span.key..<span.value]), UnsafeRawBufferPointer(rebasing: buffer[span.value..<span.end]))
            }
        }
    }

    /// The keys in the order `put` writes them (for tests).
    var keysInPutOrder: [[UInt8]] {
        bytes.withUnsafeBytes { buffer in
            Self.order(spans, buffer).map { Array(buffer[spans[Int($0)].key..<spans[Int($0)].value]) }
        }
    }

    /// The entries' positions in key order: byte-wise, a key that is a prefix of another first
    /// (LMDB's default order).
    private static func order(_ spans: [Span], _ buffer: UnsafeRawBufferPointer) -> [Int32] {
        guard let base = buffer.baseAddress else { return [] }
        // Each key's first 16 bytes as two big-endian words (zero-padded): comparing them
        // orders most keys without a memcmp call; keys equal in those words are compared from
        // byte 16 on, then by length (zero padding makes a key equal in its words to a longer one
        // it is a prefix of, or that continues with zero bytes, and the shorter sorts first).
        func word(_ start: Int, _ end: Int) -> UInt64 {
            var word: UInt64 = 0
            var index = start
            while index < min(end, start + 8) {
                word |= UInt64(base.load(fromByteOffset: index, as: UInt8.self)) << (56 - 8 * (index - start))
                index += 1
            }
            return word
        }
        var order: [(high: UInt64, low: UInt64, entry: Int32)] = []
        order.reserveCapacity(spans.count)
        for (index, span) in spans.enumerated() {
            order.append((word(span.key, span.value), word(span.key + 8, span.value), Int32(index)))
        }
        order.sort { a, b in
            if a.high != b.high { return a.high < b.high }
            if a.low != b.low { return a.low < b.low }
            let spanA = spans[Int(a.entry)], spanB = spans[Int(b.entry)]
            let lengthA = spanA.value - spanA.key, lengthB = spanB.value - spanB.key
            let shared = min(lengthA, lengthB)
            if shared > 16 {
                let order = memcmp(base + spanA.key + 16, base + spanB.key + 16, shared - 16)
                if order != 0 { return order < 0 }
            }
            return lengthA < lengthB
        }
        return order.map(\.entry)
    }
}

/// Checked arithmetic: an overflow is a fold failure, never a trap.
@inline(__always)
func add(_ a: Int64, _ b: Int64, _ what: @autoclosure () -> String) throws -> Int64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    if overflow { throw FoldFailure("amount overflow in \(what())") }
    return sum
}

/// The largest buffers of a fold, kept from one batch to the next by the loop that folds them
/// (`Folder.init(…reusing:)`, `Folder.releaseBuffers`): grown again from nothing at every batch,
/// their fresh pages zeroed by the kernel and their contents copied at every doubling were
/// about a tenth of a cold fold's CPU. Belongs to one folding loop (one thread) at a time.
final class FoldBuffers {
    fileprivate var appended = WriteBatch()
    fileprivate var logEntries = WriteBatch()
    fileprivate var purchases = RecordCache<PurchaseView>(prefix: "txn/")
    fileprivate var users = RecordCache<WalletsView>(prefix: "user/")
}

/// Folds a batch of events into one read-model slot. It reads the slot through `reader` and
/// writes nothing until `write(into:)`, so a batch that meets a bad event can be folded again up
/// to the event before it (the fold is deterministic). Folding and writing may happen in two
/// transactions on two threads (`FoldPipeline`): a folder made `after` the previous batch's
/// folder reads what that batch changed from its memory, as that batch may not be committed yet.
final class Folder {
    let reader: ReadTransaction
    let database: Database

    private(set) var checkpoint: UInt64
    private var maxTime: UInt64
    /// Accounts read or changed in this batch, by name (each one's slot), and their balances
    /// by slot; every one of them is written back.
    private var accounts = StringIndex()
    private var accountBalances: [Int64] = []
    /// The previous batch's accounts and balances, when it may not be committed yet.
    private let previousAccounts: StringIndex
    private let previousAccountBalances: [Int64]
    /// The batch's balance-history points, in fold order: the account's slot, the event and the
    /// balance after it. Written as one chunk (or a few) per account at `flush`.
    private var balanceHistory: [(account: Int32, sequence: UInt64, balance: Int64)] = []
    private var users = RecordCache<WalletsView>(prefix: "user/")
    private var lotOwners = RecordCache<String>(prefix: "lot/")
    private var vendors = RecordCache<VendorSettlementView>(prefix: "vendor/")
    private var purchases = RecordCache<PurchaseView>(prefix: "txn/")
    private var royaltyTotals = RecordCache<[RoyaltyCurrencyTotal]>(prefix: "rs/")
    private var fundings = RecordCache<FundingCase>(prefix: "fund/")
    private var disputes = RecordCache<DisputeCase>(prefix: "dsp/")
    private var payouts = RecordCache<PayoutCase>(prefix: "pay/")
    private var royaltyPayouts = RecordCache<RoyaltyPayoutCase>(prefix: "hpay/")
    private var payoutRequests = RecordCache<PayoutRequestCase>(prefix: "preq/")
    /// Keys the batch deletes once its puts are done: the queue entries of fundings cleared or
    /// failed and of disputes resolved (`open/…`). Nothing in the fold reads the queues, so a
    /// queue entry put by the batch before (maybe not committed yet) needs no lookup here.
    private var deletions: [[UInt8]] = []
    /// Entries written once (records, chunks, indexes); each key is unique.
    private var appended = WriteBatch()
    /// The batch's log entries (`LogChunk`), each under the key schema 2 gave it alone
    /// (`<prefix>` 0 `<seq>`): put in chunks, one or a few per subject, at `flush`.
    private var logEntries = WriteBatch()
    /// The time index: the last sequence at each running-maximum time. The running maximum
    /// never decreases, so this is in time order and only its last element ever changes.
    private var timeIndex: [(time: UInt64, sequence: UInt64)] = []
    /// A time-index chunk: its key's time and its points.
    typealias TimeIndexChunk = (time: UInt64, points: [(time: UInt64, sequence: UInt64)])
    /// The last stored time-index chunk; the batch's points continue it. Read at the batch's
    /// first event, unless the folder was made after the previous batch's folder: then it is
    /// the chunk that batch writes (`timeIndexTail`), which may not be committed yet.
    private var storedTimeIndex: TimeIndexChunk?
    private var storedTimeIndexKnown: Bool
    /// The last time-index chunk once this batch is written (set by `prepareTimeIndex`).
    private(set) var timeIndexTail: TimeIndexChunk?
    /// Royalty entries of the event being folded, by rights holder.
    private var royaltyEntries: [String: [RoyaltyEntry]] = [:]

    // The event being folded.
    private var sequence: UInt64 = 0
    private var time: UInt64 = 0

    /// The buffers this batch borrowed, given back by `releaseBuffers`.
    private let buffers: FoldBuffers?

    /// A folder for the batch that follows `previous` (whose writes may not be committed yet),
    /// or, without one, for the batch that follows what `reader` sees.
    init(reader: ReadTransaction, database: Database, reusing buffers: FoldBuffers? = nil, after previous: Folder? = nil) throws {
        self.reader = reader
        self.database = database
        self.buffers = buffers
        if let buffers {
            swap(&appended, &buffers.appended)
            swap(&logEntries, &buffers.logEntries)
            swap(&purchases, &buffers.purchases)
            swap(&users, &buffers.users)
        }
        if let previous {
            checkpoint = previous.checkpoint
            maxTime = previous.maxTime
            previousAccounts = previous.accounts
            previousAccountBalances = previous.accountBalances
            accounts.reserveCapacity(previous.accounts.count)
            accountBalances.reserveCapacity(previous.accountBalances.count)
            balanceHistory.reserveCapacity(previous.balanceHistory.count)
            storedTimeIndex = previous.timeIndexTail
            storedTimeIndexKnown = true
            users.continuing(previous.users)
            lotOwners.continuing(previous.lotOwners)
            vendors.continuing(previous.vendors)
            purchases.continuing(previous.purchases)
            royaltyTotals.continuing(previous.royaltyTotals)
            fundings.continuing(previous.fundings)
            disputes.continuing(previous.disputes)
            payouts.continuing(previous.payouts)
            royaltyPayouts.continuing(previous.royaltyPayouts)
            payoutRequests.continuing(previous.payoutRequests)
        } else {
            checkpoint = Integers.uint64(try reader.get(database, key: Keys.checkpoint(Keys.models[0]))) ?? 0
            maxTime = Integers.uint64(try reader.get(database, key: Keys.maxTime)) ?? 0
            previousAccounts = StringIndex()
            previousAccountBalances = []
            storedTimeIndexKnown = false
        }
    }

    /// Every step of writing the batch, in the reader's own write transaction.
    func flush(into transaction: WriteTransaction) throws {
        prepareTimeIndex()
        prepareRecords()
        try write(into: transaction)
    }

    /// Puts what `prepareTimeIndex` and `prepareRecords` gathered, in key order, then deletes
    /// the queue entries the batch closed (an entry opened and closed in one batch is put, then
    /// deleted). The fold checked each closed case's record was open, and a case's record and
    /// its queue entry are written together, so the entry is there.
    func write(into transaction: WriteTransaction) throws {
        try appended.put(into: transaction, database)
        for key in deletions { _ = try transaction.delete(database, key: key) }
    }

    /// Gathers every other changed record and the checkpoints. Once: it adds them to `appended`
    /// (not to a copy of it, which would copy the whole batch's bytes). It only reads the caches,
    /// so the next batch's folder may read them meanwhile (`FoldPipeline`).
    func prepareRecords() {
        for (account, balance) in zip(accounts.keys, accountBalances) {
            appended.append(key: { $0.append("bal/", account) }, number: UInt64(bitPattern: balance))
        }
        flushBalanceHistory()
        flushLogs()
        users.write(into: &appended)
        lotOwners.write(into: &appended)
        vendors.write(into: &appended)
        purchases.write(into: &appended)
        royaltyTotals.write(into: &appended)
        fundings.write(into: &appended)
        disputes.write(into: &appended)
        payouts.write(into: &appended)
        royaltyPayouts.write(into: &appended)
        payoutRequests.write(into: &appended)
        for model in Keys.models {
            appended.append(key: Keys.checkpoint(model), value: Integers.encode(checkpoint))
        }
        appended.append(key: Keys.maxTime, value: Integers.encode(maxTime))
    }

    /// Each account's points of the batch as chunks of their own (`SeriesChunk`), keyed by their
    /// first sequence. Older chunks are neither read nor rewritten: a point-in-time read finds
    /// the chunk holding the last point at or before a sequence as it found that point alone.
    private func flushBalanceHistory() {
        guard !balanceHistory.isEmpty else { return }
        // Group the points by account, keeping each account's in fold (sequence) order: a
        // counting sort over the slots.
        var starts = [Int](repeating: 0, count: accounts.count + 1)
        for point in balanceHistory { starts[Int(point.account) + 1] += 1 }
        for slot in 0..<accounts.count { starts[slot + 1] += starts[slot] }
        var next = starts
        var grouped = [Int32](repeating: 0, count: balanceHistory.count)
        for (index, point) in balanceHistory.enumerated() {
            grouped[next[Int(point.account)]] = Int32(index)
            next[Int(point.account)] += 1
        }
        let points = balanceHistory
        for (slot, account) in accounts.keys.enumerated() {
            var start = starts[slot]
            let end = starts[slot + 1]
            while start < end {
                let count = min(end - start, SeriesChunk.entriesMax)
                let first = points[Int(grouped[start])].sequence
                let chunkStart = start
                appended.append(key: { $0.append("bh/", account); $0.number(first) }, writeValue: { bytes in
                    SeriesChunk.write(tag: SeriesChunk.balanceHistoryTag, count: count, into: &bytes) { index in
                        let point = points[Int(grouped[chunkStart + index])]
                        return (point.sequence, UInt64(bitPattern: point.balance))
                    }
                })
                start += count
            }
        }
    }

    /// The batch's log entries in chunks (`LogChunk`): a subject's entries, in sequence order,
    /// until the next would take the chunk past `LogChunk.bytesMax`, keyed by the first's key.
    private func flushLogs() {
        var chunk: [UInt8] = []
        var entries = 0
        var subject: [UInt8] = []
        var first: UInt64 = 0
        func close() {
            guard entries > 0 else { return }
            appended.append(key: subject + BigEndian.bytes(first), value: chunk)
        }
        logEntries.forEachInKeyOrder { key, value in
            let subjectBytes = UnsafeRawBufferPointer(rebasing: key[..<(key.count - 8)])
            let sequence = BigEndian.uint64(key, at: key.count - 8)
            let same = entries > 0 && subjectBytes.elementsEqual(subject)
            if !same || chunk.count + LogChunk.entryHeaderBytes + value.count > LogChunk.bytesMax {
                close()
                if !same { subject = Array(subjectBytes) }
                first = sequence
                chunk.removeAll(keepingCapacity: true)
                chunk.append(LogChunk.tag)
                entries = 0
            }
            LogChunk.appendEntry(sequence: sequence, value, to: &chunk)
            entries += 1
        }
        close()
    }

    /// Gathers the batch's time-index points, appended to the last stored chunk while it has
    /// room, and sets `timeIndexTail`, which the next batch's folder reads (so this comes before
    /// that folder is made). The batch's first point may be at the time of the stored last one
    /// (the largest time did not grow with the batch's first event): it then replaces it, as
    /// schema 2's put of the same key did.
    func prepareTimeIndex() {
        timeIndexTail = storedTimeIndex
        guard let first = timeIndex.first else { return }
        var points = timeIndex
        var keyTime = first.time
        if var stored = storedTimeIndex, let last = stored.points.last {
            // `fold` checked that the stored points end at or before the batch's first.
            let replaced = last.time == first.time
            if replaced { stored.points.removeLast() }
            if !stored.points.isEmpty && (replaced || stored.points.count < SeriesChunk.entriesMax) {
                points = stored.points + points
                keyTime = stored.time
            }
        }
        var start = 0
        while start < points.count {
            let count = min(points.count - start, SeriesChunk.entriesMax)
            let time = start == 0 ? keyTime : points[start].time
            let chunkStart = start
            if start + count == points.count { timeIndexTail = (time, Array(points[start...])) }
            appended.append(key: { $0.append("ti/"); $0.number(time) }, writeValue: { bytes in
                SeriesChunk.write(tag: SeriesChunk.timeIndexTag, count: count, into: &bytes) { index in
                    let point = points[chunkStart + index]
                    return (point.time, point.sequence)
                }
            })
            start += count
        }
    }

    /// The last stored time-index chunk: its key's time and its points.
    private func lastTimeIndexChunk() throws -> TimeIndexChunk? {
        let head = Keys.bytes("ti/") + [0]
        return try reader.withCursor(database) { cursor -> TimeIndexChunk? in
            let found = try cursor.seek(atOrAfter: Keys.bytes("ti/") + [1]) ? try cursor.previous() : try cursor.last()
            guard found, cursor.key.count == head.count + 8, cursor.key.starts(with: head) else { return nil }
            let keyTime = BigEndian.uint64(cursor.key, at: head.count)
            let chunk: SeriesChunk.View
            do {
                chunk = try SeriesChunk.View(cursor.value, tag: SeriesChunk.timeIndexTag, keyPosition: keyTime)
            } catch let error as SeriesChunk.Malformed {
                throw FoldFailure("stored record ti/#\(keyTime) is malformed: \(error.reason)")
            }
            return (keyTime, (0..<chunk.count).map { (chunk.position($0), chunk.value($0)) })
        }
    }

    /// Gives the borrowed buffers back, emptied, for the next batch. The folder is done with.
    func releaseBuffers() {
        guard let buffers else { return }
        appended.removeAll()
        logEntries.removeAll()
        purchases.removeAll()
        users.removeAll()
        swap(&appended, &buffers.appended)
        swap(&logEntries, &buffers.logEntries)
        swap(&purchases, &buffers.purchases)
        swap(&users, &buffers.users)
    }

    // MARK: One event

    /// Users whose record this batch read or changed (how widely the batch is spread).
    var usersTouched: Int { users.entries.count }

    /// The ledger event a stored event holds, or the reason it does not decode (a fold failure
    /// at that event). Pure, so it may run on another thread ahead of the fold.
    static func decode(_ stored: StoredEvent) -> Result<LedgerEvent, FoldFailure> {
        do {
            return .success(try LedgerEvent(typeName: stored.typeName, payload: stored.payload))
        } catch let error as LedgerDecodingError {
            return .failure(FoldFailure(error.description))
        } catch {
            return .failure(FoldFailure("cannot decode \(stored.typeName): \(error)"))
        }
    }

    /// Folds `stored`, whose decoding (``decode(_:)``) is `decoded`.
    func fold(_ stored: StoredEvent, _ decoded: Result<LedgerEvent, FoldFailure>) throws {
        guard stored.sequence == checkpoint + 1 else {
            throw FoldFailure("expected event \(checkpoint + 1), the journal gave \(stored.sequence)")
        }
        let event = try decoded.get()
        sequence = stored.sequence
        time = event.timeMilliseconds
        if timeIndex.isEmpty {
            // The batch's first event: the stored time index, which its points continue.
            if !storedTimeIndexKnown { storedTimeIndex = try lastTimeIndexChunk() }
            if let last = storedTimeIndex?.points.last, last.time > maxTime || last.sequence >= sequence {
                throw FoldFailure("the stored time index ends at time \(last.time), sequence \(last.sequence), past what was folded")
            }
        }
        if time > maxTime { maxTime = time }
        if let last = timeIndex.last, last.time == maxTime {
            timeIndex[timeIndex.count - 1].sequence = sequence
        } else {
            timeIndex.append((maxTime, sequence))
        }

        try foldRecords(event)
        if !royaltyEntries.isEmpty {
            let sequence = sequence
            for (holder, entries) in royaltyEntries {
                logEntries.append(key: { $0.append("re/", holder); $0.number(sequence) }, value: entries.binaryBytes)
            }
            royaltyEntries.removeAll(keepingCapacity: true)
        }
        let postings = event.postings
        if !postings.isEmpty {
            try foldPostings(postings, event: event)
        }
        checkpoint = sequence
    }

    private func foldRecords(_ event: LedgerEvent) throws {
        switch event {
        case .accountOpened(let opened):
            let created = users.create(opened.user, WalletsView(
                user: opened.user, status: "open", channel: opened.channel, referringVendor: opened.referringVendor,
                representative: opened.representative, openedAtMilliseconds: opened.timeMilliseconds, members: [],
                wallets: [], lots: [], spendingLimits: [], updatedAtSequence: sequence), sequence: sequence)
            guard created else { throw FoldFailure(Self.createdTwice(prefix: users.prefix, id: opened.user)) }

        case .memberAdded(let added):
            try mutateUser(added.user) { view in
                view.members.removeAll { $0.member == added.member }
                view.members.append(MemberView(member: added.member, active: true))
                view.members.sort { $0.member < $1.member }
            }

        case .memberRemoved(let removed):
            try mutateUser(removed.user) { view in
                guard let index = view.members.firstIndex(where: { $0.member == removed.member }) else {
                    throw FoldFailure("member \(removed.member) of \(removed.user) removed but never added")
                }
                view.members[index].active = false
            }

        case .walletOpened(let opened):
            try mutateUser(opened.user) { view in view.withWallet(opened.currency) { $0.opened = true } }

        case .creditLineApproved(let approved):
            try mutateUser(approved.user) { view in view.withWallet(approved.currency) { $0.creditLimit = approved.limit } }

        case .spendingLimitSet(let set):
            try mutateUser(set.user) { view in
                let limit = set.limit
                view.spendingLimits.removeAll {
                    $0.kind == limit.kind && $0.currency == limit.currency && $0.member == limit.member && $0.vendor == limit.vendor
                }
                if !set.removed { view.spendingLimits.append(limit) }
            }

        case .vendorRegistered(let registered):
            let created = vendors.create(registered.vendor, VendorSettlementView(
                vendor: registered.vendor, name: registered.name, feeBasisPoints: registered.feeBasisPoints,
                policy: registered.settlement, registeredAtMilliseconds: registered.timeMilliseconds,
                lastSettledAtMilliseconds: registered.timeMilliseconds, currencies: []), sequence: sequence)
            guard created else { throw FoldFailure(Self.createdTwice(prefix: vendors.prefix, id: registered.vendor)) }

        case .vendorUpdated(let updated):
            let found = try vendors.mutate(updated.vendor, self) { view in
                if let name = updated.name { view.name = name }
                if let fee = updated.feeBasisPoints { view.feeBasisPoints = fee }
                if let policy = updated.settlement {
                    view.policy = policy
                    try Self.recomputeDue(&view, vendor: updated.vendor)
                }
            }
            guard found else { throw FoldFailure("vendor \(updated.vendor) updated but not registered") }

        case .purchaseAuthorized(let authorized):
            try createPurchase(
                transaction: authorized.transaction, user: authorized.user, member: authorized.member,
                vendor: authorized.vendor, terms: authorized.terms, status: .authorized)
            indexReference(authorized.vendorData, vendor: authorized.vendor, transaction: authorized.transaction, at: sequence)

        case .purchaseCaptured(let captured):
            if captured.oneStep {
                try createPurchase(
                    transaction: captured.transaction, user: captured.user, member: captured.member,
                    vendor: captured.vendor, terms: captured.terms, status: .captured)
                indexReference(captured.vendorData, vendor: captured.vendor, transaction: captured.transaction, at: sequence)
            }
            let remaining = try remainingEntitlement(captured.entitlement, from: captured.timeMilliseconds)
            try mutatePurchase(captured.transaction) { view in
                guard view.status == .authorized || captured.oneStep else {
                    throw FoldFailure("transaction \(captured.transaction) captured while \(view.status.rawValue)")
                }
                view.status = .captured
                view.fee = captured.fee
                view.royalties = captured.royalties
                view.access = captured.entitlement
                view.remaining = remaining
                view.capturedAtMilliseconds = captured.timeMilliseconds
            }
            var royaltySum: Int64 = 0
            for royalty in captured.royalties {
                royaltySum = try add(royaltySum, royalty.amount, "royalties of \(captured.transaction)")
                if royalty.amount != 0 {
                    try recordRoyalty(holder: royalty.holder, transaction: captured.transaction, vendor: captured.vendor,
                                      currency: captured.terms.currency, amount: royalty.amount)
                }
            }
            try mutateVendor(captured.vendor, currency: captured.terms.currency) { _, settlement in
                settlement.earned = try add(settlement.earned, captured.terms.price, "earned of \(captured.vendor)")
                settlement.fees = try add(settlement.fees, captured.fee, "fees of \(captured.vendor)")
                settlement.royalties = try add(settlement.royalties, royaltySum, "royalties of \(captured.vendor)")
            }

        case .purchaseVoided(let voided):
            try mutatePurchase(voided.transaction) { view in
                guard view.status == .authorized else {
                    throw FoldFailure("transaction \(voided.transaction) voided while \(view.status.rawValue)")
                }
                view.status = .voided
                view.voidReason = voided.reason.rawValue
                view.amount = 0
            }

        case .vendorSettled(let settled):
            try mutateVendor(settled.vendor, currency: settled.currency) { vendor, settlement in
                settlement.settled = try add(settlement.settled, settled.amount, "settled of \(settled.vendor)")
                settlement.settlements = try add(settlement.settlements, 1, "settlements of \(settled.vendor)")
                settlement.lastSettledSequence = sequence
                settlement.lastSettledAtMilliseconds = settled.timeMilliseconds
                vendor.lastSettledAtMilliseconds = settled.timeMilliseconds
            }

        case .disputeOpened(let opened):
            try mutatePurchase(opened.transaction) { view in
                guard view.status == .captured else {
                    throw FoldFailure("transaction \(opened.transaction) disputed while \(view.status.rawValue)")
                }
                view.status = .disputed
            }
            let created = disputes.create(opened.dispute, DisputeCase(
                dispute: opened.dispute, transaction: opened.transaction, user: opened.user, vendor: opened.vendor,
                currency: opened.currency, price: opened.price, disputed: opened.disputed ?? opened.price, reserved: opened.reserved,
                unauthorized: opened.unauthorized,
                reason: opened.reason, status: .open, decidedBy: nil, representative: nil, refunded: nil,
                openedAtMilliseconds: opened.timeMilliseconds, resolvedAtMilliseconds: nil, sequence: sequence,
                updatedAtSequence: sequence), sequence: sequence)
            guard created else { throw FoldFailure(Self.createdTwice(prefix: disputes.prefix, id: opened.dispute)) }
            openQueueEntry(Keys.openDisputes, id: opened.dispute)
            logEntries.append(key: { $0.append(Keys.userDisputes(opened.user)); $0.number(sequence) }, value: Array(opened.dispute.utf8))
            logEntries.append(key: { $0.append(Keys.vendorDisputes(opened.vendor)); $0.number(sequence) }, value: Array(opened.dispute.utf8))

        case .disputeResolved(let resolved):
            var currency: Currency?
            try mutatePurchase(resolved.transaction) { view in
                guard view.status == .disputed else {
                    throw FoldFailure("dispute of \(resolved.transaction) resolved while \(view.status.rawValue)")
                }
                currency = view.currency
                switch resolved.outcome {
                case .refunded:
                    view.status = .refunded
                    view.amount = 0
                    view.remaining = nil
                case .rejected:
                    view.status = .captured
                }
            }
            try closeCase(&disputes, resolved.dispute, queue: Keys.openDisputes, neverOpened: "dispute \(resolved.dispute) resolved but never opened") { view in
                guard view.status == .open else {
                    throw FoldFailure("dispute \(resolved.dispute) resolved while \(view.status.rawValue)")
                }
                view.status = resolved.outcome == .refunded ? .refunded : .rejected
                view.decidedBy = resolved.decidedBy.rawValue
                view.representative = resolved.representative
                view.refunded = resolved.refunded
                view.resolvedAtMilliseconds = resolved.timeMilliseconds
            }
            if resolved.outcome == .refunded, let currency {
                try refunded(resolved.transaction, vendor: resolved.vendor, currency: currency, amount: resolved.refunded, postings: resolved.postings)
            }

        case .purchaseRefunded(let refund):
            try mutatePurchase(refund.transaction) { view in
                guard view.status == .captured else {
                    throw FoldFailure("transaction \(refund.transaction) refunded by its vendor while \(view.status.rawValue)")
                }
                let remaining = refund.remaining ?? 0
                guard refund.refunded + remaining == view.amount else {
                    throw FoldFailure("transaction \(refund.transaction) refunded \(refund.refunded) leaving \(remaining) of \(view.amount)")
                }
                view.amount = remaining
                // A partial refund leaves the purchase and its entitlement standing.
                if remaining == 0 {
                    view.status = .refunded
                    view.remaining = nil
                }
            }
            try refunded(refund.transaction, vendor: refund.vendor, currency: refund.currency, amount: refund.refunded, postings: refund.postings)

        case .incentiveIssued(let issued):
            guard lotOwners.create(issued.lot, issued.user, sequence: sequence) else {
                throw FoldFailure(Self.createdTwice(prefix: lotOwners.prefix, id: issued.lot))
            }
            try mutateUser(issued.user) { view in
                view.lots.append(LotView(
                    lot: issued.lot, currency: issued.currency, issuer: issued.issuer, balance: 0,
                    expiresAtMilliseconds: issued.expiresAtMilliseconds, vendors: issued.vendors, expired: false))
            }

        case .incentiveExpired(let expired):
            try mutateUser(expired.user) { view in
                guard let index = view.lots.firstIndex(where: { $0.lot == expired.lot }) else {
                    throw FoldFailure("lot \(expired.lot) of \(expired.user) expired but never issued")
                }
                view.lots[index].expired = true
            }

        case .referralRewarded(let rewarded):
            try mutateVendor(rewarded.vendor, currency: rewarded.currency) { _, settlement in
                settlement.referralRewards = try add(settlement.referralRewards, rewarded.amount, "referral rewards of \(rewarded.vendor)")
            }

        case .referralReversed(let reversed):
            guard let posting = reversed.postings.first else { break }
            try mutateVendor(reversed.vendor, currency: posting.currency) { _, settlement in
                settlement.referralRewards = try add(settlement.referralRewards, -reversed.amount, "referral rewards of \(reversed.vendor)")
            }

        case .entitlementUsed(let used):
            try mutatePurchase(used.transaction) { view in
                guard used.user == view.user else { throw FoldFailure("\(used.user) used \(used.transaction), which is \(view.user)'s") }
                if let views = view.access.views, view.remaining != nil {
                    view.remaining?.views = max(0, views - used.use)
                }
            }

        case .fundsAdded(let added):
            let created = fundings.create(added.funding, FundingCase(
                funding: added.funding, user: added.user, currency: added.currency, amount: added.amount, method: added.method,
                throughVendor: added.throughVendor, status: added.pending ? .pending : .completed,
                addedAtMilliseconds: added.timeMilliseconds, settledAtMilliseconds: nil, sequence: sequence,
                updatedAtSequence: sequence), sequence: sequence)
            guard created else { throw FoldFailure(Self.createdTwice(prefix: fundings.prefix, id: added.funding)) }
            if added.pending { openQueueEntry(Keys.pendingFundings, id: added.funding) }
            logEntries.append(key: { $0.append(Keys.userFundings(added.user)); $0.number(sequence) }, value: Array(added.funding.utf8))

        case .fundsCleared(let cleared):
            try settleFunding(cleared.funding, user: cleared.user, status: .cleared, time: cleared.timeMilliseconds)

        case .fundsFailed(let failed):
            try settleFunding(failed.funding, user: failed.user, status: .failed, time: failed.timeMilliseconds)

        case .fundsReturned(let returned):
            let created = payouts.create(returned.payout, PayoutCase(
                payout: returned.payout, user: returned.user, currency: returned.currency, amount: returned.amount,
                method: returned.method, representative: returned.representative,
                returnedAtMilliseconds: returned.timeMilliseconds, sequence: sequence), sequence: sequence)
            guard created else { throw FoldFailure(Self.createdTwice(prefix: payouts.prefix, id: returned.payout)) }
            logEntries.append(key: { $0.append(Keys.userPayouts(returned.user)); $0.number(sequence) }, value: Array(returned.payout.utf8))
            if returned.requested == true {
                try decidePayoutRequest(returned.payout, .paid, representative: returned.representative, reason: nil, time: returned.timeMilliseconds)
            }

        case .payoutRequested(let requested):
            let created = payoutRequests.create(requested.payout, PayoutRequestCase(
                payout: requested.payout, user: requested.user, currency: requested.currency, amount: requested.amount,
                method: requested.method, status: .requested, representative: nil, reason: nil,
                requestedAtMilliseconds: requested.timeMilliseconds, decidedAtMilliseconds: nil, sequence: sequence,
                updatedAtSequence: sequence), sequence: sequence)
            guard created else { throw FoldFailure(Self.createdTwice(prefix: payoutRequests.prefix, id: requested.payout)) }
            openQueueEntry(Keys.requestedPayouts, id: requested.payout)
            logEntries.append(key: { $0.append(Keys.userPayoutRequests(requested.user)); $0.number(sequence) }, value: Array(requested.payout.utf8))

        case .payoutDeclined(let declined):
            try decidePayoutRequest(declined.payout, .declined, representative: declined.representative, reason: declined.reason,
                                    time: declined.timeMilliseconds)

        case .royaltiesPaid(let paid):
            let created = royaltyPayouts.create(paid.payout, RoyaltyPayoutCase(
                payout: paid.payout, holder: paid.holder, currency: paid.currency, amount: paid.amount,
                representative: paid.representative, paidAtMilliseconds: paid.timeMilliseconds, sequence: sequence), sequence: sequence)
            guard created else { throw FoldFailure(Self.createdTwice(prefix: royaltyPayouts.prefix, id: paid.payout)) }
            logEntries.append(key: { $0.append(Keys.holderPayouts(paid.holder)); $0.number(sequence) }, value: Array(paid.payout.utf8))

        case .contentRegistered, .tokensTransferred, .referralPolicySet:
            break
        }
    }

    // MARK: Postings: balances, balance history, money views and history

    /// Whose history an account belongs to.
    private enum Holder: Equatable {
        case wallet(user: String, currency: Currency)
        case vendor(String)

        func appendHistoryKey(to key: inout WriteBatch.KeyBuilder) {
            switch self {
            case .wallet(let user, let currency):
                // Keys.walletHistoryPrefix: `hw/<user>:<CUR>`.
                key.append("hw/", user)
                key.append(":", currency.code)
            case .vendor(let vendor):
                key.append("hv/", vendor)   // Keys.vendorHistoryPrefix
            }
        }
    }

    private struct Movement {
        let holder: Holder
        var amount: Int64 = 0
        var held: Int64 = 0
        var counterparty: String?
    }

    /// An account a posting of the event touched, and its balance after the event.
    private struct Touched {
        let account: AccountName
        let slot: Int32
        var currency: Currency
        var balance: Int64
    }

    private func holder(of account: AccountName, currency: Currency) throws -> Holder? {
        switch account.kind {
        case .wallet, .holds, .pending, .credit: return .wallet(user: account.id, currency: currency)
        case .lot:
            guard let owner = try lotOwners.get(account.id, self) else {
                throw FoldFailure("posting to \(account.name) of a lot never issued")
            }
            return .wallet(user: owner, currency: currency)
        case .vendor, .reserve: return .vendor(account.id)
        default: return nil
        }
    }

    private static func counterpartyKind(_ account: AccountName) -> String {
        switch account.kind {
        case .wallet, .holds, .pending, .credit, .lot: return "user"
        case .vendor, .reserve: return "vendor"
        case .holder: return "rightsHolder"
        case .fees: return "provider"
        case .incentives: return "incentive"
        case .funding: return "funding"
        case .settlement: return "settlement"
        // Tokens the user asked to be paid back: not the user's to spend, not yet gone.
        case .outgoing: return "payout"
        case .other: return account.kindText
        }
    }

    private func foldPostings(_ postings: [Posting], event: LedgerEvent) throws {
        // An event has a handful of postings: small arrays searched linearly beat dictionaries.
        var touched: [Touched] = []
        touched.reserveCapacity(postings.count * 2)
        var movements: [Movement] = []
        movements.reserveCapacity(4)
        func movement(_ holder: Holder, _ body: (inout Movement) throws -> Void) rethrows {
            if let index = movements.firstIndex(where: { $0.holder == holder }) {
                try body(&movements[index])
            } else {
                movements.append(Movement(holder: holder))
                try body(&movements[movements.count - 1])
            }
        }
        func touch(_ account: AccountName, _ currency: Currency, _ changed: (slot: Int32, balance: Int64)) {
            if let index = touched.firstIndex(where: { $0.slot == changed.slot }) {
                touched[index].currency = currency
                touched[index].balance = changed.balance
            } else {
                touched.append(Touched(account: account, slot: changed.slot, currency: currency, balance: changed.balance))
            }
        }

        for posting in postings {
            let debit = AccountName(posting.debit)
            let credit = AccountName(posting.credit)
            touch(debit, posting.currency, try change(posting.debit, by: -posting.amount))
            touch(credit, posting.currency, try change(posting.credit, by: posting.amount))

            let debitHolder = try holder(of: debit, currency: posting.currency)
            let creditHolder = try holder(of: credit, currency: posting.currency)
            if let debitHolder {
                try movement(debitHolder) { move in
                    if debitHolder != creditHolder {
                        move.amount = try add(move.amount, -posting.amount, "history of \(posting.debit)")
                        if move.counterparty == nil { move.counterparty = Self.counterpartyKind(credit) }
                    }
                    if debit.kind == .holds || debit.kind == .reserve {
                        move.held = try add(move.held, -posting.amount, "history of \(posting.debit)")
                    }
                }
            }
            if let creditHolder {
                try movement(creditHolder) { move in
                    if debitHolder != creditHolder {
                        move.amount = try add(move.amount, posting.amount, "history of \(posting.credit)")
                        if move.counterparty == nil { move.counterparty = Self.counterpartyKind(debit) }
                    }
                    if credit.kind == .holds || credit.kind == .reserve {
                        move.held = try add(move.held, posting.amount, "history of \(posting.credit)")
                    }
                }
            }
        }

        // Balance history and the views that show balances.
        let sequence = sequence
        for account in touched {
            balanceHistory.append((account.slot, sequence, account.balance))
            try showBalance(account.account, currency: account.currency, balance: account.balance)
        }

        let currency = postings[0].currency
        let transaction = event.transactionID
        for move in movements {
            let entry = HistoryEntry(
                sequence: sequence, timeMilliseconds: time, eventType: event.typeName, currency: currency,
                amount: move.amount, held: move.held, counterparty: move.counterparty ?? "self", transaction: transaction)
            logEntries.append(key: { move.holder.appendHistoryKey(to: &$0); $0.number(sequence) }, writeValue: { HistoryCodec.encode(entry, into: &$0) })
        }
    }

    /// Adds `amount` to `account`'s balance and returns the account's slot and new balance.
    private func change(_ account: String, by amount: Int64) throws -> (slot: Int32, balance: Int64) {
        let hash = StringIndex.hash(account)
        let slot: Int
        if let found = accounts.index(of: account, hash: hash) {
            slot = found
        } else {
            if let previous = previousAccounts.index(of: account, hash: hash) {
                accountBalances.append(previousAccountBalances[previous])
            } else {
                accountBalances.append(Integers.int64(try reader.get(database, key: Keys.balance(account))) ?? 0)
            }
            slot = accounts.append(account, hash: hash)
        }
        let balance = try add(accountBalances[slot], amount, "balance of \(account)")
        accountBalances[slot] = balance
        return (Int32(slot), balance)
    }

    private func showBalance(_ account: AccountName, currency: Currency, balance: Int64) throws {
        switch account.kind {
        case .wallet:
            try mutateUser(account.id) { view in view.withWallet(currency) { $0.balance = balance } }
        case .holds:
            try mutateUser(account.id) { view in view.withWallet(currency) { $0.held = balance } }
        case .pending:
            try mutateUser(account.id) { view in view.withWallet(currency) { $0.pending = balance } }
        case .credit:
            guard balance != .min else { throw FoldFailure("amount overflow in credit in use of \(account.name)") }
            try mutateUser(account.id) { view in view.withWallet(currency) { $0.creditInUse = -balance } }
        case .outgoing:
            try mutateUser(account.id) { view in view.withWallet(currency) { $0.outgoing = balance } }
        case .lot:
            guard let owner = try lotOwners.get(account.id, self) else {
                throw FoldFailure("posting to \(account.name) of a lot never issued")
            }
            try mutateUser(owner) { view in
                guard let index = view.lots.firstIndex(where: { $0.lot == account.id }) else {
                    throw FoldFailure("lot \(account.id) is not in \(owner)'s lots")
                }
                view.lots[index].balance = balance
                var total: Int64 = 0
                for lot in view.lots where lot.currency == currency {
                    total = try add(total, lot.balance, "incentives of \(owner)")
                }
                view.withWallet(currency) { $0.incentives = total }
            }
        case .vendor:
            try mutateVendor(account.id, currency: currency) { _, settlement in settlement.unsettled = balance }
        case .reserve:
            try mutateVendor(account.id, currency: currency) { _, settlement in settlement.reserved = balance }
        case .holder:
            try mutateRoyaltyTotal(account.id, currency: currency) { $0.balance = balance }
        default:
            break
        }
    }

    // MARK: Records

    /// Why an event that creates a record fails when the record exists: the same words whether
    /// the batch's own state shows it (`RecordCache.create`) or the slot's (`WriteBatch.put`).
    static func createdTwice(prefix: String, id: String) -> String {
        switch prefix {
        case "user/": return "account \(id) opened twice"
        case "vendor/": return "vendor \(id) registered twice"
        case "lot/": return "lot \(id) issued twice"
        case "txn/": return "transaction \(id) created twice"
        case "fund/": return "funding \(id) added twice"
        case "dsp/": return "dispute \(id) opened twice"
        case "pay/": return "payout \(id) made twice"
        case "hpay/": return "royalty payout \(id) made twice"
        case "preq/": return "payout \(id) requested twice"
        default: return "\(prefix)\(id) created twice"
        }
    }

    /// `createdTwice` for a record's whole key (`<prefix><id>`).
    static func createdTwice(key: [UInt8]) -> String {
        let text = String(decoding: key, as: UTF8.self)
        for prefix in ["user/", "vendor/", "lot/", "txn/", "fund/", "dsp/", "pay/", "hpay/", "preq/"] where text.hasPrefix(prefix) {
            return createdTwice(prefix: prefix, id: String(text.dropFirst(prefix.count)))
        }
        return "\(text) created twice"
    }

    /// Puts `id` in the queue `prefix` under the event being folded (`prefix` 0 `<seq>`).
    private func openQueueEntry(_ prefix: String, id: String) {
        let sequence = sequence
        appended.append(key: { $0.append(prefix); $0.number(sequence) }, value: Array(id.utf8))
    }

    /// A pending funding cleared or failed: its record changes and it leaves the queue.
    private func settleFunding(_ funding: String, user: String, status: FundingStatus, time: UInt64) throws {
        try closeCase(&fundings, funding, queue: Keys.pendingFundings, neverOpened: "funding \(funding) \(status.rawValue) but never added") { view in
            guard view.status == .pending, view.user == user else {
                throw FoldFailure("funding \(funding) of \(view.user) \(status.rawValue) for \(user) while \(view.status.rawValue)")
            }
            view.status = status
            view.settledAtMilliseconds = time
        }
    }

    /// Decides a case waiting in `queue` (a funding, a dispute, a payout request): `decide`
    /// checks it still waits and records the decision; the case notes the event, and its queue
    /// entry goes once the batch's puts are done.
    private func closeCase<Case: QueuedCase>(
        _ cases: inout RecordCache<Case>, _ id: String, queue: String, neverOpened: @autoclosure () -> String,
        _ decide: (inout Case) throws -> Void
    ) throws {
        let sequence = sequence
        var openedAt: UInt64 = 0
        let found = try cases.mutate(id, self) { view in
            try decide(&view)
            view.updatedAtSequence = sequence
            openedAt = view.sequence
        }
        guard found else { throw FoldFailure(neverOpened()) }
        deletions.append(Keys.numbered(queue, openedAt))
    }

    /// A payout request paid or declined: it leaves the queue.
    private func decidePayoutRequest(_ payout: String, _ status: PayoutRequestStatus, representative: String, reason: String?, time: UInt64) throws {
        try closeCase(&payoutRequests, payout, queue: Keys.requestedPayouts, neverOpened: "payout \(payout) \(status.rawValue) but never requested") { view in
            guard view.status == .requested else {
                throw FoldFailure("payout request \(payout) \(status.rawValue) while \(view.status.rawValue)")
            }
            view.status = status
            view.representative = representative
            view.reason = reason
            view.decidedAtMilliseconds = time
        }
    }

    /// A refund, by dispute or by the vendor: the vendor's settlement counts it, and each rights
    /// holder's statement shows its royalty taken back (the postings that debit a holder).
    private func refunded(_ transaction: String, vendor: String, currency: Currency, amount: Int64, postings: [Posting]) throws {
        try mutateVendor(vendor, currency: currency) { _, settlement in
            settlement.refunded = try add(settlement.refunded, amount, "refunded of \(vendor)")
        }
        for posting in postings where posting.debit.hasPrefix("holder:") {
            try recordRoyalty(holder: AccountName(posting.debit).id, transaction: transaction, vendor: vendor,
                              currency: posting.currency, amount: -posting.amount)
        }
    }

    private func mutateUser(_ user: String, _ body: (inout WalletsView) throws -> Void) throws {
        let sequence = sequence
        let found = try users.mutate(user, self) { view in
            try body(&view)
            view.updatedAtSequence = sequence
        }
        guard found else { throw FoldFailure("user \(user) has no account") }
    }

    private func mutateVendor(
        _ vendor: String, currency: Currency, _ body: (inout VendorSettlementView, inout VendorCurrencySettlement) throws -> Void
    ) throws {
        let found = try vendors.mutate(vendor, self) { view in try Self.change(&view, vendor: vendor, currency: currency, body) }
        guard found else { throw FoldFailure("vendor \(vendor) is not registered") }
    }

    private static func change(
        _ view: inout VendorSettlementView, vendor: String, currency: Currency,
        _ body: (inout VendorSettlementView, inout VendorCurrencySettlement) throws -> Void
    ) throws {
        let index: Int
        if let found = view.currencies.firstIndex(where: { $0.currency == currency }) {
            index = found
        } else {
            view.currencies.append(VendorCurrencySettlement(
                currency: currency, earned: 0, fees: 0, royalties: 0, refunded: 0, referralRewards: 0, reserved: 0,
                settled: 0, unsettled: 0, settlements: 0, lastSettledSequence: nil, lastSettledAtMilliseconds: nil, nextDue: SettlementDue()))
            view.currencies.sort { $0.currency < $1.currency }
            index = view.currencies.firstIndex(where: { $0.currency == currency })!
        }
        var settlement = view.currencies[index]
        try body(&view, &settlement)
        view.currencies[index] = settlement
        try recomputeDue(&view, vendor: vendor)
    }

    /// The policy's next due point, for every currency: each currency's period runs from its
    /// own last settlement (from the vendor's registration before the first), as the ledger's.
    private static func recomputeDue(_ view: inout VendorSettlementView, vendor: String) throws {
        let policy = view.policy
        for position in view.currencies.indices {
            let periodDue = policy.periodDue(after: view.currencies[position].lastSettledAtMilliseconds ?? view.registeredAtMilliseconds)
            let threshold = policy.threshold(for: view.currencies[position].currency)
            var due = SettlementDue(thresholdAmount: threshold, remainingToThreshold: nil, periodDueAtMilliseconds: periodDue)
            if let threshold {
                let (left, overflow) = threshold.subtractingReportingOverflow(view.currencies[position].unsettled)
                if overflow { throw FoldFailure("amount overflow in the threshold of \(vendor)") }
                due.remainingToThreshold = max(0, left)
            }
            view.currencies[position].nextDue = due
        }
    }

    private func mutatePurchase(_ transaction: String, _ body: (inout PurchaseView) throws -> Void) throws {
        let sequence = sequence
        let found = try purchases.mutate(transaction, self) { view in
            try body(&view)
            view.updatedAtSequence = sequence
        }
        guard found else { throw FoldFailure("transaction \(transaction) is unknown") }
    }

    /// Lists a purchase under its vendor's reference (`Keys.vendorReferences`), when it has one.
    private func indexReference(_ data: VendorData?, vendor: String, transaction: String, at sequence: UInt64) {
        guard let reference = data?.reference else { return }
        logEntries.append(key: { $0.append(Keys.vendorReferences(vendor, reference)); $0.number(sequence) }, value: Array(transaction.utf8))
    }

    private func createPurchase(
        transaction: String, user: String, member: String?, vendor: String, terms: ContentTerms, status: PurchaseStatus
    ) throws {
        guard try users.exists(user, self) else { throw FoldFailure("user \(user) has no account") }
        let created = purchases.create(transaction, PurchaseView(
            transaction: transaction, user: user, member: member, vendor: vendor, content: terms.content,
            title: terms.title, url: terms.url, price: terms.price, currency: terms.currency, amount: terms.price,
            status: status, voidReason: nil, access: terms.access, remaining: nil, fee: nil, royalties: nil,
            purchasedAtMilliseconds: time, capturedAtMilliseconds: nil, sequence: sequence, updatedAtSequence: sequence),
            sequence: sequence)
        guard created else { throw FoldFailure(Self.createdTwice(prefix: purchases.prefix, id: transaction)) }
        let sequence = sequence
        // Keys.userPurchases: `pu/<user>` 0 `<seq>`.
        logEntries.append(key: { $0.append("pu/", user); $0.number(sequence) }, value: Array(transaction.utf8))
    }

    private func remainingEntitlement(_ access: AccessTerms, from start: UInt64) throws -> EntitlementRemaining {
        var expiry = access.expiresAtMilliseconds
        func consider(_ count: Int?, unit: UInt64) throws {
            guard let count else { return }
            guard count >= 0 else { throw FoldFailure("negative access term \(count)") }
            let (span, overflow) = UInt64(count).multipliedReportingOverflow(by: unit)
            let (end, overflowSum) = start.addingReportingOverflow(span)
            if overflow || overflowSum { throw FoldFailure("access term of \(count) overflows the time") }
            expiry = min(expiry ?? end, end)
        }
        try consider(access.hours, unit: 3_600_000)
        try consider(access.days, unit: 86_400_000)
        return EntitlementRemaining(views: access.views, hours: access.hours, days: access.days, expiresAtMilliseconds: expiry)
    }

    private func mutateRoyaltyTotal(_ holder: String, currency: Currency, _ body: (inout RoyaltyCurrencyTotal) throws -> Void) throws {
        var totals = try royaltyTotals.get(holder, self) ?? []
        if !totals.contains(where: { $0.currency == currency }) {
            totals.append(RoyaltyCurrencyTotal(currency: currency, paid: 0, reversed: 0, balance: 0))
            totals.sort { $0.currency < $1.currency }
        }
        let index = totals.firstIndex(where: { $0.currency == currency })!
        try body(&totals[index])
        try royaltyTotals.set(holder, totals, self)
    }

    private func recordRoyalty(holder: String, transaction: String, vendor: String, currency: Currency, amount: Int64) throws {
        try mutateRoyaltyTotal(holder, currency: currency) { total in
            if amount >= 0 {
                total.paid = try add(total.paid, amount, "royalties of \(holder)")
            } else {
                total.reversed = try add(total.reversed, -amount, "royalties of \(holder)")
            }
        }
        royaltyEntries[holder, default: []].append(RoyaltyEntry(
            sequence: sequence, timeMilliseconds: time, transaction: transaction, vendor: vendor, currency: currency, amount: amount))
    }
}

/// A ledger account name split into kind, ID and currency (`wallet:alice:USD`, `fees:USD`):
/// the kind is the text before the first `:`, the ID the text between the first and the second
/// (none without a second).
struct AccountName {
    enum Kind: Equatable {
        case wallet, holds, pending, credit, lot, vendor, reserve, holder, fees, incentives, funding, settlement, outgoing
        /// Any other kind (its text is `kindText`).
        case other
    }

    let name: String
    let kind: Kind
    let id: String

    init(_ name: String) {
        self.name = name
        var name = name
        // Split the bytes when the name is ASCII (every ledger account name): then each byte is
        // a Character, as `split` sees them. Otherwise split Characters (a `:` followed by a
        // combining mark is no separator).
        let split = name.withUTF8 { bytes -> (Kind, String)? in
            let colon = UInt8(ascii: ":")
            var first = -1, second = -1
            for index in bytes.indices {
                let byte = bytes[index]
                if byte >= 0x80 { return nil }
                if byte == colon {
                    if first < 0 { first = index } else if second < 0 { second = index }
                }
            }
            let kind = Self.kind(ascii: UnsafeBufferPointer(rebasing: bytes[..<(first < 0 ? bytes.count : first)]))
            let id = second < 0 ? "" : String(decoding: UnsafeBufferPointer(rebasing: bytes[(first + 1)..<second]), as: UTF8.self)
            return (kind, id)
        }
        if let (kind, id) = split {
            self.kind = kind
            self.id = id
        } else {
            let parts = name.split(separator: ":", omittingEmptySubsequences: false)
            kind = Self.kind(of: parts[0])
            id = parts.count > 2 ? String(parts[1]) : ""
        }
    }

    /// The kind as written in the name.
    var kindText: String {
        String(name.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0])
    }

    /// `kind(of:)` for ASCII bytes, without comparing Strings.
    private static func kind(ascii text: UnsafeBufferPointer<UInt8>) -> Kind {
        @inline(__always) func equals(_ literal: StaticString) -> Bool {
            literal.utf8CodeUnitCount == text.count
                && UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount).elementsEqual(text)
        }
        switch text.count {
        case 3: return equals("lot") ? .lot : .other
        case 4: return equals("fees") ? .fees : .other
        case 5: return equals("holds") ? .holds : .other
        case 6:
            if equals("wallet") { return .wallet }
            if equals("credit") { return .credit }
            if equals("vendor") { return .vendor }
            if equals("holder") { return .holder }
            return .other
        case 7:
            if equals("pending") { return .pending }
            if equals("reserve") { return .reserve }
            if equals("funding") { return .funding }
            return .other
        case 8: return equals("outgoing") ? .outgoing : .other
        case 10:
            if equals("incentives") { return .incentives }
            if equals("settlement") { return .settlement }
            return .other
        default: return .other
        }
    }

    private static func kind(of text: Substring) -> Kind {
        switch text {
        case "wallet": return .wallet
        case "holds": return .holds
        case "pending": return .pending
        case "credit": return .credit
        case "lot": return .lot
        case "vendor": return .vendor
        case "reserve": return .reserve
        case "holder": return .holder
        case "fees": return .fees
        case "incentives": return .incentives
        case "funding": return .funding
        case "settlement": return .settlement
        case "outgoing": return .outgoing
        default: return .other
        }
    }
}

extension WalletsView {
    mutating func withWallet(_ currency: Currency, _ body: (inout WalletView) -> Void) {
        if let index = wallets.firstIndex(where: { $0.currency == currency }) {
            body(&wallets[index])
            return
        }
        var wallet = WalletView(currency: currency, opened: false, balance: 0, held: 0, pending: 0, creditLimit: 0, creditInUse: 0, incentives: 0)
        body(&wallet)
        wallets.append(wallet)
        wallets.sort { $0.currency < $1.currency }
    }
}
