import Foundation
import LMDB
import Ledger

/// One consistent read of the read models, as of `sequence`. Valid only inside the closure of
/// ``Projections/read(_:)`` that received it.
public struct ProjectionReader {
    /// The journal sequence every answer reflects.
    public let sequence: UInt64
    /// The live version read.
    public let version: UInt64
    let transaction: ReadTransaction
    let database: Database

    init(transaction: ReadTransaction, database: Database, sequence: UInt64, version: UInt64) {
        self.transaction = transaction
        self.database = database
        self.sequence = sequence
        self.version = version
    }

    private func record<Value: ViewRecord>(_ type: Value.Type, _ key: String) throws -> Value? {
        try transaction.get(database, key: Keys.bytes(key)).map { try Self.decode(type, $0, key: key) }
    }

    /// A stored record; one that does not decode throws `MalformedRecord`.
    static func decode<Value: ViewRecord>(_ type: Value.Type, _ bytes: [UInt8], key: @autoclosure () -> String) throws -> Value {
        do {
            return try Value.decodeBinary(bytes)
        } catch let error as RecordCodingError {
            throw MalformedRecord(key: key(), reason: error.reason)
        }
    }

    // MARK: 1. Wallets

    /// The user's wallets, lots and account status; nil when the user has no account.
    public func wallets(user: String) throws -> WalletsView? {
        try record(WalletsView.self, "user/" + user)
    }

    // MARK: 2. Vendor settlement

    public func vendorSettlement(vendor: String) throws -> VendorSettlementView? {
        try record(VendorSettlementView.self, "vendor/" + vendor)
    }

    // MARK: 3. Purchases and entitlements

    public func purchase(transaction: String) throws -> PurchaseView? {
        try record(PurchaseView.self, "txn/" + transaction)
    }

    /// The user's purchases at every vendor, newest first (by the sequence that created them).
    public func purchases(user: String, before: UInt64? = nil, limit: Int = .max) throws -> [PurchaseView] {
        try newestFirst(prefix: Keys.userPurchases(user), before: before, limit: limit) { _, value in
            try purchase(transaction: String(decoding: value, as: UTF8.self))
        }.items
    }

    // MARK: 4. History

    /// The wallet's history, newest first: entries before sequence `before` (all when nil).
    public func walletHistory(user: String, currency: Currency, before: UInt64? = nil, limit: Int = 50) throws -> HistoryPage {
        try history(prefix: Keys.walletHistoryPrefix(user: user, currency: currency), before: before, limit: limit)
    }

    /// The vendor's history in every currency, newest first.
    public func vendorHistory(vendor: String, before: UInt64? = nil, limit: Int = 50) throws -> HistoryPage {
        try history(prefix: Keys.vendorHistoryPrefix(vendor: vendor), before: before, limit: limit)
    }

    private func history(prefix: String, before: UInt64?, limit: Int) throws -> HistoryPage {
        let page = try newestFirst(prefix: prefix, before: before, limit: limit) { _, value in
            try HistoryCodec.decode(value)
        }
        return HistoryPage(entries: page.items, nextBefore: page.more ? page.items.last?.sequence : nil)
    }

    /// Walks the log `prefix` (`LogChunk`s keyed `prefix` 0 `seq`) from the newest entry below
    /// `before`, returning up to `limit` items.
    private func newestFirst<Item>(
        prefix: String, before: UInt64?, limit: Int, _ item: (UInt64, [UInt8]) throws -> Item?
    ) throws -> (items: [Item], more: Bool) {
        guard limit > 0 else { return ([], false) }
        var items: [Item] = []
        var more = false
        try forEachChunk(prefix: prefix, newestBefore: before ?? .max) { chunk in
            for index in chunk.entries.indices.reversed() {
                let sequence = chunk.entries[index].sequence
                if let before, sequence >= before { continue }
                if items.count == limit {
                    more = true
                    return false
                }
                if let value = try item(sequence, Array(chunk.value(index))) { items.append(value) }
            }
            return true
        }
        return (items, more)
    }

