import Foundation
import Journal
import LMDB
import Ledger
import Projections
import TallyTestSupport
import Testing

/// `verify`, `replay` and `rebuild` against the read models of `DIR/projections`.
@Suite("journal-tool and the read models", .serialized)
struct ProjectionToolTests {
    /// A copy of the small journal with its read models folded through `through` (or all).
    static func copyWithProjections(through: UInt64? = nil) async throws -> DataCopy {
        let copy = try DataCopy(of: try await Fixtures.shared.smallJournal())
        let storage = try LMDBJournalStorage.open(at: Journal.journalPath(in: copy.path), create: false, readOnly: true)
        if let through {
            // Fold only a prefix: a projection over a journal that ends at `through`.
            let partial = PrefixStorage(base: storage, last: through)
            _ = try Projections.open(directory: Projections.path(in: copy.path), journal: partial).catchUp()
        } else {
            _ = try Projections.open(directory: Projections.path(in: copy.path), journal: storage).catchUp()
        }
        return copy
    }

    /// Flips a bit of bob's balance in the read models of `copy`.
    static func tamperWithBobsBalance(_ copy: DataCopy) throws {
        let environment = try Environment.open(at: Projections.path(in: copy.path))
        let slot = try environment.database(named: "slot0")
        let key = Array("bal/wallet:bob:USD".utf8)
        var value = try #require(try environment.read { try $0.get(slot, key: key) })
        value[value.count - 1] ^= 0x04
        try environment.write { try $0.put(slot, key: key, value: value) }
    }

    @Test("verify compares the read models' balances with the postings' and finds a tampered one (exit 29)")
    func verifyComparesProjections() async throws {
        let copy = try await Self.copyWithProjections()
        let good = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(good.status == 0, "\(good.summary)")
        let note = (good.json["audit"] as? [String: Any])?["projections"] as? String ?? ""
        #expect(note.contains("balances equal the recomputed ones"), "\(note)")

        try Self.tamperWithBobsBalance(copy)
        let last = try RawJournal(copy.path).lastSequence()
        let bad = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(bad.status == 29, "\(bad.summary)")
        #expect(bad.failureKind == "projection-mismatch")
        #expect(bad.failureSequence == last)
    }

    @Test("verify audits customer service's queues against the postings: a settled funding put back in the queue is found (exit 29)")
    func verifyComparesQueues() async throws {
        let copy = try await Self.copyWithProjections()
        let good = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(good.status == 0, "\(good.summary)")

        // Alice's cheque was cleared: put it back in the queue of pending funds.
        let environment = try Environment.open(at: Projections.path(in: copy.path))
        let slot = try environment.database(named: "slot0")
        let key = Array("open/funds".utf8) + [0] + BigEndian.bytes(UInt64(1))
        try environment.write { try $0.put(slot, key: key, value: Array("check-alice".utf8)) }
        let bad = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(bad.status == 29, "\(bad.summary)")
        #expect(bad.failureKind == "projection-mismatch")
        #expect(bad.summary.contains("check-alice") && bad.summary.contains("cleared"), "\(bad.summary)")
    }

    @Test("read models that lag the journal are compared at the sequence they have folded through")
    func laggingProjections() async throws {
        let copy = try await Self.copyWithProjections(through: 40)
        let run = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(run.status == 0, "\(run.summary)")
        let note = (run.json["audit"] as? [String: Any])?["projections"] as? String ?? ""
        #expect(note.contains("at sequence 40"), "\(note)")
    }

