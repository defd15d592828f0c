import Foundation
import LMDB
import TallyTestSupport
import Testing
import TallyCrypto
@testable import Journal

/// Foreign, truncated and corrupt files in the data directory, and wrong key files: each is a
/// clear error naming the file, the journal does not open read-write, and nothing is written.
@Suite("Journal data directory faults")
struct JournalFileTests {
    enum Fault: String, CaseIterable, CustomTestStringConvertible {
        case foreignDataFile, emptyDataFile, truncatedDataFile, lmdbButNotTally
        case garbageKeyFile, keyFileReadableByOthers, wrongKey, missingKey, twoKeys, publicKeyFileGarbage, publicKeyFileIsAFIFO

        var testDescription: String { rawValue }
    }

    static func apply(_ fault: Fault, to directory: String) throws -> (path: String, says: String) {
        let journalDirectory = Journal.journalPath(in: directory)
        let dataFile = journalDirectory + "/data.mdb"
        let keys = SigningKeyStore(directory: Journal.keysPath(in: directory))
        let keyPath = try keys.loadSigningKey()!.path
        switch fault {
        case .foreignDataFile:
            try Data(repeating: 0x41, count: 64 << 10).write(to: URL(fileURLWithPath: dataFile))
            return (dataFile, "not an LMDB environment")
        case .emptyDataFile:
            try Data().write(to: URL(fileURLWithPath: dataFile))
            return (dataFile, "empty")
        case .truncatedDataFile:
            let size = FileSystem.fileSize(dataFile)!
            precondition(truncate(dataFile, off_t(size / 2)) == 0)
            return (dataFile, "truncated")
        case .lmdbButNotTally:
            FileSystem.removeTree(journalDirectory)
            _ = try Environment.create(at: journalDirectory) { transaction in
                let other = try transaction.openDatabase(named: "other")
                try transaction.put(other, key: [1], value: [2])
            }
            return (dataFile, "not a Tally journal")
        case .garbageKeyFile:
            try Data("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n".utf8)
                .write(to: URL(fileURLWithPath: keyPath))
            chmod(keyPath, 0o600)
            return (keyPath, "is not an Ed25519 private key")
        case .keyFileReadableByOthers:
            chmod(keyPath, 0o644)
            return (keyPath, "mode 644")
        case .wrongKey:
            unlink(keyPath)
            let other = try Ed25519PrivateKey.generate()
            let otherPath = keys.privateKeyPath(KeyID(publicKey: other.publicKey))
            try Data(other.pemRepresentation.utf8).write(to: URL(fileURLWithPath: otherPath))
            chmod(otherPath, 0o600)
            return (otherPath, "but the journal is signed by key")
        case .missingKey:
            unlink(keyPath)
            return (keys.directory, "holds no signing key")
        case .twoKeys:
            let other = try Ed25519PrivateKey.generate()
            let otherPath = keys.privateKeyPath(KeyID(publicKey: other.publicKey))
            try Data(other.pemRepresentation.utf8).write(to: URL(fileURLWithPath: otherPath))
            chmod(otherPath, 0o600)
            return (keys.directory, "exactly one may be active")
        case .publicKeyFileGarbage:
            let publicPath = keys.publicKeyPath(KeyID(publicKey: try keys.loadSigningKey()!.key.publicKey))
            try Data("garbage".utf8).write(to: URL(fileURLWithPath: publicPath))
            return (publicPath, "is not an Ed25519 public key")
        case .publicKeyFileIsAFIFO:
            // Opened for reading without O_NONBLOCK, a FIFO waits for a writer forever.
            let publicPath = keys.publicKeyPath(KeyID(publicKey: try keys.loadSigningKey()!.key.publicKey))
            unlink(publicPath)
            precondition(mkfifo(publicPath, 0o644) == 0)
            return (publicPath, "not a regular file")
        }
    }

    @Test("a damaged or foreign file is refused with an error naming it, and nothing is written", .timeLimit(.minutes(1)), arguments: Fault.allCases)
    func refused(fault: Fault) async throws {
        let directory = TemporaryDirectory()
        try await buildJournal(directory.path, blocks: 2, perBlock: 3)
        let (path, says) = try Self.apply(fault, to: directory.path)
        let dataFile = Journal.journalPath(in: directory.path) + "/data.mdb"
        let before = fileDigest(dataFile)
        #expect {
            _ = try openJournal(directory.path)
        } throws: { error in
            let text = "\(error)"
            return text.contains(path) && text.contains(says)
        }
        #expect(fileDigest(dataFile) == before, "a refused open must not write")
    }

    @Test("a half-created environment left by a crash is not taken for a journal")
    func leftoverCreationDirectory() async throws {
        let directory = TemporaryDirectory()
        let leftover = Journal.journalPath(in: directory.path) + ".creating-dead"
        try FileSystem.makeDirectory(leftover)
        try Data(repeating: 0, count: 100).write(to: URL(fileURLWithPath: leftover + "/data.mdb"))
        let journal = try openJournal(directory.path)
        _ = try await journal.append(draft("fresh"))
        #expect(journal.head == 1)
        journal.close()
    }
}
