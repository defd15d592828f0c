extension Environment {
    /// The name of the database that holds an environment's owner mark.
    public static let ownerDatabaseName = "owner"
    static let ownerKey = Array("owner".utf8)

    /// The owner recorded in this environment by ``claim(owner:)``, or nil when none was.
    /// Works on a read-only handle.
    public func owner() throws -> [UInt8]? {
        guard let database = try existingDatabase(named: Self.ownerDatabaseName) else { return nil }
        return try read { transaction in try transaction.get(database, key: Self.ownerKey) }
    }

    private func existingDatabase(named name: String) throws(LMDBError) -> Database? {
        do {
            return try database(named: name)
        } catch {
            if error.kind == .notFound { return nil }
            throw error
        }
    }

    /// Records `owner` in the environment if it has no owner yet. Returns the owner it had
    /// before: nil when `owner` was recorded now, otherwise what the caller must compare
    /// (a different owner means the environment belongs to something else).
    public func claim(owner: [UInt8]) throws -> [UInt8]? {
        let database = try self.database(named: Self.ownerDatabaseName, create: true)
        return try write { transaction in
            if let existing = try transaction.get(database, key: Self.ownerKey) { return existing }
            try transaction.put(database, key: Self.ownerKey, value: owner)
            return nil
        }
    }
}
