import LMDB

#if canImport(Glibc)
import Glibc
#endif

/// Small files written so that a crash leaves the old file or the new one, never a mix:
/// write to a temporary sibling, fsync it, rename over the target, fsync the directory.
public enum AtomicFile {
    public static func write(_ path: String, contents: [UInt8], mode: mode_t) throws {
        let temporary = path + ".tmp"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw fileError("open", temporary) }
        var written = 0
        while written < contents.count {
            let result = contents.withUnsafeBytes { bytes in
                Glibc.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let error = fileError("write", temporary)
                close(descriptor)
                throw error
            }
            written += result
        }
        guard fsync(descriptor) == 0 else {
            let error = fileError("fsync", temporary)
            close(descriptor)
            throw error
        }
        close(descriptor)
        try FileSystem.rename(temporary, to: path)
        try FileSystem.sync(FileSystem.parentDirectory(of: path))
    }

    /// The whole file, or nil when it does not exist. Anything but a regular file (a FIFO, a
    /// device, a directory) is refused: opened without O_NONBLOCK, a FIFO would wait forever.
    /// Errors are ``JournalError/keyFile(path:reason:)`` naming the file and what is wrong with it.
    public static func read(_ path: String) throws -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw JournalError.keyFile(path: path, reason: "cannot be read: " + String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw JournalError.keyFile(path: path, reason: "cannot be examined: " + String(cString: strerror(errno)))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw JournalError.keyFile(path: path, reason: info.st_mode & S_IFMT == S_IFDIR ? "is a directory, not a file" : "not a regular file")
        }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw JournalError.keyFile(path: path, reason: "cannot be read: " + String(cString: strerror(errno)))
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            if result.count > 1 << 20 { throw JournalError.keyFile(path: path, reason: "file is larger than 1 MiB") }
        }
        return result
    }

    /// The permission bits of a file (of the file a symbolic link names).
    public static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o777
    }

    private static func fileError(_ operation: String, _ path: String) -> JournalError {
        .storage(LMDBError(kind: .io(errno: errno), code: errno, operation: operation, path: path,
                           message: String(cString: strerror(errno))))
    }
}
