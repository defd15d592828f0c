import Foundation
import Journal
import LMDB
import Ledger
import TallyTestSupport
import Testing
@testable import Projections

/// Schema 3's chunked logs (`LogChunk`): history, purchases and royalty entries read the same,
/// page by page, whatever the batches that wrote them, and a damaged chunk is refused.
@Suite("Chunked logs")
struct LogChunkTests {
    static func chunk(_ entries: [(UInt64, [UInt8])]) -> [UInt8] {
        var bytes: [UInt8] = [LogChunk.tag]
        for (sequence, value) in entries {
            value.withUnsafeBytes { LogChunk.appendEntry(sequence: sequence, $0, to: &bytes) }
        }
        return bytes
    }

    static func read(_ bytes: [UInt8], key: UInt64) throws -> [(UInt64, [UInt8])] {
        try bytes.withUnsafeBytes { buffer in
            let view = try LogChunk.View(buffer, keySequence: key)
            return view.entries.indices.map { (view.entries[$0].sequence, Array(view.value($0))) }
        }
    }

    @Test("chunks and history entries with bytes changed anywhere are refused or read as what writes the same bytes, never a trap")
    func damagedBytes() throws {
        var random = TestValues(seed: 21)
        var readChunks = 0, readEntries = 0, readSeries = 0
        for round in 0..<3_000 {
            // A history entry (its texts ASCII, as the fold writes them), a chunk of a few, and a
            // balance-history chunk.
            let entry = HistoryEntry(
                sequence: random.unsigned(), timeMilliseconds: random.unsigned(), eventType: random.pick(["PurchaseCaptured", "FundsAdded"]),
                currency: random.pick([Currency.usd, .eur]), amount: random.signed(), held: random.signed(),
                counterparty: random.pick(["vendor", "user"]), transaction: random.maybe { _ in "tx-\(round)" })
            let entryBytes = HistoryCodec.encode(entry)
            let first = UInt64(round) * 10
            let chunk = Self.chunk((0..<Int.random(in: 1...4, using: &random)).map { (first + UInt64($0), HistoryCodec.encode(entry)) })
            let series = SeriesChunkTests.chunk((0..<Int.random(in: 1...4, using: &random)).map { (first + UInt64($0), random.unsigned()) })
            let any = Array(0...255).map(UInt8.init)

            let changedEntry = random.damaged(entryBytes, significant: any)
            if let read = try? HistoryCodec.decode(changedEntry) {
                readEntries += 1
                // Text that is not UTF-8 reads repaired (as the dump shows it), and stays so.
                let texts = [read.eventType, read.currency.code, read.counterparty, read.transaction ?? ""]
                if texts.allSatisfy({ !$0.unicodeScalars.contains("\u{FFFD}") }) {
                    #expect(HistoryCodec.encode(read) == changedEntry, "round \(round)")
                } else {
                    #expect(try HistoryCodec.decode(HistoryCodec.encode(read)) == read, "round \(round)")
                }
            }
            let changedChunk = random.damaged(chunk, significant: any)
            if let read = try? Self.read(changedChunk, key: first) {
                readChunks += 1
                #expect(Self.chunk(read) == changedChunk, "round \(round)")
            }
            let changedSeries = random.damaged(series, significant: any)
            if let read = try? SeriesChunkTests.view(changedSeries, key: first) {
                readSeries += 1
                #expect(SeriesChunkTests.chunk(read.points) == changedSeries, "round \(round)")
            }
        }
        // Changes inside a value or a number leave the layout whole: those are read.
        #expect(readEntries > 100, "\(readEntries) entries read")
        #expect(readChunks > 100, "\(readChunks) chunks read")
        #expect(readSeries > 100, "\(readSeries) series read")
    }

    @Test("a chunk round-trips its entries, empty ones included")
    func roundTrip() throws {
        let entries: [(UInt64, [UInt8])] = [(3, [1, 2, 3]), (4, []), (90, Array(repeating: 7, count: 300))]
        let read = try Self.read(Self.chunk(entries), key: 3)
        #expect(read.map(\.0) == [3, 4, 90])
        #expect(read.map(\.1) == entries.map(\.1))
    }

