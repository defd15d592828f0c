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
        // A store whose index is built again refuses to open over such a record, naming it.
        try store.keys.write { _ = try $0.delete(store.keysDatabase, key: IdentityStore.emailIndexKeyName) }
        #expect { _ = try IdentityStore.open(directory: directory.path) } throws: { error in
            (error as? IdentityStoreError)?.reason.contains("the record of bob does not open") == true
        }
    }

    @Test("customer service finds users by e-mail in any case; a changed address moves; erasure removes the person; the index holds no address")
    func emailIndex() throws {
        let directory = TemporaryDirectory("tally-identity")
        let store = try IdentityStore.open(directory: directory.path)
        try store.store(PersonalData(name: "A", email: "Shared@Example.com", loginName: "a"), for: "alice")
        try store.store(PersonalData(name: "B", email: "shared@example.com ", loginName: "b"), for: "bob")
        try store.store(PersonalData(name: "C", email: "carol@example.com", loginName: "c"), for: "carol")
        #expect(try store.users(withEmail: "SHARED@example.COM") == ["alice", "bob"])
        #expect(try store.users(withEmail: "carol@example.com") == ["carol"])
        #expect(try store.users(withEmail: "nobody@example.com") == [])

        // Bob changes his address: found by the new one only.
        try store.store(PersonalData(name: "B", email: "bob@example.com", loginName: "b"), for: "bob")
        #expect(try store.users(withEmail: "shared@example.com") == ["alice"])
        #expect(try store.users(withEmail: "bob@example.com") == ["bob"])

        // Erased: no longer found, and the entry that named only Alice is gone.
        try store.erase(user: "alice")
        #expect(try store.users(withEmail: "shared@example.com") == [])
        let entries = try store.records.read { transaction in
            try transaction.withCursor(store.recordsDatabase) { cursor -> [[UInt8]] in
                var found: [[UInt8]] = []
                var more = try cursor.first()
                while more { found.append(Array(cursor.key) + [0] + Array(cursor.value)); more = try cursor.next() }
                return found
            }
        }
        #expect(entries.filter { $0.starts(with: Array("email:".utf8)) }.count == 2, "bob's and carol's entries")
        // The index holds HMACs, not addresses.
        for bytes in entries {
            for address in ["shared@example.com", "bob@example.com", "carol@example.com"] {
                #expect(Data(bytes).range(of: Data(address.utf8)) == nil)
            }
        }
    }

    @Test("a store from before the index gets it at its next open, from the records; a store opened again keeps its index")
    func emailIndexBuiltForAnOldStore() throws {
        let directory = TemporaryDirectory("tally-identity")
        do {
            let store = try IdentityStore.open(directory: directory.path)
            try store.store(PersonalData(name: "A", email: "a@example.com", loginName: "a"), for: "alice")
            try store.store(PersonalData(name: "B", email: "b@example.com", loginName: "b"), for: "bob")
            try store.erase(user: "bob")
            // Turn it back into a store of the earlier layout: no index, no index key. Bob's
            // record is put back without its key, as a crash during an erasure could leave it.
            try store.records.write { transaction in
                for email in ["a@example.com"] { _ = try transaction.delete(store.recordsDatabase, key: store.emailEntry(email)) }
                try transaction.put(store.recordsDatabase, key: Array("bob".utf8), value: [1, 2, 3])
            }
            try store.keys.write { _ = try $0.delete(store.keysDatabase, key: IdentityStore.emailIndexKeyName) }
            #expect(try store.users(withEmail: "a@example.com") == [])
        }
        let reopened = try IdentityStore.open(directory: directory.path)
        #expect(try reopened.users(withEmail: "a@example.com") == ["alice"])
        #expect(try reopened.users(withEmail: "b@example.com") == [])
        let key = try #require(try reopened.keys.read { try $0.get(reopened.keysDatabase, key: IdentityStore.emailIndexKeyName) })
        let again = try IdentityStore.open(directory: directory.path)
        #expect(again.emailIndexKey == key)
        #expect(try again.users(withEmail: "A@example.com") == ["alice"])
    }
}
