#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few POSIX file operations the wrapper needs, with errors that name the path.
public enum FileSystem {
    /// The size of a regular file, or `nil` when there is none at `path`.
    public static func fileSize(_ path: String) -> Int? {
        if case .file(let size) = status(path) { size } else { nil }
    }

    /// What is at a path, for errors that say what is wrong rather than "missing".
    public enum Status: Equatable {
        case missing
        case file(size: Int)
        case directory
        /// A FIFO, device, socket.
        case special
        /// `stat` failed for another reason than absence (permissions, I/O): the errno.
        case unreadable(errno: Int32)
    }

    /// What is at `path` (a symbolic link is followed).
    public static func status(_ path: String) -> Status {
        var info = stat()
        guard stat(path, &info) == 0 else { return errno == ENOENT || errno == ENOTDIR ? .missing : .unreadable(errno: errno) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file(size: Int(info.st_size))
        case S_IFDIR: return .directory
        default: return .special
        }
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        status(path) == .directory
    }

    /// Creates a directory (and its parents) with the given mode.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws(LMDBError) {
        if isDirectory(path) { return }
        let parent = parentDirectory(of: path)
        if parent != path && !parent.isEmpty && !isDirectory(parent) {
            try makeDirectory(parent, mode: mode)
        }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw LMDBError.fromErrno("mkdir", path: path)
        }
    }

    /// fsync a file or directory by path, so a rename or a new file survives a crash.
    public static func sync(_ path: String) throws(LMDBError) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw LMDBError.fromErrno("open", path: path) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw LMDBError.fromErrno("fsync", path: path) }
    }

    public static func rename(_ from: String, to: String) throws(LMDBError) {
        guard Glibc.rename(from, to) == 0 else { throw LMDBError.fromErrno("rename", path: to) }
    }

    /// Removes a directory tree (used for half-created environments and tests).
    public static func removeTree(_ path: String) {
        guard let directory = opendir(path) else {
            unlink(path)
            return
        }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            let child = path + "/" + name
            if isDirectory(child) { removeTree(child) } else { unlink(child) }
        }
        closedir(directory)
        rmdir(path)
    }

    /// The names in a directory, without `.` and `..`; empty when it cannot be read.
    public static func contents(of path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Bytes available to an unprivileged writer on the file system holding `path`.
    public static func availableBytes(at path: String) -> Int? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}

extension LMDBError {
    /// The error `errno` describes after a failed file operation on `path`.
    public static func fromErrno(_ operation: String, path: String) -> LMDBError {
        let code = errno
        let message = String(cString: strerror(code))
        let kind: Kind
        switch code {
        case ENOENT: kind = .notFound
        case ENOSPC, EDQUOT: kind = .diskFull
        default: kind = .io(errno: code)
        }
        return LMDBError(kind: kind, code: code, operation: operation, path: path, message: message)
    }
}
