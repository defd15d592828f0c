import Foundation
import LMDB
import TallyTestSupport
import Testing
import TallyCrypto
@testable import Journal

/// Each tamper class, applied to a closed journal of 5 blocks of 4 events (1–4, 5–8, ...,
/// 17–20), must be caught by the verifier at the right sequence.
@Suite("Journal tampering")
struct JournalTamperTests {
    enum Tamper: String, CaseIterable, CustomTestStringConvertible {
        case flipPayloadByte, flipStoredHash, flipSignature, deleteEvent, reorderEvents, duplicateEvent
        case truncateWholeBlock, truncateInsideBlock, deleteBlock, forgedHeaderResigned, chainHeadResigned
        case resealedWithAnotherKey, wholeJournalResealedWithAttackerKey, malformedRecord

        var testDescription: String { rawValue }
    }

    static let expectations: [Tamper: (VerificationFailure.Kind, UInt64)] = [
        .flipPayloadByte: (.eventHashMismatch, 6),
        .flipStoredHash: (.eventHashMismatch, 6),
        .flipSignature: (.badSignature, 5),
        .deleteEvent: (.gap, 6),
        .reorderEvents: (.eventHashMismatch, 6),
        .duplicateEvent: (.eventHashMismatch, 7),
        .truncateWholeBlock: (.missingEvents, 17),
        .truncateInsideBlock: (.missingEvents, 19),
        .deleteBlock: (.blockRange, 9),
        .forgedHeaderResigned: (.merkleRootMismatch, 9),
        .chainHeadResigned: (.chainHeadMismatch, 12),
        .resealedWithAnotherKey: (.unknownKey, 9),
        .wholeJournalResealedWithAttackerKey: (.untrustedKey, 1),
        .malformedRecord: (.malformedEvent, 10),
    ]

    static func apply(_ tamper: Tamper, to directory: String) throws {
        let raw = try RawJournal(directory)
        switch tamper {
        case .flipPayloadByte:
            var record = try raw.record(6)!
            record[record.count - 1] ^= 0x01
            try raw.setRecord(6, record)
        case .flipStoredHash:
            var record = try raw.record(6)!
            record[3] ^= 0x80
            try raw.setRecord(6, record)
        case .flipSignature:
            var block = try raw.block(endingAt: 8)!
            block[BlockHeader.byteCount + 10] ^= 0x01
            try raw.setBlock(endingAt: 8, block)
        case .deleteEvent:
            try raw.deleteRecord(6)
        case .reorderEvents:
            let six = try raw.record(6)!
            let seven = try raw.record(7)!
            try raw.setRecord(6, seven)
            try raw.setRecord(7, six)
        case .duplicateEvent:
            try raw.setRecord(7, try raw.record(6)!)
        case .truncateWholeBlock:
            for sequence in UInt64(17)...20 { try raw.deleteRecord(sequence) }
        case .truncateInsideBlock:
            try raw.deleteRecord(19)
            try raw.deleteRecord(20)
        case .deleteBlock:
            try raw.deleteBlock(endingAt: 12)
        case .forgedHeaderResigned, .chainHeadResigned:
            // An insider with the signing key re-signs a header that lies about its events.
            let key = try signingKey(in: directory)
            let stored = try raw.block(endingAt: 12)!
            guard case .success(let block) = stored.withUnsafeBytes({ SealedBlock.parse($0) }) else { fatalError() }
            var header = block.header
            if tamper == .forgedHeaderResigned {
                header.merkleRoot = SHA256.hash([9])
            } else {
                header.chainHead = SHA256.hash([9])
            }
            let forged = SealedBlock(header: header, signature: key.signature(for: header.signedMessage))
            try raw.setBlock(endingAt: 12, forged.bytes)
        case .resealedWithAnotherKey:
            let other = try Ed25519PrivateKey.generate()
            let stored = try raw.block(endingAt: 12)!
            guard case .success(let block) = stored.withUnsafeBytes({ SealedBlock.parse($0) }) else { fatalError() }
            var header = block.header
            header.keyID = KeyID(publicKey: other.publicKey)
            try raw.setBlock(endingAt: 12, SealedBlock(header: header, signature: other.signature(for: header.signedMessage)).bytes)
        case .wholeJournalResealedWithAttackerKey:
            // The attacker replaces the key record and re-signs every block with its own key.
            let attacker = try Ed25519PrivateKey.generate()
            try raw.clearKeys()
            try raw.putKey(KeyRecord(publicKey: attacker.publicKey, activatedAt: 1, endorsingKeyID: nil, endorsement: nil))
            for last in stride(from: UInt64(4), through: 20, by: 4) {
                let stored = try raw.block(endingAt: last)!
                guard case .success(let block) = stored.withUnsafeBytes({ SealedBlock.parse($0) }) else { fatalError() }
                var header = block.header
                header.keyID = KeyID(publicKey: attacker.publicKey)
                try raw.setBlock(endingAt: last, SealedBlock(header: header, signature: attacker.signature(for: header.signedMessage)).bytes)
            }
        case .malformedRecord:
            var record = try raw.record(10)!
            record[32] = 0x7f
            try raw.setRecord(10, record)
        }
    }

