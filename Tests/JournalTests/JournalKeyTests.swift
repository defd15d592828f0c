import Foundation
import LMDB
import TallyTestSupport
import Testing
import TallyCrypto
@testable import Journal

@Suite("Journal signing keys")
struct JournalKeyTests {
    @Test("key, block and event records with bytes changed anywhere are refused or read as what writes the same bytes, never a trap")
    func damagedRecords() throws {
        let signer = try Ed25519PrivateKey.generate()
        let endorsed = try Ed25519PrivateKey.generate()
        let endorsement = signer.signature(for: KeyRecord.endorsementMessage(publicKey: endorsed.publicKey, activatedAt: 7))
        let keys = [
            KeyRecord(publicKey: signer.publicKey, activatedAt: 1, endorsingKeyID: nil, endorsement: nil).bytes,
            KeyRecord(publicKey: endorsed.publicKey, activatedAt: 7, endorsingKeyID: KeyID(publicKey: signer.publicKey), endorsement: endorsement).bytes,
        ]
        let header = BlockHeader(
            firstSequence: 3, lastSequence: 9, chainHead: SHA256.hash([1]), merkleRoot: SHA256.hash([2]), timeMilliseconds: 1_764_000_000_000,
            keyID: KeyID(publicKey: signer.publicKey))
        let block = SealedBlock(header: header, signature: signer.signature(for: header.signedMessage)).bytes
        let draft = EventDraft(typeName: "PurchaseCaptured", payload: Array(#"{"amount":5}"#.utf8))
        var event = [UInt8](repeating: 0, count: EventRecord.storedSize(typeNameBytes: draft.typeName.utf8.count, payloadBytes: draft.payload.count))
        event.withUnsafeMutableBytes { EventRecord.write(draft, hash: SHA256.hash([3]), into: $0) }

        var random = TestValues(seed: 5)
        var read = (keys: 0, blocks: 0, events: 0)
        for round in 0..<3_000 {
            let key = random.damaged(random.pick(keys), significant: Array(0...255))
            if case .success(let record) = key.withUnsafeBytes({ KeyRecord.parse($0) }) {
                read.keys += 1
                #expect(record.bytes == key, "round \(round)")
            }
            let changedBlock = random.damaged(block, significant: Array(0...255))
            if case .success(let sealed) = changedBlock.withUnsafeBytes({ SealedBlock.parse($0) }) {
                read.blocks += 1
                #expect(sealed.bytes == changedBlock, "round \(round)")
            }
            let changedEvent = random.damaged(event, significant: Array(0...255))
            let rewritten = changedEvent.withUnsafeBytes { bytes -> [UInt8]? in
                guard case .success(let view) = EventRecord.parse(bytes) else { return nil }
                let draft = EventDraft(typeName: String(decoding: view.typeName, as: UTF8.self), payload: Array(view.payload))
                var out = [UInt8](repeating: 0, count: EventRecord.storedSize(typeNameBytes: view.typeName.count, payloadBytes: view.payload.count))
                out.withUnsafeMutableBytes { EventRecord.write(draft, hash: view.storedHash, into: $0) }
                return out
            }
            if let rewritten {
                read.events += 1
                #expect(rewritten == changedEvent, "round \(round)")
            }
        }
        // A changed byte inside a key, a hash, a signature or a payload leaves the layout whole
        // (the verifier's signatures and hashes refuse those): such records are read.
        #expect(read.keys > 100 && read.blocks > 100 && read.events > 100, "\(read)")
        // The journal's first key has no endorsement, and its endorsement bytes are zero.
        var first = keys[0]
        first[100] = 1
        guard case .failure(let violation) = first.withUnsafeBytes({ KeyRecord.parse($0) }) else {
            Issue.record("a first key's record with endorsement bytes was read")
            return
        }
        #expect(violation.description.contains("endorsement"))
    }

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
