import Foundation
import LMDB
import Projections
import TallyCrypto
import TallyTestSupport
import Testing

/// The commands that only read a data directory leave every byte of it as it was: read-only
/// LMDB opens (`MDB_RDONLY`), no marker files, no set-aside read models. Checked by content and
/// modification time, which holds as root too (where `chmod a-w` would not bite). LMDB's own
/// lock files (`lock.mdb`) are the one thing a reader writes, as a live writer needs them.
@Suite("journal-tool's read-only commands", .serialized)
struct ReadOnlyToolTests {
    /// Every file under `root` but LMDB's lock files: size, modification time and SHA-256;
    /// lock files by name only (they may not appear or disappear).
    static func state(of root: String) throws -> [String: String] {
        var files: [String: String] = [:]
        let enumerator = try #require(FileManager.default.enumerator(atPath: root))
        while let relative = enumerator.nextObject() as? String {
            let path = root + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0 else { throw RawJournalError("cannot stat \(path)") }
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                files[relative] = "directory or other, mode \(String(info.st_mode, radix: 8))"
                continue
            }
            if relative.hasSuffix("lock.mdb") {
                files[relative] = "lock file"
                continue
            }
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            files[relative] = "\(info.st_size) bytes, mtime \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec), sha256 \(SHA256.hash(bytes).hex)"
        }
        return files
    }

    static func expectUnchanged(_ before: [String: String], _ after: [String: String], _ what: String) {
        for key in Set(before.keys).union(after.keys).sorted() where before[key] != after[key] {
            Issue.record("\(what) changed \(key): \(before[key] ?? "absent") -> \(after[key] ?? "absent")")
        }
    }

    @Test("verify, inspect, keys list, receipt get, export and replay --compare-live write nothing in the data directory")
    func readersWriteNothing() async throws {
        let copy = try await ProjectionToolTests.copyWithProjections()
        let outside = TemporaryDirectory()
        let before = try Self.state(of: copy.path)
        #expect(before.keys.contains("projections/data.mdb"))

        let verify = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(verify.status == 0, "\(verify.summary)")
        let note = (verify.json["audit"] as? [String: Any])?["projections"] as? String ?? ""
        #expect(note.contains("balances equal the recomputed ones"), "verify did compare the read models: \(note)")
        Self.expectUnchanged(before, try Self.state(of: copy.path), "verify")

        let others: [[String]] = [
            ["inspect", "--data", copy.path, "head"], ["keys", "list", "--data", copy.path], ["receipt", "get", "--data", copy.path, "5"],
            ["export", "--data", copy.path, "--out", outside.path + "/export"],
            ["replay", "--data", copy.path, "--into", outside.path + "/replayed", "--compare-live"],
        ]
        for command in others {
            let run = try ToolRun.run(command)
            #expect(run.status == 0, "\(command): \(run.summary)")
            Self.expectUnchanged(before, try Self.state(of: copy.path), command.joined(separator: " "))
        }
    }

    @Test("read models of another schema are not compared, and verify leaves them as they are (a read-write open would reset them)")
    func otherSchemaLeftAlone() async throws {
        let copy = try await ProjectionToolTests.copyWithProjections()
        do {
            let environment = try Environment.open(at: Projections.path(in: copy.path))
            let slot = try environment.database(named: "slot0")
            try environment.write { try $0.put(slot, key: Array("schema".utf8), value: withUnsafeBytes(of: UInt64(2).bigEndian) { Array($0) }) }
        }
        let before = try Self.state(of: copy.path)
        let run = try ToolRun.run(["verify", "--data", copy.path, "--json"])
        #expect(run.status == 0, "\(run.summary)")
        let note = (run.json["audit"] as? [String: Any])?["projections"] as? String ?? ""
        #expect(note.contains("not compared: they have schema 2"), "\(note)")
        Self.expectUnchanged(before, try Self.state(of: copy.path), "verify")
    }

    /// The tool run as a user without write access to what root's tests create: nobody, through
    /// setpriv, when the tests run as root (where permissions do not bite); else this user.
    static let asOtherUser: [String]? = {
        guard getuid() == 0 else { return [ToolRun.toolPath] }
        let command = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ToolRun.toolPath]
        guard FileManager.default.isExecutableFile(atPath: command[0]),
              let help = try? ChildRun.run(command[0], Array(command.dropFirst()) + ["--help"]), help.status == 0
        else { return nil }
        return command
    }()

    static func runAsOtherUser(_ arguments: [String]) throws -> ChildRun {
        let command = try #require(asOtherUser)
        return try ChildRun.run(command[0], Array(command.dropFirst()) + arguments)
    }

    static func chmod(_ arguments: [String]) throws {
        let run = try ChildRun.run("/bin/chmod", arguments)
        #expect(run.status == 0, "chmod \(arguments): \(run.errors)")
    }

    @Test("verify works on a copy whose every file is read-only but LMDB's lock files; without a writable lock file it says so",
          .enabled(if: asOtherUser != nil, "needs a user without write access (setpriv, when running as root)"))
    func verifyOnReadOnlyCopy() async throws {
        let copy = try await ProjectionToolTests.copyWithProjections()
        try Self.chmod(["0755", copy.root.path])
        try Self.chmod(["-R", "a+rX,a-w", copy.path])
        defer { try? Self.chmod(["-R", "u+w", copy.path]) }
        let locks = [copy.path + "/journal/lock.mdb", copy.path + "/projections/lock.mdb"]
        try Self.chmod(["0666"] + locks)

        let run = try Self.runAsOtherUser(["verify", "--data", copy.path, "--json"])
        #expect(run.status == 0, "\(run.output)\n\(run.errors)")
        let json = (try? JSONSerialization.jsonObject(with: Data(run.output.utf8))) as? [String: Any] ?? [:]
        let note = (json["audit"] as? [String: Any])?["projections"] as? String ?? ""
        #expect(note.contains("balances equal the recomputed ones"), "the read models were compared: \(note)")

        // LMDB writes its lock file even to read: without write access to it, verify says so.
        try Self.chmod(["0444", locks[0]])
        let refused = try Self.runAsOtherUser(["verify", "--data", copy.path])
        #expect(refused.status == 2, "\(refused.errors)")
        #expect(refused.errors.contains("write access to \(copy.path)/journal/lock.mdb"), "\(refused.errors)")
    }
}
