import CLMDB
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An LMDB environment: one directory holding `data.mdb` and `lock.mdb`.
///
/// Transactions are scoped to closures and never outlive them; a transaction belongs to the
/// thread that runs the closure and must not span an `await`. Readers use `MDB_NOTLS`, so any
/// thread may read while one thread writes.
///
/// The map grows by itself: when a write meets `MDB_MAP_FULL` (from `mdb_put` or from
/// `mdb_txn_commit`) the transaction is aborted, the map is doubled while no transaction of the
/// process is open, and the write closure runs again from the start. Nothing is half-written.
/// Past ``Configuration/mapSizeLimit`` the write fails with ``LMDBError/Kind/mapFull``.
///
/// LMDB forbids opening one environment twice in a process: the second `mdb_env_open` takes the
/// lock file's "only user" lock (POSIX locks never conflict within a process), resets the shared
/// reader table and transaction id under the first handle's readers, and closing either handle
/// drops the other's locks. So every `Environment` opened on the same data file in this process
/// shares one `MDB_env` (see ``SharedHandle``), which is closed when the last of them goes away.
public final class Environment: @unchecked Sendable {
    /// How a commit reaches the disk.
    public enum Durability: Sendable {
        /// LMDB's default: each commit syncs the data pages, then the meta page. Required for
        /// anything that is the system of record (the journal).
        case durable
        /// `MDB_NOSYNC`: commits are not synced. Only for environments rebuilt from the journal
        /// (projections); a crash may lose or corrupt them, and they are then rebuilt.
        case relaxed
    }

    public struct Configuration: Sendable {
        /// The first map size, in bytes. It is virtual address space, not disk.
        public var mapSize: Int = 256 << 20
        /// The largest the map may grow to.
        public var mapSizeLimit: Int = 1 << 40
        public var maxDatabases: UInt32 = 32
        public var maxReaders: UInt32 = 510
        public var durability: Durability = .durable
        public var readOnly: Bool = false
        /// `MDB_WRITEMAP`: a write transaction changes pages in the map itself, and a commit
        /// writes nothing with `pwrite` (the kernel writes the pages back later). LMDB sizes the
        /// data file to the map (a sparse file). Only with ``Durability/relaxed``, for
        /// environments rebuilt from the journal: a stray write into the map could damage
        /// committed pages. Ignored by read-only opens. Such a handle also opens with
        /// `MDB_NORDAHEAD`: a write to a page the file has not reached yet faults it in, and
        /// the kernel's read-around would zero-fill megabytes of the sparse file around it.
        public var writesInPlace: Bool = false

        public init() {}
    }

    /// The directory of the environment.
    public let path: String
    public let configuration: Configuration
    let handle: OpaquePointer
    private let shared: SharedHandle
    private var resizeLock: ReadWriteLock { shared.resizeLock }
    /// Reader slots of dead processes cleared when the environment was opened.
    public private(set) var staleReadersClearedAtOpen = 0

    /// The data file LMDB keeps in the directory.
    public var dataFilePath: String { path + "/data.mdb" }

    private init(path: String, configuration: Configuration, shared: SharedHandle) {
        self.path = path
        self.configuration = configuration
        self.shared = shared
        self.handle = shared.handle
    }

    deinit {
        SharedHandle.release(shared)
    }

    /// Whether `other` uses the same `MDB_env` (the same data file opened in this process).
    public func sharesHandle(with other: Environment) -> Bool { shared === other.shared }

    // MARK: Opening

    /// Opens an existing environment. Refuses a missing, empty, truncated or foreign data file
    /// with an error that names it, instead of letting LMDB initialise a new one.
    public static func open(at path: String, configuration: Configuration = .init()) throws(LMDBError) -> Environment {
        let dataFile = path + "/data.mdb"
        guard FileSystem.isDirectory(path) else {
            throw LMDBError(kind: .notFound, operation: "open", path: path, message: "no environment directory")
        }
        let size: Int
        switch FileSystem.status(dataFile) {
        case .file(let bytes):
            size = bytes
        case .missing:
            throw LMDBError(kind: .notFound, operation: "open", path: dataFile, message: "data file is missing")
        case .unreadable(let code):
            throw LMDBError(kind: .io(errno: code), code: code, operation: "open", path: dataFile,
                            message: "data file cannot be examined: " + String(cString: strerror(code)))
        case .directory, .special:
            throw LMDBError(kind: .corrupted, operation: "open", path: dataFile, message: "is not a regular file (LMDB's data file belongs here)")
        }
        guard size > 0 else {
            throw LMDBError(
                kind: .corrupted, operation: "open", path: dataFile,
                message: "data file is empty (truncated, or creation never finished)")
        }
        let environment = try openRaw(at: path, configuration: configuration)
        try environment.checkFileLength()
        environment.staleReadersClearedAtOpen = try environment.clearStaleReaders()
        return environment
    }

