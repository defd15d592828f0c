import Journal

/// A journal storage that reports, through a ``ToolProgress``, the sequences a caller reads:
/// gives progress to folds that take a storage and have no progress hook of their own
/// (`Ledger.replay`). Reads pass through unchanged.
final class ProgressStorage: JournalStorage, @unchecked Sendable {
    let base: any JournalStorage
    let progress: ToolProgress

    init(base: any JournalStorage, progress: ToolProgress) {
        self.base = base
        self.progress = progress
    }

    var location: String { base.location }

    func read<R>(_ body: (any JournalStorageReader) throws -> R) throws -> R {
        try base.read { reader in try body(Reader(base: reader, progress: progress)) }
    }

    func write<R>(_ body: (any JournalStorageWriter) throws -> R) throws -> R {
        try base.write(body)
    }

    func clearStaleReaders() throws -> Int { try base.clearStaleReaders() }

    struct Reader: JournalStorageReader {
        let base: any JournalStorageReader
        let progress: ToolProgress

        func lastEventSequence() throws -> UInt64? { try base.lastEventSequence() }
        func withEventRecord<R>(at sequence: UInt64, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
            try base.withEventRecord(at: sequence, body)
        }
        func forEachEventRecord(from sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
            var last: UInt64?
            try base.forEachEventRecord(from: sequence) { key, record in
                last = key
                return try body(key, record)
            }
            if let last { progress.update(last) }
        }
        func blockRecord(endingAtOrAfter sequence: UInt64) throws -> (key: UInt64, bytes: [UInt8])? {
            try base.blockRecord(endingAtOrAfter: sequence)
        }
        func forEachBlockRecord(endingAtOrAfter sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
            try base.forEachBlockRecord(endingAtOrAfter: sequence, body)
        }
        func lastBlockRecord() throws -> (key: UInt64, bytes: [UInt8])? { try base.lastBlockRecord() }
        func keyRecords() throws -> [(keyID: UInt64, bytes: [UInt8])] { try base.keyRecords() }
        func metadata(_ name: String) throws -> [UInt8]? { try base.metadata(name) }
        func state(_ key: [UInt8]) throws -> [UInt8]? { try base.state(key) }
        func forEachState(_ body: ([UInt8], [UInt8]) throws -> Bool) throws { try base.forEachState(body) }
    }
}
