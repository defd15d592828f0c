import Journal

/// The process exit status of `journal-tool`. The numbers are a public contract (scripts test
/// them; `Schemas/journal.md` lists them): a number is never reused for another meaning.
struct ToolExitCode: RawRepresentable, Equatable, Sendable {
    let rawValue: Int32

    init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// The command did what it was asked, and every check it made held.
    static let success = ToolExitCode(rawValue: 0)
    /// A check failed (`receipt verify`), or the event or block asked for does not exist.
    static let checkFailed = ToolExitCode(rawValue: 1)
    /// The command line is wrong, or the input could not be read at all: a missing or foreign
    /// data directory, a damaged LMDB file, an unreadable key or receipt file.
    static let usage = ToolExitCode(rawValue: 2)
    /// Another process has the journal open, and the command must be the only one to write it
    /// (`keys rotate`).
    static let journalInUse = ToolExitCode(rawValue: 3)
    /// `replay --compare-live`: the replayed write model or read models differ from the live ones.
    static let writeModelMismatch = ToolExitCode(rawValue: 28)

    /// The stable names of the failures that are not a verification, audit or import failure
    /// (`failure.kind` under `--json`; `Schemas/journal.md` §9 lists them).
    enum Kinds {
        /// Exit 1: a check failed.
        static let checkFailed = "check-failed"
        /// Exit 1: the event or block asked for does not exist.
        static let notFound = "not-found"
        /// Exit 2: the command line is wrong, or what it names cannot be used.
        static let usage = "usage"
        /// Exit 2: the data directory, journal, a key, receipt or export file cannot be read.
        static let unreadableInput = "unreadable-input"
        /// Exit 2: output cannot be written.
        static let writeFailed = "write-failed"
        /// Exit 3.
        static let journalInUse = "journal-in-use"
        /// Exit 28.
        static let writeModelMismatch = "write-model-mismatch"
    }

    /// The name of the failure class this code stands for when nothing more precise is known:
    /// the verification, audit or import kind that owns the number, else the general class.
    var kind: String {
        if let kind = VerificationFailure.Kind.allCases.first(where: { $0.exitCode == self }) { return kind.rawValue }
        if let kind = AuditFailure.Kind.allCases.first(where: { $0.exitCode == self }) { return kind.rawValue }
        if let kind = ImportFailure.allCases.first(where: { $0.exitCode == self }) { return kind.rawValue }
        switch self {
        case .checkFailed: return Kinds.checkFailed
        case .journalInUse: return Kinds.journalInUse
        case .writeModelMismatch: return Kinds.writeModelMismatch
        default: return Kinds.usage
        }
    }
}
