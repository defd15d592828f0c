import ArgumentParser
import Journal
import LMDB
import Projections

/// `journal-tool rebuild`: rebuilds a data directory's read models after an upgrade with the
/// Projections module's own rebuild: the new version is folded beside the live one (in the
/// other slot of `DIR/projections`), then swapped in atomically. Interrupted, it resumes from
/// its checkpoint the next time.
struct RebuildCommand: ParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild the read models (DIR/projections) beside the live ones, then swap; resumable.",
        discussion: """
            Folds every event into a new version of all the read models while the old version \
            stays readable, then makes the new version live in one transaction. Safe to \
            interrupt: the next `rebuild` resumes the half-built version from its checkpoint. \
            Safe beside a running `tally serve`: each batch checks, in its own transaction, the \
            slot and checkpoint it folds onto, and a rebuild never swaps in a version behind \
            the live one. Creates DIR/projections when it does not exist.
            """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Flag(name: .customLong("json"), help: "Print JSON instead of text.")
    var json = false

    struct Output: Encodable {
        let projections: String
        let version: UInt64
        let sequence: UInt64
    }

    func run() throws {
        let storage = try data.openStorage()
        let projections = try ProjectionCheck.openOrCreate(dataDirectory: data.directoryPath, journal: storage)
        let head = try JournalReader(storage: storage).lastSequence()
        let progress = ToolProgress.onTerminal("rebuild", first: 1, last: head)
        do {
            try projections.rebuild { reached, _ in progress?.update(reached) }
        } catch let error as ProjectionError {
            progress?.finish()
            throw ToolExit(.checkFailed, message: "journal-tool: rebuild stopped: \(error); the next rebuild resumes from its checkpoint")
        }
        progress?.finish()
        // On disk before it is reported done: a rebuild left in the page cache would be folded
        // again after a system crash.
        try projections.flush()
        let status = projections.status
        let output = Output(projections: projections.path, version: status.version, sequence: status.sequence)
        if json {
            try JSONOutput.print(output)
        } else {
            print("rebuilt      \(output.projections)")
            print("version      \(output.version) (now live)")
            print("folded       through sequence \(output.sequence) of \(head)")
        }
    }
}