    /// Calls `body` with each chunk of the log `prefix`, from the one holding the newest entry
    /// before `bound` back to the oldest, while it returns true. (The first may hold entries at
    /// or after `bound`: a chunk is keyed by its first entry.)
    private func forEachChunk(prefix: String, newestBefore bound: UInt64, _ body: (LogChunk.View) throws -> Bool) throws {
        let head = Array(Keys.numbered(prefix, 0).dropLast(8))
        try transaction.withCursor(database) { cursor in
            // Seek to the first key past the wanted range, then step back into it.
            var positioned: Bool
            if let past = bound == .max ? Self.successor(of: head) : Keys.numbered(prefix, bound), try cursor.seek(atOrAfter: past) {
                positioned = try cursor.previous()
            } else {
                positioned = try cursor.last()
            }
            while positioned {
                let key = cursor.key
                guard key.count == head.count + 8, key.starts(with: head) else { break }
                guard try body(try Self.logChunk(cursor, prefix: prefix, head: head)) else { break }
                positioned = try cursor.previous()
            }
        }
    }

    /// The log chunk at the cursor, checked; one that does not decode throws `MalformedRecord`.
    static func logChunk(_ cursor: Cursor, prefix: String, head: [UInt8]) throws -> LogChunk.View {
        let sequence = BigEndian.uint64(cursor.key, at: head.count)
        do {
            return try LogChunk.View(cursor.value, keySequence: sequence)
        } catch {
            throw MalformedRecord(key: "\(prefix)#\(sequence)", reason: error.reason)
        }
    }

    /// The smallest key greater than every key that starts with `prefix`.
    static func successor(of prefix: [UInt8]) -> [UInt8]? {
        var bytes = prefix
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return nil
    }

    // MARK: 7. Customer-service cases

    public func funding(_ funding: String) throws -> FundingCase? {
        try record(FundingCase.self, "fund/" + funding)
    }

    public func dispute(_ dispute: String) throws -> DisputeCase? {
        try record(DisputeCase.self, "dsp/" + dispute)
    }

    public func payout(_ payout: String) throws -> PayoutCase? {
        try record(PayoutCase.self, "pay/" + payout)
    }

    /// The offline fundings still pending, oldest first: those added after sequence `after`.
    public func pendingFundings(after: UInt64? = nil, limit: Int = 50) throws -> FundingQueuePage {
        let page = try queue(Keys.pendingFundings, after: after, limit: limit) { try funding(named: $0, in: Keys.pendingFundings) }
        return FundingQueuePage(fundings: page.items, nextAfter: page.more ? page.items.last?.sequence : nil)
    }

    /// The disputes still open, oldest first: those opened after sequence `after`.
    public func openDisputes(after: UInt64? = nil, limit: Int = 50) throws -> DisputeQueuePage {
        let page = try queue(Keys.openDisputes, after: after, limit: limit) { try dispute(named: $0, in: Keys.openDisputes) }
        return DisputeQueuePage(disputes: page.items, nextAfter: page.more ? page.items.last?.sequence : nil)
    }

    /// The queues' lengths and their oldest cases (for the service's metrics): a walk over the
    /// queues' keys, which hold only the cases still waiting.
    public func caseBacklog() throws -> CaseBacklog {
        CaseBacklog(
            pendingFundings: try queueLength(Keys.pendingFundings), openDisputes: try queueLength(Keys.openDisputes),
            requestedPayouts: try queueLength(Keys.requestedPayouts),
            oldestPendingFundingMilliseconds: try pendingFundings(limit: 1).fundings.first?.addedAtMilliseconds,
            oldestOpenDisputeMilliseconds: try openDisputes(limit: 1).disputes.first?.openedAtMilliseconds,
            oldestRequestedPayoutMilliseconds: try requestedPayouts(limit: 1).requests.first?.requestedAtMilliseconds)
    }

    public func payoutRequest(_ payout: String) throws -> PayoutRequestCase? {
        try record(PayoutRequestCase.self, "preq/" + payout)
    }

    /// The payout requests still waiting, oldest first: those made after sequence `after`.
    public func requestedPayouts(after: UInt64? = nil, limit: Int = 50) throws -> PayoutRequestQueuePage {
        let page = try queue(Keys.requestedPayouts, after: after, limit: limit) { id in
            guard let request = try payoutRequest(id) else {
                throw MalformedRecord(key: Keys.requestedPayouts, reason: "names payout request \(id), which has no record")
            }
            return request
        }
        return PayoutRequestQueuePage(requests: page.items, nextAfter: page.more ? page.items.last?.sequence : nil)
    }

