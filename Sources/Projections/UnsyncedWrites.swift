import Foundation
import LMDB

#if canImport(Glibc)
import Glibc
#endif

/// Tells read models that a system crash may have torn from ones a process crash left whole.
///
/// The projections environment commits without syncing (`MDB_NOSYNC`) and writes in place: a
/// killed process loses nothing, since its committed pages are in the page cache, but an
/// operating-system crash or a power loss can leave the meta page pointing at pages that never
/// reached the disk. LMDB keeps no page checksums, so such an environment opens as if nothing
/// happened and serves whatever the torn pages hold.
///
/// So, before its first write, each process leaves a marker file in the environment's directory,
/// `unsynced-<pid>-<random>`, holding the kernel's boot ID
/// (`/proc/sys/kernel/random/boot_id`), and syncs it. ``flush(sync:)`` syncs the environment
/// and removes the marker, with those of dead processes of the same boot (the sync covered their
/// pages too, which share the page cache). A marker of another boot means the machine stopped
/// while the environment held writes that were never synced: ``tornReason(in:bootID:)`` says so,
/// and the opener folds the read models again from the journal instead of trusting them. A
/// marker of this boot is a process that crashed or still runs: its pages are in the page cache.
///
/// Errors lean one way: a marker that cannot be read, or a boot ID that cannot be known, counts
/// as torn, which costs a fold from the journal and never a torn read model served. A process in
/// another PID namespace sharing the directory could be taken for dead; Tally does not run so.
final class UnsyncedWrites: @unchecked Sendable {
    static let prefix = "unsynced-"
    static let format = "tally-projections-unsynced/1"

    let directory: String
    /// This boot's ID; nil when the kernel does not tell (every marker then counts as torn).
    let bootID: String?

    private let condition = NSCondition()
    /// This process's marker, while it is on disk.
    private var marker: String?
    /// Write transactions under way; a flush waits for them.
    private var writing = 0

    init(directory: String, bootID: String?) {
        self.directory = directory
        self.bootID = bootID
    }

    /// The kernel's ID of this boot; nil where there is none to read.
    static func currentBootID() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }

    /// Why the environment in `directory` may be torn, or nil when every marker is of this boot
    /// (or there is no such directory).
    static func tornReason(in directory: String, bootID: String?) -> String? {
        for name in FileSystem.contents(of: directory) where name.hasPrefix(prefix) {
            guard let marker = Marker(path: directory + "/" + name) else {
                return "\(name) cannot be read as a marker of unsynced writes"
            }
            guard let bootID else {
                return "\(name) marks writes that may not be synced, and this system has no boot ID to tell a restart by"
            }
            if marker.bootID != bootID {
                return "process \(marker.pid) wrote without syncing during boot \(marker.bootID), and the system has restarted since (boot \(bootID))"
            }
        }
        return nil
    }

    /// Called before each write transaction: leaves this process's marker first if it is not
    /// there. Pair with ``endWrite()``.
    func beginWrite() throws {
        condition.lock()
        defer { condition.unlock() }
        if marker == nil {
            marker = try leaveMarker()
        }
        writing += 1
    }

    func endWrite() {
        condition.lock()
        writing -= 1
        if writing == 0 { condition.broadcast() }
        condition.unlock()
    }

    /// Waits for the write transactions under way, runs `sync` (which must make every committed
    /// page durable) with no write starting meanwhile, then removes this process's marker and
    /// those of dead processes of this boot.
    func flush(sync: () throws -> Void) throws {
        condition.lock()
        defer { condition.unlock() }
        while writing > 0 { condition.wait() }
        try sync()
        if let marker {
            unlink(directory + "/" + marker)
            self.marker = nil
        }
        for name in FileSystem.contents(of: directory) where name.hasPrefix(Self.prefix) {
            guard let other = Marker(path: directory + "/" + name), other.bootID == bootID, !Self.isAlive(other.pid) else { continue }
            unlink(directory + "/" + name)
        }
        try? FileSystem.sync(directory)
    }

    /// This process's marker, written and synced with its directory entry.
    private func leaveMarker() throws -> String {
        var random: UInt32 = 0
        arc4random_buf(&random, MemoryLayout<UInt32>.size)
        let name = Self.prefix + "\(getpid())-" + String(random, radix: 16)
        let path = directory + "/" + name
        let contents = Array("\(Self.format)\nboot \(bootID ?? "unknown")\npid \(getpid())\n".utf8)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw LMDBError.fromErrno("open", path: path) }
        defer { close(descriptor) }
        var written = 0
        while written < contents.count {
            let count = contents.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                throw LMDBError.fromErrno("write", path: path)
            }
            written += count
        }
        guard fsync(descriptor) == 0 else { throw LMDBError.fromErrno("fsync", path: path) }
        try FileSystem.sync(directory)
        return name
    }

    private static func isAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    /// A marker file's fields; nil when it is not one.
    struct Marker {
        let bootID: String
        let pid: Int32

        init?(path: String) {
            guard let size = FileSystem.fileSize(path), size <= 4096,
                  let text = try? String(contentsOfFile: path, encoding: .utf8)
            else { return nil }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard lines.count == 4, lines[0] == UnsyncedWrites.format, lines[3].isEmpty,
                  lines[1].hasPrefix("boot "), lines[2].hasPrefix("pid "),
                  let pid = Int32(lines[2].dropFirst(4)), pid > 0
            else { return nil }
            let boot = String(lines[1].dropFirst(5))
            guard !boot.isEmpty else { return nil }
            self.bootID = boot
            self.pid = pid
        }
    }
}