    @Test("rebuild folds a new version beside the live one and swaps it in, also while the journal is open elsewhere")
    func rebuild() async throws {
        let copy = try await Self.copyWithProjections()
        let run = try ToolRun.run(["rebuild", "--data", copy.path, "--json"])
        #expect(run.status == 0, "\(run.summary)")
        #expect(ToolRun.integer(run.json["version"]) == 2)
        let last = try RawJournal(copy.path).lastSequence()
        #expect(ToolRun.integer(run.json["sequence"]) == Int(last))
        // The rebuild is synced before it is reported, and the tool's marker of unsynced writes
        // is gone; only this process's (which folded the copy) is left.
        let projections = Projections.path(in: copy.path)
        let markers = FileSystem.contents(of: projections).filter { $0.hasPrefix("unsynced-") }
        #expect(markers.count == 1)
        for name in markers {
            let text = try String(contentsOfFile: projections + "/" + name, encoding: .utf8)
            #expect(text.contains("\npid \(getpid())\n"), "\(name): \(text)")
        }
        let verify = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(verify.status == 0, "\(verify.summary)")

        // A live writer appends while the journal is open in this process; rebuild still works.
        let (journal, ledger) = try LedgerJournal.open(copy.path)
        _ = try await ledger.execute(.openAccount(user: "erin", channel: .providerSite))
        let beside = try ToolRun.run(["rebuild", "--data", copy.path, "--json"])
        journal.close()
        #expect(beside.status == 0, "\(beside.summary)")
        #expect(ToolRun.integer(beside.json["version"]) == 3)
        #expect(ToolRun.integer(beside.json["sequence"]) == Int(last) + 1)
    }

    @Test("read models a system crash may have torn: verify and replay --compare-live leave them alone and say why; rebuild folds them again")
    func tornReadModels() async throws {
        let copy = try await Self.copyWithProjections()
        let projections = Projections.path(in: copy.path)
        try Data("tally-projections-unsynced/1\nboot an-earlier-boot\npid 1\n".utf8)
            .write(to: URL(fileURLWithPath: projections + "/unsynced-1-0"))

        let verify = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(verify.status == 0, "\(verify.summary)")
        let note = (verify.json["audit"] as? [String: Any])?["projections"] as? String ?? ""
        #expect(note.hasPrefix("not compared: they may be torn by a system crash"), "\(note)")
        #expect(note.contains("an-earlier-boot"), "\(note)")
        let replay = try ToolRun.run(["replay", "--data", copy.path, "--into", copy.path + "/replayed", "--compare-live"])
        #expect(replay.status == 0, "\(replay.summary)")
        #expect(replay.output.contains("live read models not compared: they may be torn"), "\(replay.output)")
        #expect(!FileSystem.exists(projections + ".torn"))
        #expect(FileSystem.exists(projections + "/unsynced-1-0"))

        let rebuild = try ToolRun.run(["rebuild", "--data", copy.path, "--json"])
        #expect(rebuild.status == 0, "\(rebuild.summary)")
        #expect(FileSystem.exists(projections + ".torn/unsynced-1-0"))
        #expect(ToolRun.integer(rebuild.json["sequence"]) == Int(try RawJournal(copy.path).lastSequence()))
        let after = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        let compared = (after.json["audit"] as? [String: Any])?["projections"] as? String ?? ""
        #expect(compared.contains("balances equal the recomputed ones"), "\(compared)")
    }

    @Test("replay --compare-live names the dump line where tampered live read models differ (exit 28), and leaves lagging ones alone")
    func replayFindsTamperedProjections() async throws {
        let copy = try await Self.copyWithProjections()
        try Self.tamperWithBobsBalance(copy)
        let root = TemporaryDirectory()
        let run = try ToolRun.run(["replay", "--data", copy.path, "--into", root.path + "/models", "--compare-live", "--json"])
        #expect(run.status == 28, "\(run.summary)")
        let comparison = run.json["liveComparison"] as? String ?? ""
        #expect(comparison.contains("write model equal") && comparison.contains("read models differ at dump line"), "\(comparison)")
        #expect(comparison.contains("bal/wallet:bob:USD"), "\(comparison)")

        let lagging = try await Self.copyWithProjections(through: 40)
        let partial = try ToolRun.run(["replay", "--data", lagging.path, "--into", root.path + "/lagging", "--compare-live", "--json"])
        #expect(partial.status == 0, "\(partial.summary)")
        #expect((partial.json["liveComparison"] as? String)?.contains("read models not compared: the live ones have folded through 40") == true)
    }