    /// The user's payout requests, newest first: those made before sequence `before` (all when nil).
    public func payoutRequests(user: String, before: UInt64? = nil, limit: Int = 100) throws -> PayoutRequestPage {
        let page = try records(named: Keys.userPayoutRequests(user), "payout request", before: before, limit: limit) { try payoutRequest($0) }
        return PayoutRequestPage(requests: page.items, nextBefore: page.more ? page.items.last?.sequence : nil)
    }

    private func queueLength(_ prefix: String) throws -> Int {
        try queue(prefix, after: nil, limit: .max) { _ in () }.items.count
    }

    /// The user's fundings, newest first: those added before sequence `before` (all when nil),
    /// only those that stand at `status` when one is given (a page may then hold fewer than
    /// `limit`, even none, and still name the next).
    public func fundings(user: String, before: UInt64? = nil, limit: Int = 100, status: FundingStatus? = nil) throws -> FundingPage {
        let list = Keys.userFundings(user)
        let page = try newestFirst(prefix: list, before: before, limit: limit) { _, value -> FundingCase? in
            let found = try funding(named: String(decoding: value, as: UTF8.self), in: list)
            return status == nil || found.status == status ? found : nil
        }
        return FundingPage(fundings: page.items, nextBefore: page.more ? page.items.last?.sequence : nil)
    }

    /// The user's payouts, newest first: those made before sequence `before` (all when nil).
    public func payouts(user: String, before: UInt64? = nil, limit: Int = 100) throws -> PayoutPage {
        let page = try records(named: Keys.userPayouts(user), "payout", before: before, limit: limit) { try payout($0) }
        return PayoutPage(payouts: page.items, nextBefore: page.more ? page.items.last?.sequence : nil)
    }

    public func royaltyPayout(_ payout: String) throws -> RoyaltyPayoutCase? {
        try record(RoyaltyPayoutCase.self, "hpay/" + payout)
    }

    /// The rights holder's royalty payouts, newest first: those made before sequence `before`
    /// (all when nil).
    public func royaltyPayouts(holder: String, before: UInt64? = nil, limit: Int = 100) throws -> RoyaltyPayoutPage {
        let page = try records(named: Keys.holderPayouts(holder), "royalty payout", before: before, limit: limit) { try royaltyPayout($0) }
        return RoyaltyPayoutPage(payouts: page.items, nextBefore: page.more ? page.items.last?.sequence : nil)
    }

    /// The records a log of IDs names, newest first: those logged before sequence `before`. A
    /// name without a record is a damaged read model.
    private func records<Record>(
        named list: String, _ what: String, before: UInt64?, limit: Int, _ read: (String) throws -> Record?
    ) throws -> (items: [Record], more: Bool) {
        try newestFirst(prefix: list, before: before, limit: limit) { _, value in
            let id = String(decoding: value, as: UTF8.self)
            guard let record = try read(id) else { throw MalformedRecord(key: list, reason: "names \(what) \(id), which has no record") }
            return record
        }
    }

    /// The vendor's purchases (one-step or authorized) it sent with `vendorData.reference`
    /// equal to `reference`, newest first: those created before sequence `before` (all when nil).
    public func purchases(vendor: String, reference: String, before: UInt64? = nil, limit: Int = 100) throws -> ReferencedPurchasesPage {
        let page = try newestFirst(prefix: Keys.vendorReferences(vendor, reference), before: before, limit: limit) { sequence, value in
            ReferencedPurchase(transaction: String(decoding: value, as: UTF8.self), sequence: sequence)
        }
        return ReferencedPurchasesPage(purchases: page.items, nextBefore: page.more ? page.items.last?.sequence : nil)
    }

    /// The user's disputes, newest first: those opened before sequence `before` (all when nil).
    public func disputes(user: String, before: UInt64? = nil, limit: Int = 100) throws -> DisputePage {
        try disputes(list: Keys.userDisputes(user), before: before, limit: limit)
    }

    /// The disputes of the vendor's sales, newest first: those opened before sequence `before`.
    public func disputes(vendor: String, before: UInt64? = nil, limit: Int = 100) throws -> DisputePage {
        try disputes(list: Keys.vendorDisputes(vendor), before: before, limit: limit)
    }

    private func disputes(list: String, before: UInt64?, limit: Int) throws -> DisputePage {
        let page = try newestFirst(prefix: list, before: before, limit: limit) { _, value in
            try dispute(named: String(decoding: value, as: UTF8.self), in: list)
        }
        return DisputePage(disputes: page.items, nextBefore: page.more ? page.items.last?.sequence : nil)
    }

