import Foundation
import Journal
import LMDB
import Ledger
import TallyTestSupport
import Testing
@testable import Projections

/// Schema 3's chunked series (`SeriesChunk`): the balance history and the time index answer
/// every point-in-time read as a naive fold of the journal does, across chunk and batch
/// boundaries, and a damaged chunk is refused.
@Suite("Chunked series")
struct SeriesChunkTests {
    static func chunk(tag: UInt8 = SeriesChunk.balanceHistoryTag, _ points: [(UInt64, UInt64)]) -> [UInt8] {
        var bytes: [UInt8] = []
        SeriesChunk.write(tag: tag, count: points.count, into: &bytes) { (points[$0].0, points[$0].1) }
        return bytes
    }

    static func view(_ bytes: [UInt8], tag: UInt8 = SeriesChunk.balanceHistoryTag, key: UInt64) throws -> (count: Int, points: [(UInt64, UInt64)], search: [UInt64: Int?]) {
        try bytes.withUnsafeBytes { buffer in
            let view = try SeriesChunk.View(buffer, tag: tag, keyPosition: key)
            var search: [UInt64: Int?] = [:]
            for bound in [0, key &- 1, key, key + 1, 5, 6, 7, 9, 10, 11, 1_000, UInt64.max] {
                search[bound] = view.lastIndex(atOrBefore: bound)
            }
            return (view.count, (0..<view.count).map { (view.position($0), view.value($0)) }, search)
        }
    }

