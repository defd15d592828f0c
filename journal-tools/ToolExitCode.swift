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
}
