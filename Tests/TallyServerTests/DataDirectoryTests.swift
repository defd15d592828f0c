import Foundation
import Journal
import Ledger
import Logging
import TallyTestSupport
import Testing
@testable import TallyServer

/// A data directory whose journal holds events is refused, before anything in it is written,
/// when a file written with those events is missing or a key file is not what it should be.
@Suite("Data directory: what a start refuses")
struct DataDirectoryTests {
    static func configuration(_ directory: String) -> TallyServer.Configuration {
        var configuration = TallyServer.Configuration(dataDirectory: directory)
        configuration.settings.scryptLog2N = 10
        return configuration
    }

    /// Sets up a data directory at `path` whose journal holds events: one account opened with
    /// a login and personal data, so that every store beside the journal has been written.
    static func populated(_ path: String, login: String = "ursula") async throws {
        let api = try TallyServer.openAPI(configuration(path))
        _ = try await UserController.openAccount(
            api: api, login: login, password: "correct horse battery", name: "Name of \(login)", email: "\(login)@example.org",
            channel: .providerSite, referringVendor: nil, representative: nil)
        try api.projections.flush()
        api.journal.close()
    }

    /// Every file's bytes under `directory` but LMDB's lock files (readers may touch them).
    static func contents(_ directory: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let enumerator = try #require(FileManager.default.enumerator(atPath: directory))
        while let relative = enumerator.nextObject() as? String {
            let path = directory + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  !relative.hasSuffix("lock.mdb")
            else { continue }
            result[relative] = try Data(contentsOf: URL(fileURLWithPath: path))
        }
        return result
    }

