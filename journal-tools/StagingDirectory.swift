import Foundation
import LMDB
import TallyCrypto

/// The directory a long command builds its result in before renaming it into place
/// (`TARGET.importing-<pid>-<random>`, `TARGET.partial-<pid>-<random>`). A run that was
/// interrupted (SIGINT, SIGKILL, a crash) leaves its own behind; the next run for the same
/// target removes those whose process is gone, so they never pile up.
enum StagingDirectory {
    /// A new staging path for `target`, after removing the ones of dead runs.
    static func make(for target: String, kind: String) -> String {
        removeAbandoned(for: target, kind: kind)
        return "\(target).\(kind)-\(getpid())-\(Hex.encode(SecureRandom.bytes(4)))"
    }

    /// Removes `TARGET.<kind>-<pid>-*` whose process no longer runs; returns what it removed.
    @discardableResult
    static func removeAbandoned(for target: String, kind: String) -> [String] {
        let parent = FileSystem.parentDirectory(of: target)
        let prefix = (target as NSString).lastPathComponent + ".\(kind)-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = pid_t(rest[..<dash]), pid > 0 else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }
            let path = parent + "/" + name
            FileSystem.removeTree(path)
            removed.append(path)
        }
        return removed
    }
}
