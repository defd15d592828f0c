import CLMDB

#if canImport(Glibc)
import Glibc
#endif

/// An error from LMDB, kept in the three groups that decide what a caller can do about it.
///
/// - Handleable: the world caused it and the caller can act (`mapFull`, `keyExists`,
///   `readersFull`, `transactionFull`, `diskFull`, `io`).
/// - Corruption: the files are not what LMDB (or Tally) wrote (`corrupted`). The caller must
///   stop using the environment and report the path.
/// - Misuse (`MDB_BAD_TXN`, `EINVAL`, `MDB_BAD_VALSIZE`, ...) is a programming error in the
///   caller and ends the process through a precondition failure; it is never thrown.
///
/// `MDB_NOTFOUND` is not an error here: lookups return `nil`.
public struct LMDBError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The map is full (`MDB_MAP_FULL`) and could not be grown within the configured limit.
        case mapFull
        /// The key exists and the write asked not to overwrite it (`MDB_KEYEXIST`).
        case keyExists
        /// `MDB_APPEND` was given a key that does not sort after the last one.
        case keyOutOfOrder
        /// Every reader slot is taken (`MDB_READERS_FULL`).
        case readersFull
        /// The transaction has too many dirty pages (`MDB_TXN_FULL`).
        case transactionFull
        /// The file system is full (seen from a commit as `EIO` or `ENOSPC`, confirmed by `statvfs`).
        case diskFull
        /// An I/O error from the operating system, with its errno.
        case io(errno: Int32)
        /// The files are not a valid environment, or are damaged (`MDB_INVALID`, `MDB_CORRUPTED`,
        /// `MDB_PANIC`, `MDB_PAGE_NOTFOUND`, `MDB_VERSION_MISMATCH`, a truncated data file).
        case corrupted
        /// There is no environment at the path.
        case notFound
    }

    public let kind: Kind
    /// The LMDB or errno code, when there is one.
    public let code: Int32
    /// The operation that failed (`mdb_put`, `mdb_txn_commit`, `open`, ...).
    public let operation: String
    /// The file or directory the error is about, when known.
    public let path: String?
    /// A human-readable explanation.
    public let message: String

    public init(kind: Kind, code: Int32 = 0, operation: String, path: String? = nil, message: String) {
        self.kind = kind
        self.code = code
        self.operation = operation
        self.path = path
        self.message = message
    }

    public var description: String {
        var text = "LMDB \(operation) failed"
        if let path { text += " for \(path)" }
        text += ": \(message)"
        if code != 0 { text += " (code \(code))" }
        return text
    }

    public var isCorruption: Bool { kind == .corrupted }

    /// Classifies a non-zero LMDB return code, or stops the process for misuse.
    /// `path` is read only for a failure: every put and get checks its code, and reading a
    /// transaction's `environment.path` (an unowned reference made strong, and the string
    /// retained) on each one was about 2 % of the server's samples.
    @inline(__always)
    static func check(
        _ code: Int32, _ operation: String, path: @autoclosure () -> String? = nil,
        file: StaticString = #fileID, line: UInt = #line
    ) throws(LMDBError) {
        guard code != 0 else { return }
        throw classify(code, operation, path: path(), file: file, line: line)
    }

    static func classify(
        _ code: Int32, _ operation: String, path: String? = nil,
        file: StaticString = #fileID, line: UInt = #line
    ) -> LMDBError {
        let message = String(cString: mdb_strerror(code))
        let kind: Kind
        switch code {
        case MDB_MAP_FULL: kind = .mapFull
        case MDB_KEYEXIST: kind = .keyExists
        case MDB_READERS_FULL: kind = .readersFull
        case MDB_TXN_FULL: kind = .transactionFull
        case MDB_INVALID, MDB_CORRUPTED, MDB_PANIC, MDB_PAGE_NOTFOUND, MDB_VERSION_MISMATCH:
            kind = .corrupted
        case ENOSPC, EDQUOT: kind = .diskFull
        case ENOENT: kind = .notFound
        case EIO, EACCES, EPERM, EROFS, EAGAIN, ENOMEM, EMFILE, ENFILE, EBUSY:
            kind = .io(errno: code)
        case MDB_BAD_DBI, MDB_BAD_RSLOT:
            preconditionFailure(
                "LMDB misuse in \(operation): \(message) (code \(code))", file: file, line: line)
        case MDB_BAD_TXN, MDB_BAD_VALSIZE, MDB_INCOMPATIBLE, EINVAL:
            // Misuse when the caller is wrong, but also what LMDB answers when a damaged file
            // gives it a bad page, size or flag: never stop the process for what a file says.
            kind = .corrupted
        default:
            kind = code > 0 ? .io(errno: code) : .corrupted
        }
        return LMDBError(kind: kind, code: code, operation: operation, path: path, message: message)
    }
}
