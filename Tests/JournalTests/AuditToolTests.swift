import Foundation
import TallyTestSupport
import Testing
@testable import Journal

/// What an auditor runs: `journal-tool verify` and the stock-tools script of Schemas/journal.md.
@Suite("Audit tools", .serialized)
struct AuditToolTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static var journalToolPath: String { BuiltProduct.path("journal-tool") }

    /// Runs a program and returns its exit status and standard output.
    static func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("the by-hand script (mdb_dump, xxd, sha256sum, openssl) accepts a good journal and names a tampered event")
    func auditByHand() async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 2, perBlock: 5)
        let script = Self.repositoryRoot + "/scripts/audit-by-hand.sh"
        let (good, goodOutput) = try Self.run("/bin/bash", [script, directory.path])
        #expect(good == 0, "\(goodOutput)")
        var record = try RawJournal(directory.path).record(3)!
        record[record.count - 1] ^= 0x01
        try RawJournal(directory.path).setRecord(3, record)
        let (bad, badOutput) = try Self.run("/bin/bash", [script, directory.path])
        #expect(bad == 1, "\(badOutput)")
        #expect(badOutput.contains("MISMATCH"))
    }

    @Test("journal-tool verify exits 0 on a good journal and with the failure's own code on a tampered one")
    func journalToolVerify() async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 3, perBlock: 4)
        let (good, goodOutput) = try Self.run(Self.journalToolPath, ["verify", "--data", directory.path, "--json"])
        #expect(good == 0, "\(goodOutput)")
        #expect(goodOutput.contains("\"valid\""))
        try RawJournal(directory.path).deleteRecord(6)
        let (bad, badOutput) = try Self.run(Self.journalToolPath, ["verify", "--data", directory.path])
        // Exit codes 10... follow VerificationFailure.Kind's order (documented in journal.md §9).
        #expect(bad == 11, "\(badOutput)")
        #expect(badOutput.contains("6"))
        let (missing, _) = try Self.run(Self.journalToolPath, ["verify", "--data", directory.path + "/nothing"])
        #expect(missing == 2)
    }
}