    /// The case a list names; a name without a record is a damaged read model.
    private func funding(named id: String, in list: String) throws -> FundingCase {
        guard let view = try funding(id) else { throw MalformedRecord(key: list, reason: "names funding \(id), which has no record") }
        return view
    }

    private func dispute(named id: String, in list: String) throws -> DisputeCase {
        guard let view = try dispute(id) else { throw MalformedRecord(key: list, reason: "names dispute \(id), which has no record") }
        return view
    }

    /// Walks the queue `prefix` (entries `prefix` 0 `<seq>`, each an ID) from the first entry
    /// after `after`, returning up to `limit` items.
    private func queue<Item>(
        _ prefix: String, after: UInt64?, limit: Int, _ item: (String) throws -> Item
    ) throws -> (items: [Item], more: Bool) {
        guard limit > 0 else { return ([], false) }
        let head = Array(Keys.numbered(prefix, 0).dropLast(8))
        let start: [UInt8]
        if let after {
            guard after < .max else { return ([], false) }
            start = Keys.numbered(prefix, after + 1)
        } else {
            start = head
        }
        var items: [Item] = []
        var more = false
        try transaction.withCursor(database) { cursor in
            var positioned = try cursor.seek(atOrAfter: start)
            while positioned {
                let key = cursor.key
                guard key.count == head.count + 8, key.starts(with: head) else { break }
                if items.count == limit {
                    more = true
                    break
                }
                items.append(try item(String(decoding: cursor.value, as: UTF8.self)))
                positioned = try cursor.next()
            }
        }
        return (items, more)
    }

    // MARK: 5. Royalties

    public func royaltyStatement(holder: String) throws -> RoyaltyStatement? {
        guard let totals = try royaltyTotals(holder: holder) else { return nil }
        var entries: [RoyaltyEntry] = []
        let prefix = Keys.royaltyEntries(holder)
        let head = Array(Keys.numbered(prefix, 0).dropLast(8))
        try transaction.withCursor(database) { cursor in
            var positioned = try cursor.seek(atOrAfter: head)
            while positioned, cursor.key.count == head.count + 8, cursor.key.starts(with: head) {
                let chunk = try Self.logChunk(cursor, prefix: prefix, head: head)
                for index in chunk.entries.indices {
                    entries += try Self.decode([RoyaltyEntry].self, Array(chunk.value(index)), key: "re/\(holder)")
                }
                positioned = try cursor.next()
            }
        }
        return RoyaltyStatement(holder: holder, totals: totals, entries: entries)
    }

    /// A page of a rights holder's statement, newest first: the totals, and the entries of the
    /// events before sequence `before` (all when nil), at least `limit` of them unless fewer
    /// remain (an event's entries are never split). `nextBefore` continues it; nil at the end.
    /// A rights holder's totals per currency; nil for a holder never credited a royalty.
    public func royaltyTotals(holder: String) throws -> [RoyaltyCurrencyTotal]? {
        try record([RoyaltyCurrencyTotal].self, "rs/" + holder)
    }

    public func royaltyStatementPage(holder: String, before: UInt64? = nil, limit: Int = 100) throws -> RoyaltyStatementPage? {
        guard let totals = try royaltyTotals(holder: holder) else { return nil }
        let bound = before ?? .max
        var entries: [RoyaltyEntry] = []
        var lastSequence: UInt64?
        var more = false
        try forEachChunk(prefix: Keys.royaltyEntries(holder), newestBefore: bound) { chunk in
            for index in chunk.entries.indices.reversed() where chunk.entries[index].sequence < bound {
                if entries.count >= limit {
                    more = true
                    return false
                }
                let batch = try Self.decode([RoyaltyEntry].self, Array(chunk.value(index)), key: "re/\(holder)")
                entries += batch.reversed()
                lastSequence = batch.first?.sequence ?? lastSequence
            }
            return true
        }
        return RoyaltyStatementPage(holder: holder, totals: totals, entries: entries, nextBefore: more ? lastSequence : nil)
    }

    // MARK: 6. Point in time

    /// The balance of a ledger account (``LedgerAccount/name``) now (`atSequence` nil) or as it
    /// was right after event `atSequence`. A sequence past what the read reflects is refused.
    public func balance(account: String, atSequence: UInt64? = nil) throws -> AccountBalance {
        guard let target = atSequence else {
            let balance = Integers.int64(try transaction.get(database, key: Keys.balance(account))) ?? 0
            return AccountBalance(account: account, balance: balance, sequence: sequence)
        }
        guard target <= sequence else { throw ProjectionError.notYetFolded(requested: target, reached: sequence) }
        let point = try lastPoint(series: "bh/" + account, tag: SeriesChunk.balanceHistoryTag, atOrBefore: target)
        return AccountBalance(account: account, balance: point.map { Int64(bitPattern: $0.value) } ?? 0, sequence: target)
    }