    @Test("replay --compare-live does not take an older build's write model for a damaged one: it says which layouts, and exits 0")
    func replayOlderLayout() async throws {
        let copy = try await Self.copyWithProjections()
        let storage = try LMDBJournalStorage.open(at: Journal.journalPath(in: copy.path), create: false)
        #expect(try Ledger.writeModelLayout(storage) == Ledger.writeModelVersion, "the fixture's ledger marked its journal")
        try storage.write { try $0.setMetadata("write-model-version", Array("1".utf8)) }
        let root = TemporaryDirectory()
        let run = try ToolRun.run(["replay", "--data", copy.path, "--into", root.path + "/models", "--compare-live", "--json"])
        #expect(run.status == 0, "\(run.summary)")
        let comparison = run.json["liveComparison"] as? String ?? ""
        #expect(comparison.contains("write model not compared: it has layout 1"), "\(comparison)")
        #expect(comparison.contains("read models equal"), "\(comparison)")
    }

    @Test("replay folds fresh read models whose canonical dump equals the live ones'")
    func replayProjections() async throws {
        let copy = try await Self.copyWithProjections()
        let root = TemporaryDirectory()
        let run = try ToolRun.run(["replay", "--data", copy.path, "--into", root.path + "/models", "--compare-live", "--json"])
        #expect(run.status == 0, "\(run.summary)")
        #expect((run.json["liveComparison"] as? String)?.contains("read models equal") == true, "\(run.summary)")
        #expect(FileManager.default.fileExists(atPath: root.path + "/models/projections/data.mdb"))
        let live = try Projections.open(
            directory: Projections.path(in: copy.path),
            journal: try LMDBJournalStorage.open(at: Journal.journalPath(in: copy.path), create: false, readOnly: true))
        let dump = try ToolRun.run(["replay", "--data", copy.path, "--into", root.path + "/dump", "--dump"])
        #expect(dump.status == 0)
        #expect(dump.output.contains(try live.canonicalDump()))
    }
}

/// A journal storage that shows only the events up to `last` (to fold a prefix).
final class PrefixStorage: JournalStorage, @unchecked Sendable {
    let base: any JournalStorage
    let last: UInt64

    init(base: any JournalStorage, last: UInt64) {
        self.base = base
        self.last = last
    }

    var location: String { base.location }

    func read<R>(_ body: (any JournalStorageReader) throws -> R) throws -> R {
        try base.read { try body(Reader(base: $0, last: last)) }
    }

    func write<R>(_ body: (any JournalStorageWriter) throws -> R) throws -> R { try base.write(body) }
    func clearStaleReaders() throws -> Int { 0 }

    struct Reader: JournalStorageReader {
        let base: any JournalStorageReader
        let last: UInt64

        func lastEventSequence() throws -> UInt64? { try base.lastEventSequence().map { min($0, last) } }
        func withEventRecord<R>(at sequence: UInt64, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
            sequence > last ? try body(nil) : try base.withEventRecord(at: sequence, body)
        }
        func forEachEventRecord(from sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
            try base.forEachEventRecord(from: sequence) { key, record in key <= last ? try body(key, record) : false }
        }
        func blockRecord(endingAtOrAfter sequence: UInt64) throws -> (key: UInt64, bytes: [UInt8])? {
            try base.blockRecord(endingAtOrAfter: sequence)
        }
        func forEachBlockRecord(endingAtOrAfter sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
            try base.forEachBlockRecord(endingAtOrAfter: sequence, body)
        }
        func lastBlockRecord() throws -> (key: UInt64, bytes: [UInt8])? { try base.lastBlockRecord() }
        func keyRecords() throws -> [(keyID: UInt64, bytes: [UInt8])] { try base.keyRecords() }
        func metadata(_ name: String) throws -> [UInt8]? { try base.metadata(name) }
        func state(_ key: [UInt8]) throws -> [UInt8]? { try base.state(key) }
        func forEachState(_ body: ([UInt8], [UInt8]) throws -> Bool) throws { try base.forEachState(body) }
    }
}
