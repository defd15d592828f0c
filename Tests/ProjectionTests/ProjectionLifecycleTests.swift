import Foundation
import Journal
import LMDB
@testable import Ledger
import TallyCrypto
import TallyTestSupport
import Testing
@testable import Projections

@Suite("Projection lifecycle")
struct ProjectionLifecycleTests {
    /// Some purchases, transfers and fundings for `users` users.
    static func traffic(_ fixture: ProjectionFixture, rounds: Int, tag: String) async throws {
        for round in 0..<rounds {
            try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms(
                "\(tag)-\(round)", price: Int64(1 + round % 50)))))
            try await fixture.run(.addFunds(funding: "\(tag)-f\(round)", user: "alice", currency: .usd, amount: 3, method: .card))
            if round % 3 == 0 {
                try await fixture.run(.transfer(from: "alice", to: "bob", currency: .usd, amount: 2))
            }
        }
    }

    static func givenWorld(_ fixture: ProjectionFixture) async throws {
        try await fixture.givenShopAndAlice(funds: 100_000)
        try await fixture.givenUser("bob", funds: 10)
    }

    @Test("checkpoints are stored with the data: a reopened projection resumes from its checkpoint and equals a fresh fold")
    func resumeFromCheckpoint() async throws {
        let fixture = try ProjectionFixture(batchEvents: 7)
        try await Self.givenWorld(fixture)
        try await Self.traffic(fixture, rounds: 10, tag: "a")
        let first = try fixture.projections.catchUp()
        #expect(first == fixture.journal.head)
        #expect(fixture.projections.status.models.allSatisfy { $0.sequence == first })

        try await Self.traffic(fixture, rounds: 10, tag: "b")
        try fixture.reopenProjections()
        // Reopened, it reflects what it had folded, and nothing more until it folds.
        #expect(fixture.projections.status.sequence == first)
        try fixture.projections.read { reader in #expect(reader.sequence == first) }
        let second = try fixture.projections.catchUp()
        #expect(second == fixture.journal.head)
        #expect(second > first)
        #expect(try fixture.projections.canonicalDump() == fixture.freshDump())
    }

    @Test("the canonical dump handed out in pieces of any size is the whole dump, and its digest is the dump's SHA-256")
    func dumpInPieces() async throws {
        let fixture = try ProjectionFixture()
        try await Self.givenWorld(fixture)
        try await Self.traffic(fixture, rounds: 6, tag: "p")
        try fixture.projections.catchUp()
        let whole = try fixture.projections.canonicalDump()
        #expect(whole.utf8.count > 4096)
        for pieceBytes in [1, 100, 4096, 1 << 30] {
            var pieces: [[UInt8]] = []
            try fixture.projections.read { reader in
                try reader.canonicalDump(pieceBytes: pieceBytes) { pieces.append(Array($0)) }
            }
            #expect(pieces.joined().elementsEqual(whole.utf8), "pieces of \(pieceBytes) bytes")
            // Pieces stay near the asked size (one record over at most), not the whole dump.
            if pieceBytes == 100 { #expect(pieces.count > whole.utf8.count / 2_000) }
        }
        #expect(try fixture.projections.canonicalDumpDigest() == SHA256.hash(Array((whole + "\n").utf8)))
    }

    @Test("a fold cut short by a bad event commits the events before it with their checkpoint, in the same batch")
    func partialBatchCommits() async throws {
        let fixture = try ProjectionFixture()
        try await Self.givenWorld(fixture)
        let good = fixture.journal.head
        _ = try await fixture.journal.append([
            try LedgerEvent.walletOpened(WalletOpened(user: "bob", currency: .eur, timeMilliseconds: fixture.clock.now)).draft(),
            EventDraft(typeName: "Bogus", payload: Array("{}".utf8)),
        ])
        // One batch holds the good events and the bad one: the good ones are folded and checkpointed.
        #expect(try fixture.projections.catchUp() == good + 1)
        try fixture.reopenProjections()
        #expect(fixture.projections.status.sequence == good + 1)
        try fixture.projections.read { (reader: ProjectionReader) throws in
            #expect(try reader.wallets(user: "bob")?.wallets.map(\.currency.code) == ["EUR", "USD"])
        }
    }

    /// With batches of 3 the failing event meets batches read and decoded ahead of the fold.
    @Test("an event the fold cannot handle stops the projection at it, with the sequence and the reason; reads stay at the last good sequence",
          arguments: [Projections.batchEvents, 3])
    func undecodableEventStops(batchEvents: Int) async throws {
        let fixture = try ProjectionFixture(batchEvents: batchEvents)
        try await Self.givenWorld(fixture)
        try fixture.projections.catchUp()
        let good = fixture.journal.head
        _ = try await fixture.journal.append(EventDraft(typeName: "Bogus", payload: Array("{\"x\":1}".utf8)))
        try await Self.traffic(fixture, rounds: 2, tag: "after")

        #expect(try fixture.projections.catchUp() == good)
        let status = fixture.projections.status
        #expect(status.sequence == good)
        let failure = try #require(status.failure)
        #expect(failure.sequence == good + 1)
        #expect(failure.reason.contains("Bogus"))
        #expect(failure.reason.contains("unknown event type"))
        // It does not skip the event: trying again folds nothing.
        #expect(try fixture.projections.catchUp() == good)
        try fixture.projections.read { (reader: ProjectionReader) throws in
            #expect(reader.sequence == good)
            #expect(try reader.wallets(user: "alice")?.wallets.first?.balance == 100_000)
        }
        #expect(await fixture.projections.waitUntil(sequence: good + 2, timeout: .seconds(5)) == false)
        // A rebuild meets the same event and is not swapped in.
        #expect(throws: ProjectionError.foldFailed(sequence: good + 1, reason: failure.reason)) {
            try fixture.projections.rebuild(progress: nil)
        }
        #expect(fixture.projections.status.version == 1)
        #expect(fixture.projections.status.sequence == good)
    }

    @Test("an inconsistent event (an amount that overflows) stops the projection instead of trapping")
    func overflowStops() async throws {
        let fixture = try ProjectionFixture()
        try await Self.givenWorld(fixture)
        let huge = Int64.max - 5
        let wallet = LedgerAccount.wallet(user: "bob", currency: .usd)
        let funding = LedgerAccount.fundingClearing(method: .card, currency: .usd)
        let event = LedgerEvent.fundsAdded(FundsAdded(
            funding: "huge", user: "bob", currency: .usd, amount: huge, method: .card, throughVendor: nil, pending: false,
            postings: [Posting(debit: funding, credit: wallet, amount: huge)], timeMilliseconds: fixture.clock.now))
        // Appended to the journal directly: the ledger would have refused it.
        _ = try await fixture.journal.append(try event.draft())
        try fixture.projections.catchUp()
        let failure = try #require(fixture.projections.status.failure)
        #expect(failure.sequence == fixture.journal.head)
        #expect(failure.reason.contains("overflow"))
        #expect(fixture.projections.status.sequence == fixture.journal.head - 1)
        try fixture.projections.read { (reader: ProjectionReader) throws in
            #expect(try reader.balance(account: wallet.name).balance == 10)
        }
    }

    @Test("an unknown transaction is an inconsistency that stops the projection")
    func unknownTransactionStops() async throws {
        let fixture = try ProjectionFixture()
        try await Self.givenWorld(fixture)
        let event = LedgerEvent.purchaseVoided(PurchaseVoided(
            transaction: "tx-999", user: "alice", vendor: "shop", reason: .voided, postings: [], idempotency: nil,
            timeMilliseconds: fixture.clock.now))
        _ = try await fixture.journal.append(try event.draft())
        try fixture.projections.catchUp()
        let failure = try #require(fixture.projections.status.failure)
        #expect(failure.sequence == fixture.journal.head)
        #expect(failure.reason.contains("tx-999"))
    }

    @Test("rebuild makes a new version equal to the incrementally built one, while the old version keeps serving")
    func rebuildEqualsIncremental() async throws {
        let fixture = try ProjectionFixture(batchEvents: 16)
        try await Self.givenWorld(fixture)
        try await Self.traffic(fixture, rounds: 30, tag: "a")
        let folded = try fixture.projections.catchUp()
        let incremental = try fixture.projections.canonicalDump()
        #expect(fixture.projections.status.version == 1)

        var progressCalls = 0
        try fixture.projections.rebuild { reached, head in
            progressCalls += 1
            #expect(reached <= head)
            // While the new version is built, reads are served by the old one, whole.
            if reached < head {
                let status = fixture.projections.status
                #expect(status.version == 1)
                #expect(status.rebuilding?.model == "v2")
                #expect(status.rebuilding?.sequence == reached)
                try? fixture.projections.read { reader in
                    #expect(reader.version == 1)
                    #expect(reader.sequence == folded)
                }
                #expect((try? fixture.projections.canonicalDump()) == incremental)
            }
        }
        #expect(progressCalls > 2)
        let status = fixture.projections.status
        #expect(status.version == 2)
        #expect(status.rebuilding == nil)
        #expect(status.sequence == folded)
        #expect(try fixture.projections.canonicalDump() == incremental)

        // The new version keeps folding, and a second rebuild swaps back into the first slot.
        try await Self.traffic(fixture, rounds: 3, tag: "b")
        try fixture.projections.catchUp()
        let after = try fixture.projections.canonicalDump()
        try fixture.projections.rebuild(progress: nil)
        #expect(fixture.projections.status.version == 3)
        #expect(try fixture.projections.canonicalDump() == after)
        #expect(after == (try fixture.freshDump()))
    }

    @Test("an interrupted rebuild is never served, and the next rebuild resumes it from its checkpoint")
    func interruptedRebuildResumes() async throws {
        let fixture = try ProjectionFixture(batchEvents: 8)
        try await Self.givenWorld(fixture)
        try await Self.traffic(fixture, rounds: 12, tag: "a")
        try fixture.projections.catchUp()
        let incremental = try fixture.projections.canonicalDump()

        // Stop after the first batches, as a crash would.
        #expect(try fixture.projections.rebuild(progress: nil, stoppingAfter: 20) == false)
        let halfway = try #require(fixture.projections.status.rebuilding)
        #expect(halfway.model == "v2")
        #expect(halfway.sequence >= 20 && halfway.sequence < fixture.journal.head)
        #expect(fixture.projections.status.version == 1)
        #expect(try fixture.projections.canonicalDump() == incremental)

        // Restart; more events arrive; the rebuild resumes where it stopped.
        try fixture.reopenProjections()
        try await Self.traffic(fixture, rounds: 2, tag: "b")
        var firstProgress: UInt64?
        try fixture.projections.rebuild { reached, _ in
            if firstProgress == nil { firstProgress = reached }
        }
        #expect(firstProgress == halfway.sequence + 8)
        #expect(fixture.projections.status.version == 2)
        #expect(fixture.projections.status.sequence == fixture.journal.head)
        #expect(try fixture.projections.canonicalDump() == (try fixture.freshDump()))
    }

    @Test("a second opener of the same environment (journal-tool beside the server) rebuilds and swaps; the first follows the new version")
    func sharedEnvironment() async throws {
        let fixture = try ProjectionFixture(batchEvents: 8)
        try await Self.givenWorld(fixture)
        try await Self.traffic(fixture, rounds: 6, tag: "a")
        try fixture.projections.catchUp()
        let server = fixture.projections

        let tool = try ProjectionFixture.openProjections(fixture.directory.path, journal: fixture.journal, batchEvents: 8)
        try await Self.traffic(fixture, rounds: 4, tag: "b")
        try tool.rebuild(progress: nil)
        #expect(tool.status.version == 2)

        // The server folds on into the version the tool swapped in, with no failure and no gap.
        try await Self.traffic(fixture, rounds: 4, tag: "c")
        #expect(try server.catchUp() == fixture.journal.head)
        #expect(server.status.failure == nil)
        #expect(server.status.version == 2)
        try server.read { (reader: ProjectionReader) throws in
            #expect(reader.version == 2)
            #expect(reader.sequence == fixture.journal.head)
        }
        // Both fold the same batches without harm: whoever is second finds them done.
        try await Self.traffic(fixture, rounds: 2, tag: "d")
        #expect(try tool.catchUp() == fixture.journal.head)
        #expect(try server.catchUp() == fixture.journal.head)
        #expect(try server.canonicalDump() == (try fixture.freshDump()))
        #expect(try tool.canonicalDump() == (try server.canonicalDump()))
    }

    /// Two openers catching up at once, each folding the next batch while its last one is
    /// written (`FoldPipeline`): a write that finds the slot's checkpoint moved by the other
    /// commits nothing, and its opener goes on from what is stored.
    @Test("two openers catching up the same slot at once, batch by batch, end equal to a fresh fold")
    func concurrentCatchUps() async throws {
        let fixture = try ProjectionFixture(batchEvents: 4)
        try await Self.givenWorld(fixture)
        try await Self.traffic(fixture, rounds: 60, tag: "a")
        let server = fixture.projections
        let tool = try ProjectionFixture.openProjections(fixture.directory.path, journal: fixture.journal, batchEvents: 4)
        let head = fixture.journal.head
        async let first = Task.detached { try server.catchUp() }.value
        async let second = Task.detached { try tool.catchUp() }.value
        #expect(try await first == head)
        #expect(try await second == head)
        #expect(server.status.failure == nil)
        #expect(tool.status.failure == nil)
        #expect(try server.canonicalDump() == (try fixture.freshDump()))
        #expect(try tool.canonicalDump() == (try server.canonicalDump()))
    }

    /// The interleaving `concurrentCatchUps` leaves to chance, made to happen: another opener
    /// folds the slot on while the pipeline holds batch 2 folded in memory. Its write must find
    /// the checkpoint moved and commit nothing; writing it would take the checkpoint back. The
    /// events after the first batch are transfers, which create no record: a put that must not
    /// overwrite would otherwise find the batch written already, and hide a missing check.
    @Test("a pipelined batch whose slot another opener folded on meanwhile is not written")
    func pipelinedWriteFindsSlotMoved() async throws {
        let fixture = try ProjectionFixture(batchEvents: 4)
        try await Self.givenWorld(fixture)
        let other = TemporaryDirectory("tally-pipeline-moved")
        let server = try ProjectionFixture.openProjections(other.path, journal: fixture.journal, batchEvents: 4)
        let tool = try ProjectionFixture.openProjections(other.path, journal: fixture.journal, batchEvents: 4)
        let start = try server.catchUp()
        for _ in 0..<16 { try await fixture.run(.transfer(from: "alice", to: "bob", currency: .usd, amount: 2)) }
        let batches = EventBatches(journal: fixture.journal.storage, limit: 4)
        defer { batches.finish() }
        let first = try batches.batch(from: start + 1)
        #expect(first.full)
        var outcomes: [String] = []
        var toolReached: UInt64 = 0
        try server.foldBatches(
            from: first, batches: batches, into: 0, pointer: "live", version: 1, buffers: FoldBuffers(), proceed: { _ in true }
        ) { _, outcome in
            switch outcome {
            case .stale:
                outcomes.append("stale")
                return false
            case .folded(let reached, let failure, _):
                outcomes.append("folded \(reached)")
                #expect(failure == nil)
                // Batch 2 is folded by now and waits to be written.
                if outcomes.count == 1 { toolReached = try tool.catchUp() }
                return true
            }
        }
        #expect(outcomes == ["folded \(start + 4)", "stale"])
        #expect(toolReached == fixture.journal.head)
        #expect(try server.catchUp() == fixture.journal.head)
        #expect(server.status.failure == nil)
        #expect(try server.canonicalDump() == (try fixture.freshDump()))
    }

    @Test("run tails the journal, and waitUntil gives read-your-writes")
    func runAndWait() async throws {
        let fixture = try ProjectionFixture()
        try await Self.givenWorld(fixture)
        let projections = fixture.projections
        let worker = Task { await projections.run() }
        defer { worker.cancel() }
        let result = try await fixture.run(.transfer(from: "alice", to: "bob", currency: .usd, amount: 5))
        let sequence = try #require(result.sequences?.upperBound)
        #expect(await projections.waitUntil(sequence: sequence, timeout: .seconds(30)))
        try projections.read { (reader: ProjectionReader) throws in
            #expect(reader.sequence >= sequence)
            #expect(try reader.wallets(user: "bob")?.wallets.first?.balance == 15)
        }
        // A sequence the journal does not hold is not waited for beyond the timeout.
        #expect(await projections.waitUntil(sequence: sequence + 100, timeout: .milliseconds(20)) == false)
        // The worker folds new events without being asked.
        try await fixture.run(.transfer(from: "alice", to: "bob", currency: .usd, amount: 1))
        let head = fixture.journal.head
        var waited = 0
        while projections.status.sequence < head && waited < 3_000 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(projections.status.sequence == head)
        worker.cancel()
        await worker.value
    }

    @Test("a foreign or damaged projections environment is refused with an error naming the file")
    func refusesForeignEnvironment() async throws {
        let fixture = try ProjectionFixture()
        try await Self.givenWorld(fixture)
        try fixture.projections.catchUp()

        // Another journal's read models.
        let other = try ProjectionFixture()
        do {
            _ = try Projections.open(Projections.Configuration(dataDirectory: fixture.directory.path), journal: other.journal.storage)
            Issue.record("opened another journal's projections")
        } catch let error as ProjectionError {
            guard case .corruptFile(let path, let reason) = error else { Issue.record("\(error)"); return }
            #expect(path == Projections.path(in: fixture.directory.path) + "/data.mdb")
            #expect(reason.contains("another journal"))
        }

        // A data file that is not LMDB.
        let damaged = TemporaryDirectory("tally-projections-damaged")
        let path = damaged.path + "/projections"
        try FileSystem.makeDirectory(path)
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path + "/data.mdb"))
        do {
            _ = try Projections.open(directory: path, journal: fixture.journal.storage)
            Issue.record("opened a damaged environment")
        } catch let error as ProjectionError {
            guard case .corruptFile(let named, _) = error else { Issue.record("\(error)"); return }
            #expect(named.hasPrefix(path))
        }

        // An LMDB environment that is not ours.
        let foreign = TemporaryDirectory("tally-projections-foreign")
        let foreignPath = foreign.path + "/projections"
        _ = try Environment.create(at: foreignPath) { transaction in
            _ = try transaction.openDatabase(named: "something")
        }
        do {
            _ = try Projections.open(directory: foreignPath, journal: fixture.journal.storage)
            Issue.record("opened a foreign environment")
        } catch let error as ProjectionError {
            guard case .corruptFile(let named, let reason) = error else { Issue.record("\(error)"); return }
            #expect(named == foreignPath + "/data.mdb")
            #expect(reason.contains("not a Tally projections environment"))
        }
    }
}