    /// Every account's balance now, by ledger account name (``LedgerAccount/name``): each
    /// account a posting has touched, in key order.
    public func balances() throws -> [(account: String, balance: Int64)] {
        let prefix = Keys.bytes("bal/")
        return try transaction.withCursor(database) { cursor in
            var all: [(account: String, balance: Int64)] = []
            var positioned = try cursor.seek(atOrAfter: prefix)
            while positioned, cursor.key.starts(with: prefix) {
                guard let balance = Integers.uint64(cursor.value) else {
                    throw MalformedRecord(key: String(decoding: cursor.key, as: UTF8.self), reason: "a balance is 8 bytes")
                }
                all.append((String(decoding: cursor.key.dropFirst(prefix.count), as: UTF8.self), Int64(bitPattern: balance)))
                positioned = try cursor.next()
            }
            return all
        }
    }

    /// The last point at or before `bound` of a chunked series (`SeriesChunk`) whose keys are
    /// `prefix` 0 `<position>`: the chunk keyed at or before `bound` (seek past it, step back
    /// once), then a binary search in it. Nil when the series has no point there.
    private func lastPoint(series prefix: String, tag: UInt8, atOrBefore bound: UInt64) throws -> (position: UInt64, value: UInt64)? {
        let head = Array(Keys.numbered(prefix, 0).dropLast(8))
        return try transaction.withCursor(database) { cursor -> (position: UInt64, value: UInt64)? in
            let past = bound == .max ? Self.successor(of: head) : Keys.numbered(prefix, bound + 1)
            let found: Bool
            if let past, try cursor.seek(atOrAfter: past) {
                found = try cursor.previous()
            } else {
                found = try cursor.last()
            }
            guard found, cursor.key.count == head.count + 8, cursor.key.starts(with: head) else { return nil }
            let keyPosition = BigEndian.uint64(cursor.key, at: head.count)
            let chunk: SeriesChunk.View
            do {
                chunk = try SeriesChunk.View(cursor.value, tag: tag, keyPosition: keyPosition)
            } catch let error as SeriesChunk.Malformed {
                throw MalformedRecord(key: "\(prefix)#\(keyPosition)", reason: error.reason)
            }
            // The chunk's first point is at its key's position, at or before `bound`.
            guard let index = chunk.lastIndex(atOrBefore: bound) else { return nil }
            return (chunk.position(index), chunk.value(index))
        }
    }

    /// The balance as it was at `atTimeMilliseconds`: after the last event up to which every
    /// event's time was at or before it (0 before the first event).
    public func balance(account: String, atTimeMilliseconds time: UInt64) throws -> AccountBalance {
        try balance(account: account, atSequence: sequence(atTimeMilliseconds: time))
    }

    /// The last sequence whose event, and every event before it, is at or before `time`.
    public func sequence(atTimeMilliseconds time: UInt64) throws -> UInt64 {
        let point = try lastPoint(series: "ti/", tag: SeriesChunk.timeIndexTag, atOrBefore: time)
        return min(point?.value ?? 0, sequence)
    }

    // MARK: Dump

    /// The logs stored in chunks (`LogChunk`).
    static let logPrefixes = ["hw/", "hv/", "pu/", "re/", "uf/", "ud/", "vd/", "up/", "hp/", "ur/", "vr/"]

    /// A value as the dump prints it, by its key's text (without a trailing number), appended
    /// to `out`.
    static func show(_ text: String, _ value: [UInt8], _ encoder: JSONEncoder, into out: inout [UInt8]) throws {
        if text.hasPrefix("bal/") {
            out.append(contentsOf: String(Integers.int64(value) ?? 0).utf8)
        } else if text.hasPrefix("hw/") || text.hasPrefix("hv/") {
            var writer = JSONWriter(capacity: 256, escapeSlashes: true)
            try HistoryCodec.decode(value).writeJSON(to: &writer)
            out.append(contentsOf: writer.bytes)
        } else if text.hasPrefix("ckpt/") || text == "tmax" || text == "schema" {
            out.append(contentsOf: String(Integers.uint64(value) ?? 0).utf8)
        } else if let json = try ViewRecordDump.json(prefix: text, value, encoder) {
            out.append(contentsOf: json.utf8)
        } else {
            // Bytes that are not UTF-8 print with replacement characters, as `String(decoding:)` gives.
            out.append(contentsOf: String(decoding: value, as: UTF8.self).utf8)
        }
    }