    @Test("a missing master key, credential store or identity store is refused once the journal holds events; nothing is written")
    func missingCompanions() async throws {
        let root = TemporaryDirectory()
        let original = root.path + "/original"
        try await Self.populated(original)
        for missing in ["server/master.key", "credentials", "identity", "identity-keys"] {
            let copy = root.path + "/without-" + missing.replacingOccurrences(of: "/", with: "-")
            try FileManager.default.copyItem(atPath: original, toPath: copy)
            try FileManager.default.removeItem(atPath: copy + "/" + missing)
            let before = try Self.contents(copy)
            #expect(throws: ServerSecretsError.self, "\(missing)") {
                _ = try TallyServer.openAPI(Self.configuration(copy))
            }
            do {
                _ = try TallyServer.openAPI(Self.configuration(copy))
            } catch let error as ServerSecretsError {
                #expect(error.path == copy + "/" + missing)
                #expect(error.message.contains("missing"), "\(error)")
            }
            #expect(try Self.contents(copy) == before, "a refused start wrote nothing (\(missing))")
        }
        // A new data directory, or one whose journal holds no events yet, is set up as usual.
        let fresh = try TallyServer.openAPI(Self.configuration(root.path + "/fresh"))
        fresh.journal.close()
    }

    @Test("a damaged key file is refused before the journal is opened: the journal is not written")
    func damagedKeyFile() async throws {
        let root = TemporaryDirectory()
        let data = root.path + "/data"
        try await Self.populated(data)
        try Data().write(to: URL(fileURLWithPath: data + "/server/master.key"))
        let before = try Self.contents(data)
        #expect(throws: ServerSecretsError.self) { _ = try TallyServer.openAPI(Self.configuration(data)) }
        #expect(try Self.contents(data) == before)
    }

    @Test("a key file that is a directory or too short is refused with what is wrong, naming the file; a symbolic link to a key is followed")
    func keyFileKinds() async throws {
        let root = TemporaryDirectory()
        let data = root.path + "/data"
        do {
            let api = try TallyServer.openAPI(Self.configuration(data))
            api.journal.close()
        }
        let master = data + "/server/master.key"
        let saved = root.path + "/master.key.saved"
        try FileManager.default.moveItem(atPath: master, toPath: saved)
        // A symbolic link to the key (as secret mounts make) is the key.
        try FileManager.default.createSymbolicLink(atPath: master, withDestinationPath: saved)
        do {
            let api = try TallyServer.openAPI(Self.configuration(data))
            api.journal.close()
        }
        try FileManager.default.removeItem(atPath: master)
        try FileManager.default.createDirectory(atPath: master, withIntermediateDirectories: false)
        do {
            _ = try TallyServer.openAPI(Self.configuration(data))
            Issue.record("a directory was taken for the master key")
        } catch let error as ServerSecretsError {
            #expect(error.path == master)
            #expect(error.message == "is a directory, not a file", "\(error)")
        }
        try FileManager.default.removeItem(atPath: master)
        try FileManager.default.moveItem(atPath: saved, toPath: master)
        let admin = data + "/server/admin.key"
        try Data("adm_12345\n".utf8).write(to: URL(fileURLWithPath: admin))
        do {
            _ = try TallyServer.openAPI(Self.configuration(data))
            Issue.record("a short admin key was accepted")
        } catch let error as ServerSecretsError {
            #expect(error.path == admin, "\(error)")
            #expect(error.message.contains("at least 24 characters"))
        }
    }

    @Test("a damaged page in any store is refused at start, naming the file, before anything is written; the server exits instead of crashing later")
    func damagedPages() async throws {
        let root = TemporaryDirectory()
        let original = root.path + "/original"
        try await Self.populated(original)
        let stores = try FileManager.default.subpathsOfDirectory(atPath: original).filter { $0.hasSuffix("/data.mdb") }.sorted()
        #expect(stores.count >= 5, "journal, read models, credentials, identity and identity keys: \(stores)")
        for store in stores {
            let copy = root.path + "/damaged-" + store.replacingOccurrences(of: "/", with: "-")
            try FileManager.default.copyItem(atPath: original, toPath: copy)
            // The main tree's root, a leaf, marked as a branch: liblmdb would follow its keys
            // as page numbers (it aborted, or read past the file, on the first request that
            // touched it: for the credentials, the first login).
            var pages = try LMDBPages(dataFile: copy + "/" + store)
            #expect(pages.flags(pages.mainRoot) == 0x02, "\(store)")
            pages.setUInt16(LMDBPages.start(pages.mainRoot) + 10, 0x01)
            try pages.write(to: copy + "/" + store)
            let before = try Self.contents(copy)
            do {
                _ = try TallyServer.openAPI(Self.configuration(copy))
                Issue.record("a damaged \(store) was accepted")
            } catch {
                #expect("\(error)".contains(copy + "/" + store) && "\(error)".contains("damaged"), "\(store): \(error)")
            }
            let after = try Self.contents(copy)
            #expect(after == before, "a refused start wrote nothing (\(store)): \(Set(after.keys).union(before.keys).filter { after[$0] != before[$0] }.sorted())")
        }
        // The live server, on the damaged credentials the audit found it crashing on.
        let credentials = root.path + "/damaged-credentials-data.mdb"
        let (process, _, errors) = try ServeProcessTests.start(dataDirectory: credentials)
        process.waitUntilExit()
        errors.collector.waitForEnd()
        #expect(process.terminationReason == .exit && process.terminationStatus == 1, "\(process.terminationReason) \(process.terminationStatus)")
        #expect(errors.current.contains("damaged") && errors.current.contains(credentials + "/credentials/data.mdb"), "\(errors.current)")
    }

    @Test("a credential or identity store from another data directory, or another master key, is refused before anything is written")
    func foreignCompanions() async throws {
        let root = TemporaryDirectory()
        for name in ["mine", "theirs"] {
            try await Self.populated(root.path + "/" + name, login: "user-of-" + name)
        }
        for (swapped, expected) in [("credentials", "belongs to journal"), ("identity", "belongs to journal"),
                                    ("identity-keys", "belongs to journal"), ("server/master.key", "another server/master.key")] {
            let copy = root.path + "/with-their-" + swapped.replacingOccurrences(of: "/", with: "-")
            try FileManager.default.copyItem(atPath: root.path + "/mine", toPath: copy)
            try FileManager.default.removeItem(atPath: copy + "/" + swapped)
            try FileManager.default.copyItem(atPath: root.path + "/theirs/" + swapped, toPath: copy + "/" + swapped)
            let before = try Self.contents(copy)
            do {
                _ = try TallyServer.openAPI(Self.configuration(copy))
                Issue.record("a foreign \(swapped) was accepted")
            } catch let error as ServerSecretsError {
                let store = swapped == "server/master.key" ? "credentials" : swapped
                #expect(error.path == copy + "/" + store, "\(error)")
                #expect(error.message.contains(expected), "\(error)")
            }
            #expect(try Self.contents(copy) == before, "a refused start wrote nothing (\(swapped))")
        }
        // The directory's own stores still open, again and again.
        for _ in 0..<2 {
            let api = try TallyServer.openAPI(Self.configuration(root.path + "/mine"))
            api.journal.close()
        }
    }

    @Test("a write-model balance changed at rest is found after the start, and the journal then takes no appends")
    func damagedBalance() async throws {
        let root = TemporaryDirectory()
        let data = root.path + "/data"
        let api = try TallyServer.openAPI(Self.configuration(data))
        defer { api.journal.close() }
        _ = try await api.ledger.execute(.openAccount(user: "u1", channel: .providerSite))
        _ = try await api.ledger.execute(.openWallet(user: "u1", currency: .usd))
        _ = try await api.ledger.execute(.addFunds(funding: "f1", user: "u1", currency: .usd, amount: 500, method: .card))
        try JournalScrubService.checkBalances(api.journal, stop: StopFlag(), logger: Logger(label: "test"))
        #expect(api.journal.writerFailure == nil)
        let key = Array("bal/wallet:u1:USD".utf8)
        try api.journal.storage.write { try $0.putState(key, withUnsafeBytes(of: Int64(50_000).bigEndian) { Array($0) }) }
        try JournalScrubService.checkBalances(api.journal, stop: StopFlag(), logger: Logger(label: "test"))
        let failure = try #require(api.journal.writerFailure)
        #expect(failure.contains("wallet:u1:USD") && failure.contains("50000") && failure.contains("500"), "\(failure)")
        let head = api.journal.head
        await #expect(throws: (any Error).self) {
            _ = try await api.ledger.execute(.addFunds(funding: "f2", user: "u1", currency: .usd, amount: 1, method: .card))
        }
        #expect(api.journal.head == head, "nothing was decided on the damaged balance")
    }

    @Test("a write model of a newer build's layout is refused before anything is written; an older one is folded afresh at start")
    func writeModelLayout() async throws {
        let root = TemporaryDirectory()
        let data = root.path + "/data"
        try await Self.populated(data)
        func setLayout(_ marker: String) throws {
            let storage = try LMDBJournalStorage.open(at: Journal.journalPath(in: data), create: false)
            try storage.write { try $0.setMetadata("write-model-version", Array(marker.utf8)) }
        }
        try setLayout(String(Ledger.writeModelVersion + 1))
        let before = try Self.contents(data)
        #expect(throws: Ledger.WriteModelError.self) { _ = try TallyServer.openAPI(Self.configuration(data)) }
        #expect(try Self.contents(data) == before, "a refused start wrote nothing")
        try setLayout("1")
        let api = try TallyServer.openAPI(Self.configuration(data))
        defer { api.journal.close() }
        #expect(try Ledger.writeModelLayout(api.journal.storage) == Ledger.writeModelVersion)
        #expect(try api.ledger.writeModel() == Ledger.replay(api.journal.storage))
    }
}
