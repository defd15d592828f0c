import Foundation
import Journal
import TallyTestSupport
import Testing

@Suite("journal-tool keys", .serialized)
struct KeysCommandTests {
    /// `keys generate --json` in a new data directory: the directory (removed when released),
    /// the data directory's path, the run and the key id.
    static func generated() throws -> (TemporaryDirectory, String, ToolRun, String) {
        let root = TemporaryDirectory()
        let data = root.path + "/data"
        let run = try ToolRun.run(["keys", "generate", "--data", data, "--json"])
        #expect(run.status == 0, "\(run.summary)")
        return (root, data, run, try #require(run.json["keyID"] as? String))
    }

    @Test("keys generate writes a 0600 signing key the first start then uses, and refuses a second one")
    func generate() async throws {
        let (root, data, run, keyID) = try Self.generated()
        defer { withExtendedLifetime(root) {} }
        let privatePath = try #require(run.json["privateKeyFile"] as? String)
        let mode = try FileManager.default.attributesOfItem(atPath: privatePath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(FileManager.default.fileExists(atPath: data + "/keys/journal-\(keyID).pub.pem"))

        let (journal, ledger) = try LedgerJournal.open(data)
        _ = try await ledger.execute(.openAccount(user: "alice", channel: .providerSite))
        journal.close()
        #expect(try journal.keyRecords().map(\.keyID.hex) == [keyID])

        let again = try ToolRun.run(["keys", "generate", "--data", data])
        #expect(again.status == 2, "\(again.summary)")
        #expect(again.errors.contains("already"))
    }

    @Test("keys list right after keys generate lists the generated key files, with no journal yet")
    func listBeforeFirstStart() async throws {
        let (root, data, _, keyID) = try Self.generated()

        let listed = try ToolRun.run(["keys", "list", "--data", data, "--json"])
        #expect(listed.status == 0, "\(listed.summary)")
        #expect(listed.json["journal"] is NSNull)
        #expect((listed.json["records"] as? [Any])?.isEmpty == true)
        let files = listed.json["files"] as? [[String: Any]] ?? []
        #expect(files.contains { $0["role"] as? String == "public-key" && $0["keyIDOfContents"] as? String == keyID }, "\(listed.summary)")
        #expect(files.contains { $0["role"] as? String == "signing-key" && $0["keyIDFromName"] as? String == keyID }, "\(listed.summary)")

        let text = try ToolRun.run(["keys", "list", "--data", data])
        #expect(text.status == 0, "\(text.summary)")
        #expect(text.output.contains("journal-\(keyID).pub.pem"), "\(text.summary)")
        #expect(text.output.contains("does not exist yet"), "\(text.summary)")
        #expect(!FileManager.default.fileExists(atPath: data + "/journal"), "listing creates no journal")

        let missing = try ToolRun.run(["keys", "list", "--data", root.path + "/none"])
        #expect(missing.status == 2, "\(missing.summary)")
    }

    @Test("keys rotate records a new key endorsed by the old one; old public keys stay listed; verify accepts it")
    func rotate() async throws {
        let copy = try DataCopy(of: try await Fixtures.shared.smallJournal())
        let before = try ToolRun.run(["keys", "list", "--data", copy.path, "--json"])
        let firstKey = try #require(((before.json["records"] as? [[String: Any]])?.first)?["keyID"] as? String)

        let rotated = try ToolRun.run(["keys", "rotate", "--data", copy.path, "--json"])
        #expect(rotated.status == 0, "\(rotated.summary)")
        #expect(rotated.json["previousKeyID"] as? String == firstKey)
        let newKey = try #require(rotated.json["keyID"] as? String)
        #expect(newKey != firstKey)

        let after = try ToolRun.run(["keys", "list", "--data", copy.path, "--json"])
        let listed = (after.json["records"] as? [[String: Any]] ?? []).compactMap { $0["keyID"] as? String }
        #expect(listed == [firstKey, newKey])
        let keyFiles = try FileManager.default.contentsOfDirectory(atPath: copy.path + "/keys")
        #expect(keyFiles.contains("journal-\(firstKey).pub.pem"))
        #expect(keyFiles.contains("journal-signing-\(newKey).pem"))
        #expect(!keyFiles.contains("journal-signing-\(firstKey).pem"))

        // The journal keeps working under the new key; trusting only the first key accepts it.
        let (journal, ledger) = try LedgerJournal.open(copy.path)
        _ = try await ledger.execute(.openAccount(user: "dave", channel: .providerSite))
        journal.close()
        let verify = try ToolRun.run([
            "verify", "--data", copy.path, "--public-key", copy.path + "/keys/journal-\(firstKey).pub.pem", "--json",
        ])
        #expect(verify.status == 0, "\(verify.summary)")
    }

    @Test("keys rotate is refused with exit 3 while another process has the journal open")
    func rotateRefusedWhileOpen() async throws {
        let copy = try DataCopy(of: try await Fixtures.shared.smallJournal())
        let (journal, _) = try LedgerJournal.open(copy.path)
        let refused = try ToolRun.run(["keys", "rotate", "--data", copy.path])
        journal.close()
        #expect(refused.status == 3, "\(refused.summary)")
        #expect(refused.errors.contains("is open in process \(getpid())"))
        let records = try ToolRun.run(["keys", "list", "--data", copy.path, "--json"]).json["records"] as? [Any]
        #expect(records?.count == 1)
    }
}
