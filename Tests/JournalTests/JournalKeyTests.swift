import Foundation
import LMDB
import TallyTestSupport
import Testing
import TallyCrypto
@testable import Journal

@Suite("Journal signing keys")
struct JournalKeyTests {
    @Test("a new journal creates a 0600 signing key and publishes its public key")
    func keyCreation() async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        let store = SigningKeyStore(directory: Journal.keysPath(in: directory.path))
        let (key, path) = try #require(try store.loadSigningKey())
        var info = stat()
        stat(path, &info)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try store.publishedKeys() == [key.publicKey])
        #expect(try journal.keyRecords().map(\.publicKey) == [key.publicKey])
        journal.close()
    }

    @Test("rotation: new blocks are signed by the new key, old receipts still verify, the old private key is destroyed")
    func rotation() async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        let store = SigningKeyStore(directory: Journal.keysPath(in: directory.path))
        let oldKey = try store.loadSigningKey()!.key
        let before = try await journal.append([draft("a"), draft("b")])
        let newID = try await journal.rotateSigningKey()
        let after = try await journal.append([draft("c")])
        let newKey = try store.loadSigningKey()!.key
        #expect(KeyID(publicKey: newKey.publicKey) == newID)
        #expect(!FileSystem.exists(store.privateKeyPath(KeyID(publicKey: oldKey.publicKey))))
        #expect(Set(try store.publishedKeys()) == [oldKey.publicKey, newKey.publicKey])
        #expect(before.receipts[0].violation(publicKey: oldKey.publicKey) == nil)
        #expect(after.receipts[0].violation(publicKey: newKey.publicKey) == nil)
        #expect(after.receipts[0].violation(publicKey: oldKey.publicKey) != nil)
        let records = try journal.keyRecords()
        #expect(records.count == 2)
        #expect(records[1].activatedAt == 3)
        #expect(records[1].endorsingKeyID == KeyID(publicKey: oldKey.publicKey))
        #expect(try journal.verify().isValid)
        journal.close()
        // An auditor who trusts only the first key follows the endorsement to the second.
        let storage = try LMDBJournalStorage.open(at: Journal.journalPath(in: directory.path), create: false, readOnly: true)
        #expect(try JournalVerifier(trustedKeys: [oldKey.publicKey]).verify(storage).isValid)
        // An auditor who trusts neither key refuses the journal at its first block.
        let stranger = try Ed25519PrivateKey.generate().publicKey
        #expect(try JournalVerifier(trustedKeys: [stranger]).verify(storage).failure?.kind == .untrustedKey)
        let reopened = try openJournal(directory.path)
        _ = try await reopened.append(draft("d"))
        #expect(try reopened.verify().eventsVerified == 4)
        reopened.close()
    }

    @Test("a block signed by the old key after the rotation is refused")
    func oldKeyAfterRotation() async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        let store = SigningKeyStore(directory: Journal.keysPath(in: directory.path))
        let oldKey = try store.loadSigningKey()!.key
        _ = try await journal.append([draft("a")])
        try await journal.rotateSigningKey()
        _ = try await journal.append([draft("b")])
        journal.close()
        let raw = try RawJournal(directory.path)
        let stored = try raw.block(endingAt: 2)!
        guard case .success(let block) = stored.withUnsafeBytes({ SealedBlock.parse($0) }) else { fatalError() }
        var header = block.header
        header.keyID = KeyID(publicKey: oldKey.publicKey)
        try raw.setBlock(endingAt: 2, SealedBlock(header: header, signature: oldKey.signature(for: header.signedMessage)).bytes)
        let report = try verifyWithPublishedKeys(directory.path)
        #expect(report.failure?.kind == .untrustedKey)
        #expect(report.failure?.sequence == 2)
    }

    @Test("two rotations with no event between them keep the journal verifiable and openable")
    func doubleRotation() async throws {
        let directory = TemporaryDirectory()
        let journal = try openJournal(directory.path)
        _ = try await journal.append(draft("a"))
        let second = try await journal.rotateSigningKey()
        let third = try await journal.rotateSigningKey()
        _ = try await journal.append(draft("b"))
        #expect(try journal.keyRecords().map(\.keyID).suffix(2) == [second, third])
        #expect(try journal.verify().isValid)
        journal.close()
        let reopened = try openJournal(directory.path)
        _ = try await reopened.append(draft("c"))
        #expect(try reopened.verify().eventsVerified == 3)
        reopened.close()
    }

    @Test("a missing journal beside existing keys is refused, not started afresh under the old key")
    func missingJournalWithKeys() async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 1, perBlock: 2)
        FileSystem.removeTree(Journal.journalPath(in: directory.path))
        #expect {
            _ = try openJournal(directory.path)
        } throws: { error in
            "\(error)".contains("holds the keys of journal")
        }
        #expect(!FileSystem.exists(Journal.journalPath(in: directory.path)))
    }

    @Test("a key provisioned before the first start signs the new journal; keys of another journal are refused")
    func provisionedKeyAndForeignKeys() async throws {
        let directory = TemporaryDirectory()
        let store = SigningKeyStore(directory: Journal.keysPath(in: directory.path))
        let provisioned = try store.createSigningKey()
        let journal = try openJournal(directory.path)
        #expect(try journal.keyRecords().map(\.publicKey) == [provisioned.publicKey])
        journal.close()
        let other = TemporaryDirectory()
        try await buildJournal(other.path, blocks: 1, perBlock: 1)
        // Swap in the other journal's keys/ wholesale: its journal-id names the other journal.
        FileSystem.removeTree(Journal.keysPath(in: directory.path))
        try FileManager.default.copyItem(atPath: Journal.keysPath(in: other.path), toPath: Journal.keysPath(in: directory.path))
        #expect {
            _ = try openJournal(directory.path)
        } throws: { error in
            "\(error)".contains("journal-id") && "\(error)".contains("names journal")
        }
    }
}
