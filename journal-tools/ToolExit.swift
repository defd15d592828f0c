import Foundation
import LMDB

/// Ends a command with a specific exit code, after printing `message` (if any) to stderr.
/// Commands throw it instead of calling `exit` so that `JournalTool.main` owns the process end,
/// and with it the one place that reports a failure as JSON under `--json` (``FailureOutput``).
struct ToolExit: Error {
    let code: ToolExitCode
    /// The line for stderr, as the human reads it.
    let message: String?
    /// The failure's stable name (`failure.kind` under `--json`).
    let kind: String
    /// The first bad sequence, when the failure has one.
    let sequence: UInt64?
    /// True when the command has already printed its outcome, failure included (as JSON
    /// under `--json`): nothing more is printed.
    let outcomePrinted: Bool

    /// The reason under `--json`, when it is not `message` without its prefix.
    private let statedReason: String?

    init(_ code: ToolExitCode, message: String? = nil, kind: String? = nil, sequence: UInt64? = nil, reason: String? = nil) {
        self.init(code, message: message, kind: kind, sequence: sequence, reason: reason, outcomePrinted: false)
    }

    private init(_ code: ToolExitCode, message: String?, kind: String?, sequence: UInt64?, reason: String?, outcomePrinted: Bool) {
        self.code = code
        self.message = message
        self.kind = kind ?? code.kind
        self.sequence = sequence
        self.statedReason = reason
        self.outcomePrinted = outcomePrinted
    }

    /// The command line or what it names is unusable: exit 2 with `message`.
    static func usage(_ message: String) -> ToolExit {
        ToolExit(.usage, message: "journal-tool: error: " + message, kind: ToolExitCode.Kinds.usage)
    }

    /// Input that cannot be read (a missing or foreign data directory, a damaged file, an
    /// unreadable key or receipt): exit 2 with `message`.
    static func unreadable(_ message: String) -> ToolExit {
        ToolExit(.usage, message: "journal-tool: error: " + message, kind: ToolExitCode.Kinds.unreadableInput)
    }

    /// An LMDB environment at `path` this user may not open, or nil when `error` is something
    /// else. A read-only open (`MDB_RDONLY`) still writes LMDB's lock file, the reader table a
    /// live writer relies on, so read access to the data alone is not enough; reading without
    /// the lock (`MDB_NOLOCK`) would not be safe beside a writer.
    static func lmdbAccess(_ error: LMDBError, environment path: String) -> ToolExit? {
        guard error.code == EACCES || error.code == EPERM else { return nil }
        return .unreadable(
            "\(error.description); a reader needs write access to \(path)/lock.mdb (LMDB's lock file, which even read-only opens write), or a read-only mount")
    }

    /// Output that cannot be written: exit 2 with `message`.
    static func unwritable(_ message: String) -> ToolExit {
        ToolExit(.usage, message: "journal-tool: error: " + message, kind: ToolExitCode.Kinds.writeFailed)
    }

    /// The item asked for does not exist: exit 1 with `message`.
    static func notFound(_ message: String) -> ToolExit {
        ToolExit(.checkFailed, message: "journal-tool: " + message, kind: ToolExitCode.Kinds.notFound)
    }

    /// The command has printed its outcome (its failure included): exit with `code` only.
    static func printed(_ code: ToolExitCode) -> ToolExit {
        ToolExit(code, message: nil, kind: nil, sequence: nil, reason: nil, outcomePrinted: true)
    }

    /// `message` without the `journal-tool: ` prefix the stderr line starts with.
    var reason: String {
        if let statedReason, !statedReason.isEmpty { return statedReason }
        guard var text = message else { return kind }
        for prefix in ["journal-tool: error: ", "journal-tool: "] where text.hasPrefix(prefix) {
            text.removeFirst(prefix.count)
            break
        }
        return text
    }
}