    /// Creates a new environment atomically: it is built in a temporary sibling directory,
    /// initialised by `initialize`, synced, and renamed into place. A crash leaves either no
    /// environment at `path` or a complete one.
    public static func create(
        at path: String, configuration: Configuration = .init(),
        initialize: (WriteTransaction) throws -> Void
    ) throws -> Environment {
        if FileSystem.exists(path) {
            throw LMDBError(kind: .keyExists, operation: "create", path: path, message: "already exists")
        }
        let parent = FileSystem.parentDirectory(of: path)
        try FileSystem.makeDirectory(parent)
        var random: UInt64 = 0
        withUnsafeMutableBytes(of: &random) { bytes in
            var generator = SystemRandomNumberGenerator()
            for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        }
        let temporary = path + ".creating-" + String(random, radix: 16)
        try FileSystem.makeDirectory(temporary)
        do {
            var initial = configuration
            initial.readOnly = false
            initial.durability = .durable
            initial.writesInPlace = false
            do {
                let environment = try openRaw(at: temporary, configuration: initial)
                try environment.write(initialize)
                try LMDBError.check(mdb_env_sync(environment.handle, 1), "mdb_env_sync", path: temporary)
            }
            try FileSystem.sync(temporary + "/data.mdb")
            try FileSystem.sync(temporary)
            try FileSystem.rename(temporary, to: path)
            try FileSystem.sync(parent)
        } catch {
            FileSystem.removeTree(temporary)
            throw error
        }
        return try open(at: path, configuration: configuration)
    }

    private static func openRaw(at path: String, configuration: Configuration) throws(LMDBError) -> Environment {
        let shared = try SharedHandle.acquire(path: path, configuration: configuration)
        return Environment(path: path, configuration: configuration, shared: shared)
    }

    /// LMDB maps the data file; reading a page past the end of a truncated file would kill the
    /// process with SIGBUS. Refuse such a file at open instead.
    private func checkFileLength() throws(LMDBError) {
        try Self.checkFileLength(handle: handle, dataFile: dataFilePath)
    }

    static func checkFileLength(handle: OpaquePointer, dataFile: String) throws(LMDBError) {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        var statistics = MDB_stat()
        mdb_env_stat(handle, &statistics)
        let needed = (info.me_last_pgno + 1) * Int(statistics.ms_psize)
        let actual = FileSystem.fileSize(dataFile) ?? 0
        if actual < needed {
            throw LMDBError(
                kind: .corrupted, operation: "open", path: dataFile,
                message: "data file is truncated: \(actual) bytes, the last committed page needs \(needed)")
        }
    }

    /// Walks every page of the committed snapshot and refuses a damaged one (``StructureCheck``),
    /// as every first open in a process does.
    public func checkStructure() throws(LMDBError) {
        try StructureCheck.run(handle: handle, dataFile: dataFilePath)
    }

    // MARK: Databases

