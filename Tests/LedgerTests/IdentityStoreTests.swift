import Foundation
import Journal
import LMDB
import TallyCrypto
import TallyTestSupport
import Testing
@testable import Ledger

@Suite("Identity store")
struct IdentityStoreTests {
    @Test("personal data stays out of the journal; erasing a user's key makes every copy unreadable and the journal still verifies")
    func erasure() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 500)
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms())))
        let store = try IdentityStore.open(directory: fixture.directory.path)
        let person = PersonalData(name: "Alice Example", email: "alice@example.com", loginName: "alice-login")
        try store.store(person, for: "alice")
        #expect(try store.personalData(of: "alice") == person)

        // A backup of the sealed records taken before the erasure.
        let sealed = try #require(try store.records.read { try $0.get(store.recordsDatabase, key: Array("alice".utf8)) })
        let key = try #require(try store.key(of: "alice"))

        try store.erase(user: "alice")
        #expect(try store.personalData(of: "alice") == nil)
        #expect(try store.key(of: "alice") == nil)
        // The backup cannot be opened with any key the store still holds, nor a guessed one.
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed, key: SecureRandom.bytes(32), associatedData: Array("alice".utf8)) }
        #expect(try AESGCM.open(sealed, key: key, associatedData: Array("alice".utf8)).count > 0, "the destroyed key was the only way in")

        // No personal datum is in the journal's files, and the journal verifies as before.
        fixture.journal.close()
        let journalBytes = try Data(contentsOf: URL(fileURLWithPath: Journal.journalPath(in: fixture.directory.path) + "/data.mdb"))
        for datum in [person.name, person.email, person.loginName] {
            #expect(journalBytes.range(of: Data(datum.utf8)) == nil, "\(datum) found in the journal")
        }
        let storage = try LMDBJournalStorage.open(at: Journal.journalPath(in: fixture.directory.path), create: false, readOnly: true)
        let trusted = try SigningKeyStore(directory: Journal.keysPath(in: fixture.directory.path)).publishedKeys()
        #expect(try JournalVerifier(trustedKeys: trusted).verify(storage).isValid)
    }

    @Test("a record moved to another user does not open (the user ID is authenticated)")
    func boundToUser() throws {
        let directory = TemporaryDirectory("tally-identity")
        let store = try IdentityStore.open(directory: directory.path)
        try store.store(PersonalData(name: "A", email: "a@example.com", loginName: "a"), for: "alice")
        try store.store(PersonalData(name: "B", email: "b@example.com", loginName: "b"), for: "bob")
        let alices = try #require(try store.records.read { try $0.get(store.recordsDatabase, key: Array("alice".utf8)) })
        try store.records.write { try $0.put(store.recordsDatabase, key: Array("bob".utf8), value: alices) }
        #expect(throws: CryptoError.self) { _ = try store.personalData(of: "bob") }
    }
}
