import Journal

/// One read snapshot presented as a journal storage, so that ``JournalVerifier`` and the
/// ledger audit check exactly the same committed state even while a writer runs beside them.
/// Only lives inside the `read` closure of the storage it came from.
final class SnapshotStorage: JournalStorage, @unchecked Sendable {
    let reader: any JournalStorageReader
    let location: String

    init(reader: any JournalStorageReader, location: String) {
        self.reader = reader
        self.location = location
    }

    func read<R>(_ body: (any JournalStorageReader) throws -> R) throws -> R {
        try body(reader)
    }

    func write<R>(_ body: (any JournalStorageWriter) throws -> R) throws -> R {
        preconditionFailure("a snapshot is read-only")
    }

    func clearStaleReaders() throws -> Int { 0 }
}