    /// Opens a named database, creating it when `create` is true and the environment is writable.
    public func database(named name: String, create: Bool = false) throws(LMDBError) -> Database {
        var handleOut: MDB_dbi = 0
        if create && !configuration.readOnly {
            try writeTyped { transaction throws(LMDBError) in
                try LMDBError.check(
                    mdb_dbi_open(transaction.handle, name, UInt32(MDB_CREATE), &handleOut), "mdb_dbi_open", path: path)
            }
        } else {
            // A handle opened in a transaction is closed if that transaction aborts, so the
            // read-only transaction used here is committed, not aborted.
            let code: Int32 = resizeLock.withShared {
                var transaction: OpaquePointer?
                var code = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &transaction)
                guard code == 0 else { return code }
                code = mdb_dbi_open(transaction, name, 0, &handleOut)
                if code != 0 {
                    mdb_txn_abort(transaction)
                    return code
                }
                return mdb_txn_commit(transaction)
            }
            if code == MDB_NOTFOUND {
                throw LMDBError(kind: .notFound, code: code, operation: "mdb_dbi_open", path: path,
                                message: "database '\(name)' does not exist")
            }
            try LMDBError.check(code, "mdb_dbi_open", path: path)
        }
        return Database(name: name, handle: handleOut)
    }

    // MARK: Transactions

    /// Runs `body` in a read-only snapshot. The transaction ends when `body` returns.
    public func read<R>(_ body: (ReadTransaction) throws -> R) throws -> R {
        try resizeLock.withShared {
            let transaction = try beginTransaction(readOnly: true)
            defer {
                transaction.invalidate()
                mdb_txn_abort(transaction.handle)
            }
            return try body(transaction)
        }
    }

    /// Runs `body` in the write transaction and commits when it returns; aborts if it throws.
    ///
    /// `body` may run more than once: when the map fills it is run again after the map grows,
    /// so it must derive everything it writes from the transaction and its captured inputs.
    public func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        precondition(!configuration.readOnly, "write transaction on a read-only environment")
        while true {
            do {
                return try resizeLock.withShared {
                    let transaction = try beginWriteTransaction()
                    do {
                        let result = try body(transaction)
                        transaction.invalidate()
                        let code = mdb_txn_commit(transaction.handle)
                        if code != 0 { throw commitError(code) }
                        return result
                    } catch {
                        if transaction.isLive {
                            transaction.invalidate()
                            mdb_txn_abort(transaction.handle)
                        }
                        throw error
                    }
                }
            } catch let error as LMDBError where error.kind == .mapFull {
                try grow(after: error)
            }
        }
    }

    /// `write` with a typed error, for the wrapper's own use.
    func writeTyped<R>(_ body: (WriteTransaction) throws(LMDBError) -> R) throws(LMDBError) -> R {
        do {
            return try write { transaction in try body(transaction) }
        } catch let error as LMDBError {
            throw error
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    func readTyped<R>(_ body: (ReadTransaction) throws(LMDBError) -> R) throws(LMDBError) -> R {
        do {
            return try read { transaction in try body(transaction) }
        } catch let error as LMDBError {
            throw error
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    private func beginTransaction(readOnly: Bool) throws(LMDBError) -> ReadTransaction {
        let handle = try beginHandle(flags: readOnly ? UInt32(MDB_RDONLY) : 0)
        return ReadTransaction(handle: handle, environment: self)
    }

    private func beginWriteTransaction() throws(LMDBError) -> WriteTransaction {
        WriteTransaction(handle: try beginHandle(flags: 0), environment: self)
    }

    private func beginHandle(flags: UInt32) throws(LMDBError) -> OpaquePointer {
        var pointer: OpaquePointer?
        var code = mdb_txn_begin(handle, nil, flags, &pointer)
        if code == MDB_MAP_RESIZED {
            // Another process grew the map. Adopting its size needs no open transaction in this
            // process; the shared lock is held, so do it through the LMDB call that is safe here.
            code = mdb_env_set_mapsize(handle, 0)
            if code == 0 { code = mdb_txn_begin(handle, nil, flags, &pointer) }
        }
        try LMDBError.check(code, "mdb_txn_begin", path: path)
        return pointer!
    }

    private func commitError(_ code: Int32) -> LMDBError {
        if code == EIO || code == ENOSPC {
            // A full disk surfaces from the commit as EIO; statvfs tells it apart from a failing
            // device.
            let available = FileSystem.availableBytes(at: path) ?? Int.max
            if code == ENOSPC || available < Self.diskFullThreshold {
                return LMDBError(
                    kind: .diskFull, code: code, operation: "mdb_txn_commit", path: path,
                    message: "the file system is full (\(available) bytes available)")
            }
        }
        return LMDBError.classify(code, "mdb_txn_commit", path: path)
    }

    /// Below this many free bytes, an `EIO` from a commit is taken to mean "disk full".
    public static let diskFullThreshold = 8 << 20

    private func grow(after error: LMDBError) throws(LMDBError) {
        let outcome: Result<Void, LMDBError> = resizeLock.withExclusive {
            let current = shared.currentMapSize
            let next = current * 2
            guard next <= configuration.mapSizeLimit else {
                return .failure(LMDBError(
                    kind: .mapFull, code: error.code, operation: error.operation, path: path,
                    message: "the map is full at \(current) bytes and may not grow past \(configuration.mapSizeLimit)"))
            }
            let code = mdb_env_set_mapsize(handle, next)
            guard code == 0 else { return .failure(LMDBError.classify(code, "mdb_env_set_mapsize", path: path)) }
            shared.currentMapSize = next
            return .success(())
        }
        try outcome.get()
    }

    // MARK: Maintenance

    /// Clears reader slots left by processes that died while reading (they pin old pages).
    /// Returns how many were cleared.
    @discardableResult
    public func clearStaleReaders() throws(LMDBError) -> Int {
        var dead: Int32 = 0
        try LMDBError.check(mdb_reader_check(handle, &dead), "mdb_reader_check", path: path)
        return Int(dead)
    }

    /// Forces the data to disk (needed only with ``Durability/relaxed``).
    public func sync() throws(LMDBError) {
        try LMDBError.check(mdb_env_sync(handle, 1), "mdb_env_sync", path: path)
    }

    /// The current map size in bytes.
    public var mapSize: Int { resizeLock.withShared { shared.currentMapSize } }

    /// The size of the data file on disk.
    public var dataFileSize: Int { FileSystem.fileSize(dataFilePath) ?? 0 }
}

/// The one `MDB_env` of a data file in this process, counted by the ``Environment`` values that
/// use it. Opening and closing happen under one process-wide lock, so no second handle on the
/// same file is ever opened, even for a moment while the last user closes the first.
final class SharedHandle: @unchecked Sendable {
    /// A data file, by device and inode: the same file under any path, and a new file (a rebuilt
    /// environment renamed into place) is a new handle.
    struct FileIdentity: Hashable {
        let device: UInt64
        let inode: UInt64

        init?(dataFile: String) {
            var info = stat()
            guard stat(dataFile, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    let handle: OpaquePointer
    let identity: FileIdentity
    let path: String
    /// What the first opener asked for (the `MDB_env`'s flags).
    let configuration: Environment.Configuration
    let resizeLock = ReadWriteLock()
    /// Guarded by `resizeLock` (written only while it is held exclusively).
    var currentMapSize: Int
    /// Guarded by the registry's lock.
    private var users = 1

    private init(handle: OpaquePointer, identity: FileIdentity, path: String, configuration: Environment.Configuration, mapSize: Int) {
        self.handle = handle
        self.identity = identity
        self.path = path
        self.configuration = configuration
        self.currentMapSize = mapSize
    }

    private static let registry = Mutex<[FileIdentity: SharedHandle]>([:])

    /// The handle already open on `path`'s data file, or a new one. A read-write request on a
    /// file this process holds read-only (or a durable one on a file held without syncing, or
    /// one needing more named databases than the open handle allows) is refused: the open
    /// handle's flags cannot change under its users.
    static func acquire(path: String, configuration: Environment.Configuration) throws(LMDBError) -> SharedHandle {
        let outcome: Result<SharedHandle, LMDBError> = registry.withLock { open in
            if let identity = FileIdentity(dataFile: path + "/data.mdb"), let existing = open[identity] {
                if let conflict = existing.conflict(with: configuration) {
                    return .failure(LMDBError(
                        kind: .io(errno: EBUSY), code: EBUSY, operation: "open", path: path + "/data.mdb",
                        message: "already open in this process (as \(existing.path)) \(conflict); close it first"))
                }
                existing.users += 1
                return .success(existing)
            }
            return Result { () throws(LMDBError) in
                let shared = try openNew(path: path, configuration: configuration)
                open[shared.identity] = shared
                return shared
            }
        }
        return try outcome.get()
    }

    /// Drops one user; the last one closes the `MDB_env`.
    static func release(_ shared: SharedHandle) {
        registry.withLock { open in
            shared.users -= 1
            if shared.users == 0 {
                open[shared.identity] = nil
                mdb_env_close(shared.handle)
            }
        }
    }

    private func conflict(with asked: Environment.Configuration) -> String? {
        if configuration.readOnly && !asked.readOnly { return "read-only, and read-write was asked" }
        if configuration.durability == .relaxed && asked.durability == .durable {
            return "without syncing commits, and durable commits were asked"
        }
        if !configuration.readOnly && !asked.readOnly && configuration.writesInPlace != asked.writesInPlace {
            return configuration.writesInPlace
                ? "writing in place (MDB_WRITEMAP), and pwrite commits were asked"
                : "with pwrite commits, and writing in place (MDB_WRITEMAP) was asked"
        }
        if asked.maxDatabases > configuration.maxDatabases {
            return "with room for \(configuration.maxDatabases) named databases, and \(asked.maxDatabases) were asked"
        }
        return nil
    }

    private static func openNew(path: String, configuration: Environment.Configuration) throws(LMDBError) -> SharedHandle {
        let handle = try createHandle(path: path)
        do throws(LMDBError) {
            try LMDBError.check(mdb_env_set_maxdbs(handle, configuration.maxDatabases), "mdb_env_set_maxdbs")
            try LMDBError.check(mdb_env_set_maxreaders(handle, configuration.maxReaders), "mdb_env_set_maxreaders")
            // Never a map smaller than the data file: writing in place, LMDB cuts the file to
            // the map when it opens, and a process that grew the map and still maps the pages
            // past the cut (a server, beside `journal-tool verify`) would fault on its next
            // page (SIGBUS).
            let fileSize = FileSystem.fileSize(path + "/data.mdb") ?? 0
            try LMDBError.check(mdb_env_set_mapsize(handle, max(configuration.mapSize, fileSize)), "mdb_env_set_mapsize")
            var flags = UInt32(MDB_NOTLS)
            if configuration.readOnly { flags |= UInt32(MDB_RDONLY) }
            if configuration.durability == .relaxed { flags |= UInt32(MDB_NOSYNC) }
            if configuration.writesInPlace && !configuration.readOnly {
                precondition(configuration.durability == .relaxed, "writing in place is only for relaxed environments")
                // LMDB extends the data file to the map before anything reads it, which would
                // turn a truncated file's missing pages into zeros: measure it before that.
                try checkLengthBeforeExtending(path: path, configuration: configuration)
                flags |= UInt32(MDB_WRITEMAP) | UInt32(MDB_NORDAHEAD)
            }
            try LMDBError.check(mdb_env_open(handle, path, flags, 0o600), "mdb_env_open", path: path)
            // Before anything follows a page through the map (StructureCheck says why).
            try StructureCheck.run(handle: handle, dataFile: path + "/data.mdb")
        } catch {
            mdb_env_close(handle)
            if error.kind == .corrupted && error.operation != StructureCheck.operation {
                throw LMDBError(
                    kind: .corrupted, code: error.code, operation: "mdb_env_open", path: path + "/data.mdb",
                    message: "not an LMDB environment, or damaged: \(error.message)")
            }
            throw error
        }
        guard let identity = FileIdentity(dataFile: path + "/data.mdb") else {
            let code = errno
            mdb_env_close(handle)
            throw LMDBError(kind: .io(errno: code), code: code, operation: "stat", path: path + "/data.mdb",
                            message: "the data file LMDB just opened cannot be read back")
        }
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return SharedHandle(handle: handle, identity: identity, path: path, configuration: configuration, mapSize: info.me_mapsize)
    }

    /// A new, unopened `MDB_env`.
    private static func createHandle(path: String) throws(LMDBError) -> OpaquePointer {
        var pointer: OpaquePointer?
        try LMDBError.check(mdb_env_create(&pointer), "mdb_env_create", path: path)
        guard let handle = pointer else {
            throw LMDBError(kind: .io(errno: ENOMEM), operation: "mdb_env_create", path: path, message: "no handle")
        }
        return handle
    }

    /// Refuses a data file shorter than its last committed page, read with a read-only open
    /// that takes no lock and is closed at once (a file that does not exist yet is left to the
    /// real open).
    private static func checkLengthBeforeExtending(path: String, configuration: Environment.Configuration) throws(LMDBError) {
        guard FileSystem.fileSize(path + "/data.mdb") != nil else { return }
        let probe = try createHandle(path: path)
        defer { mdb_env_close(probe) }
        try LMDBError.check(mdb_env_set_maxdbs(probe, configuration.maxDatabases), "mdb_env_set_maxdbs")
        try LMDBError.check(mdb_env_open(probe, path, UInt32(MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS), 0o600), "mdb_env_open", path: path)
        try Environment.checkFileLength(handle: probe, dataFile: path + "/data.mdb")
    }
}
