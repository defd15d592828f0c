#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds out whether another process has a journal's LMDB environment open.
///
/// Every process that opens an LMDB environment (reader or writer) holds a shared POSIX record
/// lock on the first byte of `lock.mdb` for as long as it keeps the environment open. Asking
/// for a conflicting (exclusive) lock with `F_GETLK` names such a process without taking
/// anything. It must run before this process opens the environment itself: closing any
/// descriptor of `lock.mdb` would drop this process's own POSIX locks on it.
enum JournalLockProbe {
    /// The ID of a process holding `journalPath`'s environment open, or nil when none does
    /// (or the lock file does not exist).
    static func otherHolder(of journalPath: String) -> pid_t? {
        let lockPath = journalPath + "/lock.mdb"
        let descriptor = open(lockPath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var query = flock()
        query.l_type = Int16(F_WRLCK)
        query.l_whence = Int16(SEEK_SET)
        query.l_start = 0
        query.l_len = 1
        guard fcntl(descriptor, F_GETLK, &query) == 0 else { return nil }
        return query.l_type == Int16(F_UNLCK) ? nil : query.l_pid
    }
}
