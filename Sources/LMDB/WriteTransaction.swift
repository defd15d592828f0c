import CLMDB

/// The write transaction of an ``Environment``. It belongs to the thread running the closure
/// that received it and must not span an `await`.
public final class WriteTransaction: ReadTransaction {
    /// How a put treats an existing key.
    public struct PutOptions: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Fail with `keyExists` instead of overwriting.
        public static let noOverwrite = PutOptions(rawValue: UInt32(MDB_NOOVERWRITE))
        /// The key sorts after every key in the database (`MDB_APPEND`); faster, and a key out of
        /// order fails with `keyOutOfOrder`.
        public static let append = PutOptions(rawValue: UInt32(MDB_APPEND))
    }

    /// Stores `value` under `key`.
    public func put(
        _ database: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
        options: PutOptions = []
    ) throws(LMDBError) {
        checkLive()
        var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var dataValue = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let code = mdb_put(handle, database.handle, &keyValue, &dataValue, options.rawValue)
        try checkPut(code, options: options)
    }

    public func put(_ database: Database, key: [UInt8], value: [UInt8], options: PutOptions = []) throws(LMDBError) {
        try withBytes(key) { keyBytes throws(LMDBError) in
            try withBytes(value) { valueBytes throws(LMDBError) in
                try put(database, key: keyBytes, value: valueBytes, options: options)
            }
        }
    }

    /// Reserves `count` bytes under `key` and lets `fill` write them in place (`MDB_RESERVE`),
    /// saving a copy of large values.
    public func reserve(
        _ database: Database, key: UnsafeRawBufferPointer, count: Int, options: PutOptions = [],
        fill: (UnsafeMutableRawBufferPointer) -> Void
    ) throws(LMDBError) {
        checkLive()
        var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var dataValue = MDB_val(mv_size: count, mv_data: nil)
        let code = mdb_put(handle, database.handle, &keyValue, &dataValue, options.rawValue | UInt32(MDB_RESERVE))
        try checkPut(code, options: options)
        fill(UnsafeMutableRawBufferPointer(start: dataValue.mv_data, count: count))
    }

    /// Deletes `key`; returns false when it was not there.
    @discardableResult
    public func delete(_ database: Database, key: [UInt8]) throws(LMDBError) -> Bool {
        checkLive()
        return try withBytes(key) { keyBytes throws(LMDBError) in
            var keyValue = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            let code = mdb_del(handle, database.handle, &keyValue, nil)
            if code == MDB_NOTFOUND { return false }
            try LMDBError.check(code, "mdb_del", path: environment.path)
            return true
        }
    }

    /// Removes every entry of `database`, keeping the database.
    public func clear(_ database: Database) throws(LMDBError) {
        checkLive()
        try LMDBError.check(mdb_drop(handle, database.handle, 0), "mdb_drop", path: environment.path)
    }

    @inline(__always)
    private func checkPut(_ code: Int32, options: PutOptions) throws(LMDBError) {
        guard code != 0 else { return }
        if code == MDB_KEYEXIST && options.contains(.append) {
            throw LMDBError(
                kind: .keyOutOfOrder, code: code, operation: "mdb_put", path: environment.path,
                message: "appended key does not sort after the last key")
        }
        try LMDBError.check(code, "mdb_put", path: environment.path)
    }
}

extension WriteTransaction {
    /// Opens (creating if needed) a named database inside this transaction. Used while
    /// initialising a new environment; the handle is valid after the commit.
    public func openDatabase(named name: String) throws(LMDBError) -> Database {
        checkLive()
        var handleOut: MDB_dbi = 0
        try LMDBError.check(mdb_dbi_open(handle, name, UInt32(MDB_CREATE), &handleOut), "mdb_dbi_open", path: environment.path)
        return Database(name: name, handle: handleOut)
    }
}
