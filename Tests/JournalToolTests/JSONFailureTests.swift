import Foundation
import TallyTestSupport
import Testing

@Suite("journal-tool --json on failures", .serialized)
struct JSONFailureTests {
    /// The one object every failure prints under --json: valid false, the exit code, and the
    /// failure's kind, exit code, sequence (or null) and message.
    static func expectFailureObject(_ run: ToolRun, exit: Int32, kind: String, says: String, _ what: String) {
        #expect(run.status == exit, "\(what): \(run.summary)")
        #expect(run.json["valid"] as? Bool == false, "\(what): \(run.summary)")
        #expect(ToolRun.integer(run.json["exitCode"]) == Int(exit), "\(what): \(run.summary)")
        let failure = run.json["failure"] as? [String: Any] ?? [:]
        #expect(failure["kind"] as? String == kind, "\(what): \(run.summary)")
        #expect(ToolRun.integer(failure["exitCode"]) == Int(exit), "\(what): \(run.summary)")
        #expect(failure.keys.contains("sequence"), "\(what): \(run.summary)")
        #expect((failure["message"] as? String)?.contains(says) == true, "\(what): \(run.summary)")
    }

    @Test("every command with --json prints one failure object when the data directory does not exist (exit 2)")
    func missingDataDirectory() async throws {
        let root = TemporaryDirectory()
        let missing = root.path + "/missing"
        let commands: [[String]] = [
            ["verify", "--data", missing], ["inspect", "--data", missing, "head"], ["keys", "list", "--data", missing],
            ["keys", "rotate", "--data", missing], ["replay", "--data", missing, "--into", root.path + "/out"],
            ["rebuild", "--data", missing], ["export", "--data", missing, "--out", root.path + "/export"],
            ["import", missing, "--data", root.path + "/imported"],
        ]
        for command in commands {
            let run = try ToolRun.run(command + ["--json"])
            if command[0] == "import" {
                // A missing export is a refusal the import reports in its own object.
                Self.expectFailureObject(run, exit: 30, kind: "bad-manifest", says: "manifest.json", command.joined(separator: " "))
            } else {
                Self.expectFailureObject(run, exit: 2, kind: "unreadable-input", says: missing, command.joined(separator: " "))
                #expect(run.errors.contains(missing), "stderr keeps the human line: \(run.summary)")
            }
            let human = try ToolRun.run(command)
            #expect(human.status == run.status && human.json.isEmpty, "without --json no JSON: \(human.summary)")
        }
    }

    @Test("usage errors, damaged input and missing items under --json: verify, inspect, receipt verify, import, keys generate")
    func otherFailures() async throws {
        let data = try await Fixtures.shared.smallJournal()
        let root = TemporaryDirectory()
        Self.expectFailureObject(
            try ToolRun.run(["verify", "--data", data, "--from", "999999", "--json"]), exit: 2, kind: "usage", says: "past the end",
            "verify --from past the end")
        Self.expectFailureObject(
            try ToolRun.run(["verify", "--data", data, "--from", "0", "--json"]), exit: 2, kind: "usage", says: "--from must be at least 1",
            "verify --from 0 (an argument error)")
        Self.expectFailureObject(
            try ToolRun.run(["verify", "--data", data, "--public-key", root.path + "/none.pem", "--json"]), exit: 2,
            kind: "unreadable-input", says: "cannot read the public key file", "verify with an unreadable key")
        Self.expectFailureObject(
            try ToolRun.run(["inspect", "--data", data, "event", "999999", "--json"]), exit: 1, kind: "not-found", says: "no event 999999",
            "inspect a missing event")

        let damaged = try DataCopy(of: data)
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: damaged.path + "/journal/data.mdb"))
        Self.expectFailureObject(
            try ToolRun.run(["inspect", "--data", damaged.path, "head", "--json"]), exit: 2, kind: "unreadable-input", says: "data.mdb",
            "inspect a damaged data.mdb")

        let notReceipt = root.path + "/receipt.json"
        try Data("not json".utf8).write(to: URL(fileURLWithPath: notReceipt))
        let publicKey = try FileManager.default.contentsOfDirectory(atPath: data + "/keys").first { $0.hasSuffix(".pub.pem") }!
        Self.expectFailureObject(
            try ToolRun.run(["receipt", "verify", notReceipt, "--public-key", data + "/keys/" + publicKey, "--json"]), exit: 2,
            kind: "unreadable-input", says: "not a Tally receipt", "receipt verify of a file that is not JSON")

        let export = try ExportImportTests.export(data, into: root)
        Self.expectFailureObject(
            try ToolRun.run(["import", export, "--data", data, "--json"]), exit: 2, kind: "usage", says: "not an empty directory",
            "import into a data directory in use")
        Self.expectFailureObject(
            try ToolRun.run(["keys", "generate", "--data", data, "--json"]), exit: 2, kind: "usage", says: "already has a journal",
            "keys generate over a journal")
    }
}