    @Test("a damaged chunk is refused", arguments: [
        ("no bytes", [UInt8](), UInt64(3)),
        ("the wrong tag", [SeriesChunk.balanceHistoryTag] + LogChunkTests.chunk([(3, [1])]).dropFirst(), 3),
        ("a tag and no entry", [LogChunk.tag], 3),
        ("a part of a header", Array(LogChunkTests.chunk([(3, [1])]).prefix(8)), 3),
        ("an entry cut short", LogChunkTests.chunk([(3, [1, 2])]).dropLast(), 3),
        ("bytes after the last entry", LogChunkTests.chunk([(3, [1])]) + [0], 3),
        ("a first entry not at the key", LogChunkTests.chunk([(3, [1]), (4, [2])]), 4),
        ("sequences out of order", LogChunkTests.chunk([(3, [1]), (5, [2]), (5, [3])]), 3),
    ] as [(String, [UInt8], UInt64)])
    func damaged(_ name: String, _ bytes: [UInt8], _ key: UInt64) {
        #expect(throws: LogChunk.Malformed.self, "\(name)") { _ = try Self.read(bytes, key: key) }
    }

    // MARK: Pages, whatever the batches

    /// Purchases with royalties, fundings and transfers of two users at two vendors: long logs
    /// for each subject, chunked at several sizes by the batches.
    static func world(seed: UInt64) async throws -> ProjectionFixture {
        var random = TestValues(seed: seed)
        let fixture = try ProjectionFixture()
        for vendor in ["v0", "v1"] {
            try await fixture.run(.registerVendor(
                vendor: vendor, name: vendor, sites: ["https://\(vendor).example/"], feeBasisPoints: 500,
                settlement: SettlementPolicy(thresholdAmount: 1_000_000, periodSeconds: 86_400)))
        }
        for user in ["alice", "bob"] { try await fixture.givenUser(user, funds: 1_000_000) }
        for step in 0..<(120 + random.below(60)) {
            let user = random.pick(["alice", "bob"])
            let vendor = random.pick(["v0", "v1"])
            switch random.below(5) {
            case 0: try await fixture.run(.addFunds(funding: "f\(step)", user: user, currency: .usd, amount: 5, method: .card))
            case 1: try await fixture.run(.transfer(from: user, to: user == "alice" ? "bob" : "alice", currency: .usd, amount: 3))
            default:
                try await fixture.run(.purchase(user: user, vendor: vendor, content: .inline(ProjectionFixture.terms(
                    "c\(step)", price: Int64(10 + random.below(400)), url: "https://\(vendor).example/c\(step)",
                    royalties: [RoyaltyShare(holder: "h-\(vendor)", basisPoints: 1000), RoyaltyShare(holder: "h-all", basisPoints: 500)]))))
            }
        }
        return fixture
    }

    /// Everything the logs answer, page by page, for every `before` and a few limits.
    struct Answers: Equatable {
        var wallet: [HistoryPage] = []
        var vendor: [HistoryPage] = []
        var purchases: [[String]] = []
        var royaltyPages: [RoyaltyStatementPage?] = []
        var royalties: [RoyaltyStatement?] = []
    }

    static func answers(_ projections: Projections, head: UInt64) throws -> Answers {
        var answers = Answers()
        try projections.read { (reader: ProjectionReader) throws in
            let befores: [UInt64?] = [nil] + (0...(head + 1)).map { $0 }
            for limit in [1, 2, 7, 50] {
                for before in befores {
                    answers.wallet.append(try reader.walletHistory(user: "alice", currency: .usd, before: before, limit: limit))
                    answers.vendor.append(try reader.vendorHistory(vendor: "v0", before: before, limit: limit))
                    answers.purchases.append(try reader.purchases(user: "bob", before: before, limit: limit).map(\.transaction))
                    answers.royaltyPages.append(try reader.royaltyStatementPage(holder: "h-all", before: before, limit: limit))
                }
            }
            for holder in ["h-all", "h-v1", "nobody"] { answers.royalties.append(try reader.royaltyStatement(holder: holder)) }
        }
        return answers
    }

