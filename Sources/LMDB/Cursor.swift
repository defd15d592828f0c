import CLMDB

/// A cursor over one database inside a transaction. `key` and `value` point into the memory
/// map and are valid until the cursor moves or its closure returns.
public final class Cursor {
    let handle: OpaquePointer
    unowned let transaction: ReadTransaction
    private var isLive = true
    private var currentKey = MDB_val()
    private var currentValue = MDB_val()

    init(handle: OpaquePointer, transaction: ReadTransaction) {
        self.handle = handle
        self.transaction = transaction
    }

    func invalidate() { isLive = false }

    /// The key at the cursor's position.
    public var key: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: currentKey.mv_data, count: currentKey.mv_size)
    }

    /// The value at the cursor's position.
    public var value: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: currentValue.mv_data, count: currentValue.mv_size)
    }

    private func move(_ operation: MDB_cursor_op) throws(LMDBError) -> Bool {
        precondition(isLive, "LMDB cursor used outside its closure")
        let code = mdb_cursor_get(handle, &currentKey, &currentValue, operation)
        if code == MDB_NOTFOUND { return false }
        try LMDBError.check(code, "mdb_cursor_get", path: transaction.environment.path)
        return true
    }

    public func first() throws(LMDBError) -> Bool { try move(MDB_FIRST) }
    public func last() throws(LMDBError) -> Bool { try move(MDB_LAST) }
    public func next() throws(LMDBError) -> Bool { try move(MDB_NEXT) }
    public func previous() throws(LMDBError) -> Bool { try move(MDB_PREV) }

    /// Positions at the first key greater than or equal to `key`.
    public func seek(atOrAfter key: [UInt8]) throws(LMDBError) -> Bool {
        precondition(isLive, "LMDB cursor used outside its closure")
        return try withBytes(key) { bytes throws(LMDBError) in
            currentKey = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            let code = mdb_cursor_get(handle, &currentKey, &currentValue, MDB_SET_RANGE)
            if code == MDB_NOTFOUND { return false }
            try LMDBError.check(code, "mdb_cursor_get", path: transaction.environment.path)
            return true
        }
    }
}
