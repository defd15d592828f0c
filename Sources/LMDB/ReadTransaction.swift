import CLMDB

/// A read-only snapshot of an ``Environment``. Valid only inside the closure that received it;
/// any use after that is a programming error and stops the process.
///
/// Byte buffers handed to closures point into the memory map: they are valid until the closure
/// returns and must be copied to be kept.
public class ReadTransaction {
    let handle: OpaquePointer
    unowned let environment: Environment
    private(set) var isLive = true

    init(handle: OpaquePointer, environment: Environment) {
        self.handle = handle
        self.environment = environment
    }

    func invalidate() { isLive = false }

    @inline(__always)
    func checkLive() {
        precondition(isLive, "LMDB transaction used outside the closure it belongs to")
    }

    /// Calls `body` with the value stored under `key`, or `nil` when there is none.
    public func withValue<R>(
        _ database: Database, key: UnsafeRawBufferPointer,
        _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        checkLive()
        var keyValue = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var value = MDB_val()
        let code = mdb_get(handle, database.handle, &keyValue, &value)
        if code == MDB_NOTFOUND { return try body(nil) }
        try LMDBError.check(code, "mdb_get", path: environment.path)
        return try body(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    /// A copy of the value stored under `key`, or `nil`.
    public func get(_ database: Database, key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        checkLive()
        return try withBytes(key) { keyBytes throws(LMDBError) in
            var keyValue = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var value = MDB_val()
            let code = mdb_get(handle, database.handle, &keyValue, &value)
            if code == MDB_NOTFOUND { return nil }
            try LMDBError.check(code, "mdb_get", path: environment.path)
            return Array(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        }
    }

    /// Runs `body` with a cursor over `database`; the cursor is closed when it returns.
    public func withCursor<R>(_ database: Database, _ body: (Cursor) throws -> R) throws -> R {
        checkLive()
        var pointer: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(handle, database.handle, &pointer), "mdb_cursor_open", path: environment.path)
        let cursor = Cursor(handle: pointer!, transaction: self)
        defer {
            cursor.invalidate()
            mdb_cursor_close(pointer)
        }
        return try body(cursor)
    }

    /// The number of entries in `database`.
    public func count(_ database: Database) throws(LMDBError) -> Int {
        checkLive()
        var statistics = MDB_stat()
        try LMDBError.check(mdb_stat(handle, database.handle, &statistics), "mdb_stat", path: environment.path)
        return statistics.ms_entries
    }
}
