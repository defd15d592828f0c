import LMDB

/// The LMDB backend: one environment with five named databases.
///
/// - `events`: sequence (8 bytes, big-endian) → event record, appended with `MDB_APPEND`
/// - `blocks`: last sequence of the block (8 bytes, big-endian) → sealed block
/// - `keys`: key id (8 bytes) → key record
/// - `meta`: name (UTF-8) → value (`format`, `journal-id`, `created-ms`, `verified-through`,
///   and the ledger's `write-model-version`)
/// - `state`: the write model beside the journal (keys chosen by the layer above)
///
/// The environment keeps LMDB's default durable commit (data pages synced, then the meta page):
/// never `MDB_NOSYNC`, `MDB_MAPASYNC` or `MDB_WRITEMAP` for the system of record.
public final class LMDBJournalStorage: JournalStorage, @unchecked Sendable {
    /// The value of `meta/format`; anything else is not a Tally journal.
    public static let formatMarker = Array("tally-journal/1".utf8)

    public let environment: Environment
    let events: Database
    let blocks: Database
    let keys: Database
    let meta: Database
    let state: Database

    public var location: String { environment.path }

    public static let databaseNames = ["events", "blocks", "keys", "meta", "state"]

    /// Opens the journal environment at `path`, or creates it atomically when `create` is true
    /// and nothing is there. A directory that is not a Tally journal is refused.
    public static func open(
        at path: String, create: Bool, readOnly: Bool = false, mapSize: Int = 1 << 30,
        initialMetadata: [String: [UInt8]] = [:]
    ) throws -> LMDBJournalStorage {
        var configuration = Environment.Configuration()
        configuration.mapSize = mapSize
        configuration.readOnly = readOnly
        let environment: Environment
        if !FileSystem.exists(path) && create {
            environment = try Environment.create(at: path, configuration: configuration) { transaction in
                var handles: [String: Database] = [:]
                for name in databaseNames {
                    handles[name] = try transaction.openDatabase(named: name)
                }
                try transaction.put(handles["meta"]!, key: Array("format".utf8), value: formatMarker)
                for (name, value) in initialMetadata {
                    try transaction.put(handles["meta"]!, key: Array(name.utf8), value: value)
                }
            }
        } else {
            switch Result(catching: { () throws(LMDBError) in try Environment.open(at: path, configuration: configuration) }) {
            case .success(let opened):
                environment = opened
            case .failure(let error):
                if error.kind == .corrupted || error.kind == .notFound {
                    throw JournalError.corruptFile(path: error.path ?? path, reason: error.message)
                }
                throw error
            }
        }
        func database(_ name: String) throws -> Database {
            switch Result(catching: { () throws(LMDBError) in try environment.database(named: name) }) {
            case .success(let database):
                return database
            case .failure(let error):
                if error.kind == .notFound {
                    throw JournalError.corruptFile(
                        path: environment.dataFilePath, reason: "not a Tally journal: database '\(name)' is missing")
                }
                throw error
            }
        }
        let storage = LMDBJournalStorage(
            environment: environment, events: try database("events"), blocks: try database("blocks"),
            keys: try database("keys"), meta: try database("meta"), state: try database("state"))
        let format = try storage.read { try $0.metadata("format") }
        guard format == formatMarker else {
            let found = format.map { String(decoding: $0, as: UTF8.self) } ?? "none"
            throw JournalError.corruptFile(
                path: environment.dataFilePath, reason: "not a Tally journal (format marker: \(found))")
        }
        return storage
    }

    private init(environment: Environment, events: Database, blocks: Database, keys: Database, meta: Database, state: Database) {
        self.environment = environment
        self.events = events
        self.blocks = blocks
        self.keys = keys
        self.meta = meta
        self.state = state
    }

    public func read<R>(_ body: (any JournalStorageReader) throws -> R) throws -> R {
        try environment.read { transaction in
            try body(Reader(storage: self, transaction: transaction))
        }
    }

    public func write<R>(_ body: (any JournalStorageWriter) throws -> R) throws -> R {
        try environment.write { transaction in
            try body(Writer(storage: self, transaction: transaction, writeTransaction: transaction))
        }
    }

    public func clearStaleReaders() throws -> Int {
        try environment.clearStaleReaders()
    }

    class Reader: JournalStorageReader {
        let storage: LMDBJournalStorage
        let transaction: ReadTransaction

        init(storage: LMDBJournalStorage, transaction: ReadTransaction) {
            self.storage = storage
            self.transaction = transaction
        }

        func lastEventSequence() throws -> UInt64? {
            try transaction.withCursor(storage.events) { cursor in
                guard try cursor.last() else { return nil }
                return try sequenceKey(cursor.key, "events")
            }
        }