    /// Every entry of the read models, one line each, in key order. Keys print as text, with a
    /// trailing number as `#<n>`; integers print in decimal, records as sorted-keys JSON
    /// (decoded from their binary layout: the text schema 1 stored as it was). The lines are
    /// written into one buffer (a String per line and the join were a quarter of `replay`).
    func canonicalDump() throws -> String {
        var whole: [UInt8] = []
        try canonicalDump { whole.append(contentsOf: $0) }
        return String(decoding: whole, as: UTF8.self)
    }

    /// The canonical dump handed to `sink` in pieces of about `pieceBytes`, in order (the bytes
    /// of ``canonicalDump()``, whose size grows with the journal: a 10-million-event dump does not
    /// fit in memory twice).
    func canonicalDump(pieceBytes: Int = 4 << 20, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var out: [UInt8] = []
        out.reserveCapacity(pieceBytes + (64 << 10))
        var written = 0
        /// `text`, then `#number` if any, then ` = `.
        func head(_ text: [UInt8], _ number: UInt64?) {
            out.append(contentsOf: text)
            if let number {
                out.append(UInt8(ascii: "#"))
                out.append(contentsOf: String(number).utf8)
            }
            out.append(contentsOf: [0x20, UInt8(ascii: "="), 0x20])
        }
        try transaction.withCursor(database) { cursor in
            var positioned = try cursor.first()
            while positioned {
                if out.count >= pieceBytes {
                    try out.withUnsafeBytes(sink)
                    written += out.count
                    out.removeAll(keepingCapacity: true)
                }
                let key = Array(cursor.key)
                var textBytes: [UInt8]
                var number: UInt64?
                if key.count >= 9, key[key.count - 9] == 0 {
                    textBytes = Array(key[..<(key.count - 9)])
                    number = BigEndian.uint64(key, at: key.count - 8)
                } else {
                    textBytes = key
                }
                let text = String(decoding: textBytes, as: UTF8.self)
                // Keys print as `String(decoding:)` reads them (invalid UTF-8 replaced).
                if !textBytes.allSatisfy({ $0 < 0x80 }) { textBytes = Array(text.utf8) }
                if let number, text.hasPrefix("bh/") || text == "ti/" {
                    // A chunk of a series: one line per point, as schema 2 stored each.
                    let balances = text.hasPrefix("bh/")
                    let chunk: SeriesChunk.View
                    do {
                        chunk = try SeriesChunk.View(
                            cursor.value, tag: balances ? SeriesChunk.balanceHistoryTag : SeriesChunk.timeIndexTag, keyPosition: number)
                    } catch let error as SeriesChunk.Malformed {
                        throw MalformedRecord(key: "\(text)#\(number)", reason: error.reason)
                    }
                    for index in 0..<chunk.count {
                        head(textBytes, chunk.position(index))
                        out.append(contentsOf: (balances ? String(Int64(bitPattern: chunk.value(index))) : String(chunk.value(index))).utf8)
                        out.append(0x0A)
                    }
                    positioned = try cursor.next()
                    continue
                }
                if number != nil, Self.logPrefixes.contains(where: { text.hasPrefix($0) }) {
                    // A chunk of a log: one line per entry, as schema 2 stored each.
                    let chunk = try Self.logChunk(cursor, prefix: text, head: Array(key.dropLast(8)))
                    for index in chunk.entries.indices {
                        head(textBytes, chunk.entries[index].sequence)
                        try Self.show(text, Array(chunk.value(index)), encoder, into: &out)
                        out.append(0x0A)
                    }
                    positioned = try cursor.next()
                    continue
                }
                head(textBytes, number)
                try Self.show(text, Array(cursor.value), encoder, into: &out)
                out.append(0x0A)
                positioned = try cursor.next()
            }
        }
        // As the lines joined with newlines and one more newline: an empty slot dumps "\n".
        if out.isEmpty && written == 0 { out.append(0x0A) }
        if !out.isEmpty { try out.withUnsafeBytes(sink) }
    }
}
