import LMDB
import TallyCrypto

/// Why the journal refused or failed an operation. Each case says what a caller can do.
public enum JournalError: Error, CustomStringConvertible, Sendable {
    /// The storage layer failed (I/O, a full map past its limit).
    case storage(LMDBError)
    /// A file in the data directory is not what the journal wrote: foreign, truncated, damaged.
    case corruptFile(path: String, reason: String)
    /// A key file is missing, unreadable, of the wrong kind, too open, or not the journal's key.
    case keyFile(path: String, reason: String)
    /// The journal does not verify; it must not be served read-write.
    case verificationFailed(VerificationFailure)
    /// An event draft breaks a format rule (type name, size); nothing was appended.
    case invalidEvent(reason: String)
    /// The write queue is full; retry after the given number of seconds.
    case overloaded(retryAfterSeconds: Int)
    /// The disk is full; nothing was written. Retry after space is freed.
    case storageFull(retryAfterSeconds: Int)
    /// The writer stopped after a failed commit or sync, and acknowledges nothing more. The
    /// process must exit; the next start verifies the journal.
    case writerFailed(reason: String)
    /// The journal was closed.
    case closed
    /// No such event or block.
    case notFound(String)

    public var description: String {
        switch self {
        case .storage(let error): return "journal storage error: \(error)"
        case .corruptFile(let path, let reason): return "\(path): \(reason)"
        case .keyFile(let path, let reason): return "key file \(path): \(reason)"
        case .verificationFailed(let failure): return "journal does not verify: \(failure)"
        case .invalidEvent(let reason): return "invalid event: \(reason)"
        case .overloaded(let seconds): return "journal write queue is full; retry after \(seconds) s"
        case .storageFull(let seconds): return "disk is full; nothing was written; retry after \(seconds) s"
        case .writerFailed(let reason): return "journal writer stopped: \(reason)"
        case .closed: return "journal is closed"
        case .notFound(let what): return "not found: \(what)"
        }
    }
}