    @Test("a chunk round-trips and finds the last point at or before any position")
    func roundTrip() throws {
        let points: [(UInt64, UInt64)] = [(5, 1), (6, UInt64(bitPattern: -3)), (10, .max)]
        let read = try Self.view(Self.chunk(points), key: 5)
        #expect(read.count == 3)
        #expect(read.points.map(\.0) == [5, 6, 10])
        #expect(read.points.map(\.1) == [1, UInt64(bitPattern: -3), .max])
        let expected: [UInt64: Int?] = [0: nil, 4: nil, 5: 0, 6: 1, 7: 1, 9: 1, 10: 2, 11: 2, 1_000: 2, .max: 2]
        for (bound, index) in expected { #expect(read.search[bound] == index, "bound \(bound)") }
    }

    @Test("a damaged chunk is refused", arguments: [
        ("no bytes", [UInt8](), UInt64(5)),
        ("the wrong tag", SeriesChunkTests.chunk(tag: SeriesChunk.timeIndexTag, [(5, 1)]), 5),
        ("a tag and no point", [SeriesChunk.balanceHistoryTag], 5),
        ("a part of a point", SeriesChunkTests.chunk([(5, 1)]).dropLast(), 5),
        ("a point too many", SeriesChunkTests.chunk([(5, 1)]) + [UInt8](repeating: 0, count: 16 * SeriesChunk.entriesMax), 5),
        ("a first point not at the key", SeriesChunkTests.chunk([(5, 1), (6, 2)]), 4),
        ("positions out of order", SeriesChunkTests.chunk([(5, 1), (7, 2), (7, 3)]), 5),
    ] as [(String, [UInt8], UInt64)])
    func damaged(_ name: String, _ bytes: [UInt8], _ key: UInt64) {
        #expect(throws: SeriesChunk.Malformed.self, "\(name)") { _ = try Self.view(bytes, key: key) }
    }

    // MARK: Against a naive fold of the journal

    /// Every account's balance after every event and each event's time, folded from the journal
    /// one posting at a time.
    struct NaiveFold {
        var history: [String: [(sequence: UInt64, balance: Int64)]] = [:]
        var times: [UInt64] = []

        init(_ journal: Journal) throws {
            var balances: [String: Int64] = [:]
            let events = try JournalReader(storage: journal.storage).events(from: 1, limit: .max)
            for stored in events {
                let event = try LedgerEvent(typeName: stored.typeName, payload: stored.payload)
                times.append(event.timeMilliseconds)
                var touched: [String] = []
                for posting in event.postings {
                    balances[posting.debit, default: 0] -= posting.amount
                    balances[posting.credit, default: 0] += posting.amount
                    touched += [posting.debit, posting.credit]
                }
                for account in Set(touched) { history[account, default: []].append((stored.sequence, balances[account]!)) }
            }
        }

        func balance(_ account: String, at sequence: UInt64) -> Int64 {
            history[account]?.last { $0.sequence <= sequence }?.balance ?? 0
        }

        /// The last sequence up to which every event's time is at or before `time`.
        func sequence(at time: UInt64) -> UInt64 {
            var reached: UInt64 = 0
            for (index, eventTime) in times.enumerated() {
                guard eventTime <= time else { break }
                reached = UInt64(index + 1)
            }
            return reached
        }
    }

    /// Random transfers between a few users (some at the same time, so that the time index's
    /// last point is replaced across batches), enough for several chunks of 100 points per
    /// account, folded with `batchEvents` per transaction.
    static func foldRandomTransfers(seed: UInt64, batchEvents: Int) async throws -> ProjectionFixture {
        var random = TestValues(seed: seed)
        let fixture = try ProjectionFixture(batchEvents: batchEvents)
        let users = ["a", "b", "c"]
        for user in users { try await fixture.givenUser(user, funds: 1_000_000) }
        let steps = 150 + random.below(200)
        for step in 0..<steps {
            fixture.clock.advance(seconds: UInt64(random.below(3)))
            let from = random.pick(users)
            let to = random.pick(users.filter { $0 != from })
            let amount = Int64(1 + random.below(500))
            do {
                if random.below(8) == 0 {
                    try await fixture.run(.addFunds(funding: "f\(step)", user: from, currency: .usd, amount: amount, method: .card))
                } else {
                    try await fixture.run(.transfer(from: from, to: to, currency: .usd, amount: amount))
                }
            } catch is LedgerRejection {
                continue
            }
            // Fold part-way now and then (batches that end anywhere).
            if random.below(40) == 0 { try fixture.projections.catchUp() }
        }
        #expect(try fixture.projections.catchUp() == fixture.journal.head)
        #expect(fixture.projections.status.failure == nil)
        return fixture
    }

    @Test("balances at every sequence and time equal a naive fold, across chunk and batch boundaries",
          arguments: [(1, 1), (2, 3), (3, 64), (4, Projections.batchEvents), (5, Projections.batchEvents)] as [(UInt64, Int)])
    func againstNaiveFold(seed: UInt64, batchEvents: Int) async throws {
        let fixture = try await Self.foldRandomTransfers(seed: seed, batchEvents: batchEvents)
        let naive = try NaiveFold(fixture.journal)
        let head = fixture.journal.head
        let slot = try RecordCodecTests.liveSlot(fixture.projections)
        // Some account's history spans several chunks.
        let chunks = try fixture.projections.environment.read { transaction in
            try transaction.withCursor(slot) { cursor in
                var count = 0
                var positioned = try cursor.seek(atOrAfter: Keys.bytes("bh/wallet:a:USD"))
                while positioned, cursor.key.starts(with: Keys.bytes("bh/wallet:a:USD") + [0]) {
                    count += 1
                    positioned = try cursor.next()
                }
                return count
            }
        }
        #expect(chunks >= 2)

        try fixture.projections.read { (reader: ProjectionReader) throws in
            for account in naive.history.keys.sorted() + ["wallet:nobody:USD"] {
                for sequence in 0...head {
                    #expect(try reader.balance(account: account, atSequence: sequence).balance == naive.balance(account, at: sequence),
                            "\(account) at \(sequence)")
                }
                #expect(try reader.balance(account: account).balance == naive.balance(account, at: head))
            }
            var times: Set<UInt64> = [0, 1, .max - 1, .max]
            for time in naive.times { times.formUnion([time - 1, time, time + 1]) }
            for time in times.sorted() {
                #expect(try reader.sequence(atTimeMilliseconds: time) == naive.sequence(at: time), "time \(time)")
                #expect(try reader.balance(account: "wallet:a:USD", atTimeMilliseconds: time).balance
                        == naive.balance("wallet:a:USD", at: naive.sequence(at: time)), "time \(time)")
            }
        }
        // The layout depends on where batches ended; the dump and the answers do not.
        #expect(try fixture.freshDump() == (try fixture.projections.canonicalDump()))
    }

    @Test("the dump prints one line per point, as schema 2 stored each")
    func dumpLines() async throws {
        let fixture = try await Self.foldRandomTransfers(seed: 9, batchEvents: Projections.batchEvents)
        let naive = try NaiveFold(fixture.journal)
        let dump = try fixture.projections.canonicalDump()
        let lines = dump.split(separator: "\n").filter { $0.hasPrefix("bh/wallet:a:USD#") }
        let history = try #require(naive.history["wallet:a:USD"])
        #expect(lines == history.map { "bh/wallet:a:USD#\($0.sequence) = \($0.balance)"[...] })
        // The time index: one line per distinct running-maximum time, its last sequence.
        var expected: [String] = []
        var maximum: UInt64 = 0
        var last: (time: UInt64, sequence: UInt64)?
        for (index, time) in naive.times.enumerated() {
            maximum = max(maximum, time)
            if let previous = last, previous.time != maximum { expected.append("ti/#\(previous.time) = \(previous.sequence)") }
            last = (maximum, UInt64(index + 1))
        }
        if let last { expected.append("ti/#\(last.time) = \(last.sequence)") }
        #expect(dump.split(separator: "\n").filter { $0.hasPrefix("ti/#") }.map(String.init) == expected)
    }

    @Test("a damaged balance-history chunk is reported by readers and the dump, and stops the fold")
    func damagedInSlot() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.givenShopAndAlice()
        try fixture.projections.catchUp()
        let projections = fixture.projections
        let slot = try RecordCodecTests.liveSlot(projections)
        let key = try projections.environment.read { transaction throws -> [UInt8] in
            try transaction.withCursor(slot) { cursor throws -> [UInt8] in
                let found = try cursor.seek(atOrAfter: Keys.bytes("bh/wallet:alice:USD"))
                #expect(found)
                return Array(cursor.key)
            }
        }
        try projections.environment.write { try $0.put(slot, key: key, value: [SeriesChunk.balanceHistoryTag, 1, 2]) }
        #expect(throws: MalformedRecord.self) {
            _ = try projections.read { try $0.balance(account: "wallet:alice:USD", atSequence: $0.sequence) }
        }
        #expect(throws: MalformedRecord.self) { _ = try projections.canonicalDump() }

        // The time index's last chunk is read by the next batch: damaged, it stops the fold there.
        let timeKey = try projections.environment.read { transaction throws -> [UInt8] in
            try transaction.withCursor(slot) { cursor throws -> [UInt8] in
                let found = try cursor.seek(atOrAfter: Keys.bytes("ti/") + [1])
                #expect(found)
                let stepped = try cursor.previous()
                #expect(stepped)
                return Array(cursor.key)
            }
        }
        try projections.environment.write { try $0.put(slot, key: timeKey, value: [SeriesChunk.timeIndexTag]) }
        let good = fixture.journal.head
        try await fixture.run(.addMember(user: "alice", member: "m1"))
        #expect(try projections.catchUp() == good)
        let failure = try #require(projections.status.failure)
        #expect(failure.sequence == good + 1)
        #expect(failure.reason.contains("ti/#"))
    }

    @Test("a slot of schema 2 (one entry per point) is folded again from the start in chunks")
    func schemaTwoFoldedAgain() async throws {
        let fixture = try await Self.foldRandomTransfers(seed: 11, batchEvents: 16)
        let expected = try fixture.projections.canonicalDump()
        let naive = try NaiveFold(fixture.journal)
        let head = fixture.journal.head

        // Make the live slot look as schema 2 left it: its schema key, and one entry per point.
        let projections = fixture.projections
        let slot = try RecordCodecTests.liveSlot(projections)
        try projections.environment.write { transaction in
            var chunks: [(key: [UInt8], points: [(UInt64, UInt64)])] = []
            try transaction.withCursor(slot) { cursor in
                var positioned = try cursor.first()
                while positioned {
                    let key = Array(cursor.key)
                    if key.starts(with: Keys.bytes("bh/")) || key.starts(with: Keys.bytes("ti/")) {
                        let tag = key.starts(with: Keys.bytes("bh/")) ? SeriesChunk.balanceHistoryTag : SeriesChunk.timeIndexTag
                        let view = try SeriesChunk.View(cursor.value, tag: tag, keyPosition: BigEndian.uint64(key, at: key.count - 8))
                        chunks.append((key, (0..<view.count).map { (view.position($0), view.value($0)) }))
                    }
                    positioned = try cursor.next()
                }
            }
            for chunk in chunks {
                try transaction.delete(slot, key: chunk.key)
                let prefix = Array(chunk.key.dropLast(8))
                for (position, value) in chunk.points {
                    try transaction.put(slot, key: prefix + BigEndian.bytes(position), value: BigEndian.bytes(value))
                }
            }
            try transaction.put(slot, key: Keys.schema, value: Integers.encode(UInt64(2)))
        }
        #expect(throws: MalformedRecord.self) {
            _ = try projections.read { try $0.balance(account: "wallet:a:USD", atSequence: head / 2) }
        }

        try fixture.reopenProjections()
        #expect(fixture.projections.status.sequence == 0)
        #expect(try fixture.projections.catchUp() == head)
        #expect(try fixture.projections.canonicalDump() == expected)
        #expect(expected.contains("schema = \(Projections.schemaVersion)\n"))
        try fixture.projections.read { (reader: ProjectionReader) throws in
            for sequence in stride(from: 0, through: head, by: 7) {
                #expect(try reader.balance(account: "wallet:a:USD", atSequence: sequence).balance == naive.balance("wallet:a:USD", at: sequence))
            }
        }
    }
}