        /// An 8-byte big-endian key; any other length is a damaged file, not a crash.
        private func sequenceKey(_ key: UnsafeRawBufferPointer, _ database: String) throws -> UInt64 {
            guard key.count == 8 else {
                throw JournalError.corruptFile(
                    path: storage.environment.dataFilePath, reason: "damaged: a key of \(key.count) bytes in the '\(database)' database (8 expected)")
            }
            return BigEndian.uint64(key)
        }

        func withEventRecord<R>(at sequence: UInt64, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
            try BigEndian.bytes(sequence).withUnsafeBytes { key in
                try transaction.withValue(storage.events, key: key, body)
            }
        }

        func forEachEventRecord(from sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
            try transaction.withCursor(storage.events) { cursor in
                var found = try cursor.seek(atOrAfter: BigEndian.bytes(sequence))
                while found {
                    let key = cursor.key
                    let sequence = key.count == 8 ? BigEndian.uint64(key) : 0
                    if try !body(sequence, cursor.value) { return }
                    found = try cursor.next()
                }
            }
        }

        func blockRecord(endingAtOrAfter sequence: UInt64) throws -> (key: UInt64, bytes: [UInt8])? {
            try transaction.withCursor(storage.blocks) { cursor in
                guard try cursor.seek(atOrAfter: BigEndian.bytes(sequence)) else { return nil }
                return (try sequenceKey(cursor.key, "blocks"), Array(cursor.value))
            }
        }

        func forEachBlockRecord(endingAtOrAfter sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
            try transaction.withCursor(storage.blocks) { cursor in
                var found = try cursor.seek(atOrAfter: BigEndian.bytes(sequence))
                while found {
                    let key = cursor.key
                    if try !body(key.count == 8 ? BigEndian.uint64(key) : 0, cursor.value) { return }
                    found = try cursor.next()
                }
            }
        }

        func lastBlockRecord() throws -> (key: UInt64, bytes: [UInt8])? {
            try transaction.withCursor(storage.blocks) { cursor in
                guard try cursor.last() else { return nil }
                return (try sequenceKey(cursor.key, "blocks"), Array(cursor.value))
            }
        }

        func keyRecords() throws -> [(keyID: UInt64, bytes: [UInt8])] {
            try transaction.withCursor(storage.keys) { cursor in
                var records: [(keyID: UInt64, bytes: [UInt8])] = []
                var found = try cursor.first()
                while found {
                    let key = cursor.key
                    records.append((key.count == 8 ? BigEndian.uint64(key) : 0, Array(cursor.value)))
                    found = try cursor.next()
                }
                return records
            }
        }

        func metadata(_ name: String) throws -> [UInt8]? {
            try transaction.get(storage.meta, key: Array(name.utf8))
        }

        func state(_ key: [UInt8]) throws -> [UInt8]? {
            try transaction.get(storage.state, key: key)
        }

        func forEachState(_ body: ([UInt8], [UInt8]) throws -> Bool) throws {
            try transaction.withCursor(storage.state) { cursor in
                var found = try cursor.first()
                while found {
                    if try !body(Array(cursor.key), Array(cursor.value)) { return }
                    found = try cursor.next()
                }
            }
        }
    }

    final class Writer: Reader, JournalStorageWriter {
        let writeTransaction: WriteTransaction

        init(storage: LMDBJournalStorage, transaction: ReadTransaction, writeTransaction: WriteTransaction) {
            self.writeTransaction = writeTransaction
            super.init(storage: storage, transaction: transaction)
        }

        func appendEventRecord(at sequence: UInt64, count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) throws {
            var key = sequence.bigEndian
            try withUnsafeBytes(of: &key) { keyBytes in
                try writeTransaction.reserve(storage.events, key: keyBytes, count: count, options: .append, fill: fill)
            }
        }

        func appendBlockRecord(lastSequence: UInt64, bytes: [UInt8]) throws {
            try writeTransaction.put(storage.blocks, key: BigEndian.bytes(lastSequence), value: bytes, options: .append)
        }

        func putKeyRecord(keyID: UInt64, bytes: [UInt8]) throws {
            try writeTransaction.put(storage.keys, key: BigEndian.bytes(keyID), value: bytes, options: .noOverwrite)
        }

        func setMetadata(_ name: String, _ value: [UInt8]) throws {
            try writeTransaction.put(storage.meta, key: Array(name.utf8), value: value)
        }

        func putState(_ key: [UInt8], _ value: [UInt8]) throws {
            try writeTransaction.put(storage.state, key: key, value: value)
        }

        func deleteState(_ key: [UInt8]) throws {
            try writeTransaction.delete(storage.state, key: key)
        }

        func clearState() throws {
            try writeTransaction.clear(storage.state)
        }
    }
}
