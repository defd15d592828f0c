import Foundation
import LMDB
import TallyTestSupport
import Testing
import TallyCrypto
@testable import Journal

/// A storage whose commits fail on demand, to show the writer fails closed.
final class FailingStorage: JournalStorage, @unchecked Sendable {
    let inner: LMDBJournalStorage
    let lock = NSLock()
    var failure: LMDBError?

    init(_ inner: LMDBJournalStorage) { self.inner = inner }

    var location: String { inner.location }

    func read<R>(_ body: (any JournalStorageReader) throws -> R) throws -> R { try inner.read(body) }

    func write<R>(_ body: (any JournalStorageWriter) throws -> R) throws -> R {
        lock.lock()
        let failure = self.failure
        lock.unlock()
        if let failure {
            // The transaction runs, then its commit fails: nothing reaches the disk.
            return try inner.write { writer in
                _ = try body(writer)
                throw failure
            }
        }
        return try inner.write(body)
    }

    func recover() {
        lock.lock()
        failure = nil
        lock.unlock()
    }

    func clearStaleReaders() throws -> Int { try inner.clearStaleReaders() }

    func failCommits(with error: LMDBError) {
        lock.lock()
        failure = error
        lock.unlock()
    }
}

@Suite("Journal writer failures")
struct JournalWriterFailureTests {
    func makeWriter(_ directory: String, failures: LockedList) throws -> (JournalWriter, FailingStorage, Ed25519PrivateKey) {
        let storage = try LMDBJournalStorage.open(at: directory + "/journal", create: true)
        let key = try Ed25519PrivateKey.generate()
        try storage.write { writer in
            let record = KeyRecord(publicKey: key.publicKey, activatedAt: 1, endorsingKeyID: nil, endorsement: nil)
            try writer.putKeyRecord(keyID: record.keyID.value, bytes: record.bytes)
        }
        let failing = FailingStorage(storage)
        let writer = JournalWriter(
            storage: failing, headSequence: 0, headHash: .zero, signer: key, clock: fixedClock,
            logger: .init(label: "test"), queueCapacity: 100, onFailure: { failures.append($0) })
        writer.start()
        return (writer, failing, key)
    }

    final class LockedList: @unchecked Sendable {
        let lock = NSLock()
        var items: [String] = []
        func append(_ item: String) {
            lock.lock()
            items.append(item)
            lock.unlock()
        }
    }

    func append(_ writer: JournalWriter, _ text: String) async throws -> JournalWriter.Completion {
        try await withCheckedThrowingContinuation { continuation in
            let request = JournalWriter.Request(
                kind: .command({ _ in ([draft(text)], []) }), eventBudget: 1, complete: { continuation.resume(with: $0) })
            do {
                try writer.submit(request)
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    @Test("a failed commit is never acknowledged or retried: the writer stops and refuses everything after")
    func failClosed() async throws {
        let directory = TemporaryDirectory()
        let failures = LockedList()
        let (writer, storage, _) = try makeWriter(directory.path, failures: failures)
        _ = try await append(writer, "durable")
        storage.failCommits(with: LMDBError(kind: .io(errno: EIO), code: EIO, operation: "mdb_txn_commit", message: "I/O error"))
        await #expect {
            _ = try await append(writer, "lost")
        } throws: { error in
            if case JournalError.writerFailed = error { return true }
            return false
        }
        await #expect {
            _ = try await append(writer, "after")
        } throws: { error in
            if case JournalError.writerFailed = error { return true }
            return false
        }
        #expect(failures.items.count == 1)
        #expect(writer.failureReason != nil)
        #expect(try JournalReader(storage: storage).lastSequence() == 1)
        writer.close()
    }

    @Test("a full disk refuses the batch with storageFull and a retry time, and the writer keeps serving")
    func diskFull() async throws {
        let directory = TemporaryDirectory()
        let failures = LockedList()
        let (writer, storage, _) = try makeWriter(directory.path, failures: failures)
        storage.failCommits(with: LMDBError(kind: .diskFull, code: EIO, operation: "mdb_txn_commit", message: "disk full"))
        await #expect {
            _ = try await append(writer, "no room")
        } throws: { error in
            if case JournalError.storageFull(let seconds) = error { return seconds > 0 }
            return false
        }
        storage.recover()
        let completion = try await append(writer, "room again")
        #expect(completion.sequences == 1...1)
        #expect(failures.items.isEmpty)
        writer.close()
    }
}
