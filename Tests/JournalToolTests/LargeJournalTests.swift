import Foundation
import Journal
import TallyTestSupport
import Testing

@Suite("journal-tool on a large journal", .serialized)
struct LargeJournalTests {
    @Test("a 50,000-event ledger journal verifies in full, and exports and imports to the same head")
    func largeJournal() async throws {
        let data = try await Fixtures.shared.largeJournal()
        let verify = try ToolRun.run(["verify", "--data", data, "--json"])
        #expect(verify.status == 0, "\(verify.summary)")
        let events = (verify.json["eventsVerified"] as? NSNumber)?.intValue ?? 0
        #expect(events >= 50_000)
        let report = (verify.json["audit"] as? [String: Any])?["report"] as? [String: Any]
        #expect((report?["eventsAudited"] as? NSNumber)?.intValue == events)
        #expect(((report?["settlements"] as? NSNumber)?.intValue ?? 0) >= 15)

        let root = TemporaryDirectory()
        let export = try ToolRun.run(["export", "--data", data, "--out", root.path + "/export", "--segment-kib", "2048", "--json"])
        #expect(export.status == 0, "\(export.summary)")
        #expect(((export.json["segments"] as? [Any])?.count ?? 0) >= 4)
        let imported = try ToolRun.run(["import", root.path + "/export", "--data", root.path + "/imported", "--no-write-model", "--json"])
        #expect(imported.status == 0, "\(imported.summary)")
        #expect(imported.json["head"] as? String == verify.json["head"] as? String)
        let chain = try ToolRun.run(["verify", "--data", root.path + "/imported", "--audit", "chain", "--json"])
        #expect(chain.status == 0, "\(chain.summary)")
        #expect(chain.json["head"] as? String == verify.json["head"] as? String)
    }

    @Test("verify splits a long range over two cores and still names the first bad sequence in either half",
          arguments: [UInt64(4_321), 31_234, 47_000])
    func tamperedLargeJournal(_ sequence: UInt64) async throws {
        let copy = try DataCopy(of: try await Fixtures.shared.largeJournal())
        let raw = try RawJournal(copy.path)
        var record = try #require(try raw.record(sequence))
        record[record.count - 3] ^= 0x01
        try raw.setRecord(sequence, record)
        // A second change later on must not hide the first one.
        var later = try #require(try raw.record(sequence + 1_500))
        later[later.count - 3] ^= 0x01
        try raw.setRecord(sequence + 1_500, later)
        let run = try ToolRun.run(["verify", "--data", copy.path, "--audit", "chain", "--json"])
        #expect(run.status == 12, "\(run.summary)")
        #expect(run.failureKind == "event-hash-mismatch")
        #expect(run.failureSequence == sequence, "\(run.summary)")
    }
}
