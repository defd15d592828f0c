import Foundation
import Journal
import Ledger
import TallyCrypto
import TallyTestSupport
import Testing

@Suite("journal-tool replay", .serialized)
struct ReplayTests {
    @Test("replay folds the journal into a fresh write model equal, entry for entry, to the live one")
    func replayEqualsLive() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let root = TemporaryDirectory()
        let run = try ToolRun.run(["replay", "--data", data, "--into", root.path + "/models", "--compare-live", "--dump"])
        #expect(run.status == 0, "\(run.summary)")
        #expect(FileManager.default.fileExists(atPath: root.path + "/models/write-model/data.mdb"))

        // The dump against the live write model, read here through the ledger.
        let (journal, ledger) = try LedgerJournal.open(data)
        let live = try ledger.writeModel()
        let aliceUSD = try ledger.balance(.wallet(user: "alice", currency: .usd))
        journal.close()
        let all = run.output.split(separator: "\n").map(String.init)
        #expect(all.first?.hasPrefix("# tally canonical dump v1: write-model") == true)
        // The write model's dump, up to the read models' own dump that follows it.
        let lines = Array(all.prefix { !$0.hasPrefix("# tally canonical dump v1: read models") })
        #expect(lines.count < all.count, "the read models' dump follows")
        #expect(lines.count == live.count + 1)
        #expect(lines.contains("bal/wallet:alice:USD\t\(aliceUSD)"))
        let keys = lines.dropFirst().map { String($0.split(separator: "\t", maxSplits: 1)[0]) }
        #expect(keys == live.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        for line in lines.dropFirst() where !line.hasPrefix("bal/") {
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            // Records are text (JSON) or, when not text, `hex:` and their bytes.
            let bytes = parts[1].hasPrefix("hex:") ? Hex.decode(String(parts[1].dropFirst(4))) : Array(parts[1].utf8)
            #expect(bytes == live[parts[0]], "\(parts[0])")
        }

        let balances = try ToolRun.run(["replay", "--data", data, "--into", root.path + "/balances"])
        #expect(balances.status == 0)
        #expect(balances.output.contains("wallet:alice:USD"))
    }

    @Test("replay without --write-model folds only the read models; their balances are the write model's")
    func replayReadModelsOnly() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let root = TemporaryDirectory()
        let run = try ToolRun.run(["replay", "--data", data, "--into", root.path + "/models", "--json"])
        #expect(run.status == 0, "\(run.summary)")
        #expect(FileManager.default.fileExists(atPath: root.path + "/models/projections/data.mdb"))
        #expect(!FileManager.default.fileExists(atPath: root.path + "/models/write-model"))
        #expect(run.json["writeModel"] == nil && run.json["dumpSHA256"] == nil && run.json["projectionsDumpSHA256"] == nil)

        let (journal, ledger) = try LedgerJournal.open(data)
        let live = try ledger.writeModel()
        journal.close()
        let balances = try #require(run.json["balances"] as? [String: Any])
        let liveBalances = live.filter { $0.key.hasPrefix("bal/") }
        #expect(!liveBalances.isEmpty)
        #expect(balances.count == liveBalances.count)
        for (key, value) in liveBalances {
            let expected = value.reduce(Int64(0)) { $0 << 8 | Int64($1) }
            #expect(ToolRun.integer(balances[String(key.dropFirst(4))]).map(Int64.init) == expected, "\(key)")
        }

        // --digest is the SHA-256 of the dump --dump prints after its header line, and one more
        // newline (`Projections.canonicalDumpDigest`).
        let digested = try ToolRun.run(["replay", "--data", data, "--into", root.path + "/digested", "--digest", "--json"])
        let dump = try ToolRun.run(["replay", "--data", data, "--into", root.path + "/dumped", "--dump"])
        #expect(digested.status == 0 && dump.status == 0)
        let header = "# tally canonical dump v1: read models (Projections.canonicalDump)\n"
        #expect(dump.output.hasPrefix(header), "only the read models' dump without --write-model")
        let readModels = Array(dump.output.utf8.dropFirst(header.utf8.count))
        #expect(digested.json["projectionsDumpSHA256"] as? String == SHA256.hash(readModels + [0x0A]).hex)
    }

    @Test("replay --compare-live names the entry where a tampered live write model differs (exit 28)")
    func compareLiveFindsTamper() async throws {
        let copy = try DataCopy(of: try await Fixtures.shared.smallJournal())
        try RawJournal(copy.path).setState("user/alice", Array("{}".utf8))
        let root = TemporaryDirectory()
        let run = try ToolRun.run(["replay", "--data", copy.path, "--into", root.path + "/models", "--compare-live", "--json"])
        #expect(run.status == 28, "\(run.summary)")
        #expect(run.failureKind == "write-model-mismatch")
        #expect(((run.json["failure"] as? [String: Any])?["message"] as? String)?.contains("user/alice") == true)
    }

    @Test("replay of a journal missing an event exits 11 gap naming that event, and leaves nothing in OUT")
    func missingEvent() async throws {
        let copy = try DataCopy(of: try await Fixtures.shared.smallJournal())
        let missing = try RawJournal(copy.path).lastSequence() / 2
        try RawJournal(copy.path).deleteRecord(missing)
        let root = TemporaryDirectory()
        for extra in [[], ["--write-model"]] {
            let out = root.path + "/models\(extra.count)"
            let run = try ToolRun.run(["replay", "--data", copy.path, "--into", out, "--json"] + extra)
            #expect(run.status == 11, "\(extra): \(run.summary)")
            #expect(run.failureKind == "gap", "\(extra): \(run.summary)")
            #expect(run.failureSequence == missing, "\(extra): \(run.summary)")
            #expect(!FileManager.default.fileExists(atPath: out), "a replay that does not fold leaves no OUT: \(extra)")
        }
        // An OUT that existed (empty) stays, empty.
        let existing = root.path + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: false)
        let run = try ToolRun.run(["replay", "--data", copy.path, "--into", existing])
        #expect(run.status == 11, "\(run.summary)")
        #expect(run.errors.contains("event \(missing) is missing"), "\(run.summary)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: existing).isEmpty)
    }

    @Test("replay of an event that does not decode exits 24 undecodable-event naming it, and leaves nothing in OUT")
    func undecodableEvent() async throws {
        let copy = try DataCopy(of: try await Fixtures.shared.smallJournal())
        let raw = try RawJournal(copy.path)
        let sequence = try raw.lastSequence() / 2
        try raw.reseal(sequence, payload: Array("{not json".utf8))
        let root = TemporaryDirectory()
        let out = root.path + "/models"
        let run = try ToolRun.run(["replay", "--data", copy.path, "--into", out, "--json"])
        #expect(run.status == 24, "\(run.summary)")
        #expect(run.failureKind == "undecodable-event", "\(run.summary)")
        #expect(run.failureSequence == sequence, "\(run.summary)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("replay refuses a target directory that is not empty")
    func refusesNonEmptyTarget() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let run = try ToolRun.run(["replay", "--data", data, "--into", data])
        #expect(run.status == 2, "\(run.summary)")
    }
}