    @Test("history, purchases and royalty pages are the same for every batch size, and each page is the newest entries before its bound",
          arguments: [UInt64(1), 2])
    func pagesAcrossBatches(seed: UInt64) async throws {
        let fixture = try await Self.world(seed: seed)
        let head = fixture.journal.head
        let other = TemporaryDirectory("tally-log-chunks")
        var all: [Answers] = []
        for (index, batchEvents) in [1, 5, 64, Projections.batchEvents].enumerated() {
            let projections = try ProjectionFixture.openProjections(other.path + "/p\(index)", journal: fixture.journal, batchEvents: batchEvents)
            #expect(try projections.catchUp() == head)
            all.append(try Self.answers(projections, head: head))
            #expect(try projections.canonicalDump() == (try fixture.freshDump()))
        }
        for answers in all.dropFirst() { #expect(answers == all[0]) }

        // Each page against the whole log, newest first.
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            let whole = try reader.walletHistory(user: "alice", currency: .usd, before: nil, limit: .max)
            #expect(whole.nextBefore == nil)
            #expect(zip(whole.entries, whole.entries.dropFirst()).allSatisfy { $0.sequence > $1.sequence })
            #expect(whole.entries.count > 2 * (LogChunk.bytesMax / 100))
            for before in [nil] + (0...(head + 1)).map({ Optional($0) }) {
                for limit in [1, 3, 50] {
                    let page = try reader.walletHistory(user: "alice", currency: .usd, before: before, limit: limit)
                    let wanted = whole.entries.filter { $0.sequence < before ?? .max }
                    #expect(page.entries == Array(wanted.prefix(limit)))
                    #expect(page.nextBefore == (wanted.count > limit ? page.entries.last?.sequence : nil))
                }
            }
            let statement = try #require(try reader.royaltyStatement(holder: "h-all"))
            #expect(zip(statement.entries, statement.entries.dropFirst()).allSatisfy { $0.sequence <= $1.sequence })
            var paged: [RoyaltyEntry] = []
            var before: UInt64?
            repeat {
                let page = try #require(try reader.royaltyStatementPage(holder: "h-all", before: before, limit: 3))
                paged += page.entries
                before = page.nextBefore
            } while before != nil
            #expect(paged == statement.entries.reversed())
        }
    }

    @Test("a damaged log chunk is reported by readers and the dump")
    func damagedInSlot() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.givenShopAndAlice()
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms())))
        try fixture.projections.catchUp()
        let projections = fixture.projections
        let slot = try RecordCodecTests.liveSlot(projections)
        for prefix in ["hw/alice:USD", "hv/shop", "pu/alice", "re/label"] {
            let key = try projections.environment.read { transaction throws -> [UInt8] in
                try transaction.withCursor(slot) { cursor throws -> [UInt8] in
                    let found = try cursor.seek(atOrAfter: Keys.bytes(prefix) + [0])
                    #expect(found)
                    return Array(cursor.key)
                }
            }
            #expect(key.starts(with: Keys.bytes(prefix) + [0]))
            try projections.environment.write { try $0.put(slot, key: key, value: [LogChunk.tag, 0, 0]) }
        }
        try projections.read { (reader: ProjectionReader) throws in
            #expect(throws: MalformedRecord.self) { _ = try reader.walletHistory(user: "alice", currency: .usd) }
            #expect(throws: MalformedRecord.self) { _ = try reader.vendorHistory(vendor: "shop") }
            #expect(throws: MalformedRecord.self) { _ = try reader.purchases(user: "alice") }
            #expect(throws: MalformedRecord.self) { _ = try reader.royaltyStatement(holder: "label") }
            #expect(throws: MalformedRecord.self) { _ = try reader.royaltyStatementPage(holder: "label") }
        }
        #expect(throws: MalformedRecord.self) { _ = try projections.canonicalDump() }
    }
}