    @Test("the verifier reports each tamper class at the right sequence", arguments: Tamper.allCases)
    func verifierCatches(tamper: Tamper) async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 5, perBlock: 4)
        #expect(try verifyWithPublishedKeys(directory.path).isValid)
        try Self.apply(tamper, to: directory.path)
        let report = try verifyWithPublishedKeys(directory.path)
        let (kind, sequence) = Self.expectations[tamper]!
        #expect(report.failure?.kind == kind, "\(report.failure.map { "\($0)" } ?? "no failure")")
        #expect(report.failure?.sequence == sequence, "\(report.failure.map { "\($0)" } ?? "no failure")")
    }

    @Test("a journal tampered in its unverified tail is refused at open, naming the sequence, and nothing is written")
    func openRefusesTamperedTail() async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 5, perBlock: 4)
        let raw = try RawJournal(directory.path)
        try raw.setVerifiedThrough(12)
        var record = try raw.record(18)!
        record[record.count - 1] ^= 0x01
        try raw.setRecord(18, record)
        let before = fileDigest(Journal.journalPath(in: directory.path) + "/data.mdb")
        #expect {
            _ = try openJournal(directory.path)
        } throws: { error in
            guard case JournalError.verificationFailed(let failure) = error else { return false }
            return failure.kind == .eventHashMismatch && failure.sequence == 18
        }
        #expect(fileDigest(Journal.journalPath(in: directory.path) + "/data.mdb") == before)
    }

    @Test("verifying from a later sequence checks from the start of its block")
    func rangeVerification() async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 5, perBlock: 4)
        let storage = try LMDBJournalStorage.open(at: Journal.journalPath(in: directory.path), create: false, readOnly: true)
        let trusted = try SigningKeyStore(directory: Journal.keysPath(in: directory.path)).publishedKeys()
        let report = try JournalVerifier(trustedKeys: trusted).verify(storage, from: 10, through: 14)
        #expect(report.isValid)
        #expect(report.firstSequence == 9)
        #expect(report.lastSequence == 16)
        #expect(report.eventsVerified == 8)
    }

    @Test("verifying from a sequence whose block was deleted is a block-range failure, not a silent skip")
    func rangeStartInDeletedBlock() async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 5, perBlock: 4)
        try RawJournal(directory.path).deleteBlock(endingAt: 12)
        let storage = try LMDBJournalStorage.open(at: Journal.journalPath(in: directory.path), create: false, readOnly: true)
        let trusted = try SigningKeyStore(directory: Journal.keysPath(in: directory.path)).publishedKeys()
        let report = try JournalVerifier(trustedKeys: trusted).verify(storage, from: 10)
        #expect(report.failure?.kind == .blockRange)
        #expect(report.failure?.sequence == 10)
    }
}

@Suite("Journal scrub: what earlier starts verified, verified again")
struct JournalScrubTests {
    @Test("an event changed after an earlier start verified it is found by the scrub, in chunks; the writer then takes no appends")
    func scrubFindsOldDamage() async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 5, perBlock: 4)
        try openJournal(directory.path).close()   // this start verifies 1...20
        let raw = try RawJournal(directory.path)
        var record = try raw.record(7)!
        record[record.count - 1] ^= 0x01
        try raw.setRecord(7, record)

        let journal = try openJournal(directory.path)
        defer { journal.close() }
        #expect(journal.verifiedBeforeOpen == 20, "the open checks only what came after the last verified start")
        #expect(journal.writerFailure == nil)
        let failure = try journal.scrub(chunk: 3)
        #expect(failure?.sequence == 7)
        #expect(failure?.kind == .eventHashMismatch)
        #expect(journal.writerFailure?.contains("sequence 7") == true)
        await #expect(throws: JournalError.self) { _ = try await journal.append(draft("after the damage")) }
        #expect(journal.head == 20, "nothing was appended over the damaged journal")
    }

    @Test("an undamaged journal scrubs clean in chunks, and appends go on; stop ends it between chunks")
    func scrubClean() async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 5, perBlock: 4)
        try openJournal(directory.path).close()
        let journal = try openJournal(directory.path)
        defer { journal.close() }
        #expect(try journal.scrub(chunk: 3) == nil)
        _ = try await journal.append(draft("more"))
        #expect(journal.head == 21)
        var asked = 0
        #expect(try journal.scrub(chunk: 3, stop: { asked += 1; return asked > 2 }) == nil)
        #expect(asked == 3, "asked before each chunk, and stopped at once")
    }
}
