import ArgumentParser
import Journal
import LMDB

/// The `--data DIR` option shared by every command that reads a journal.
struct DataDirectoryOptions: ParsableArguments {
    @Option(
        name: .customLong("data"),
        help: ArgumentHelp("The data directory: it holds journal/ (LMDB) and keys/.", valueName: "DIR"))
    var directory: String

    /// The directory as given, without trailing slashes (for paths and messages).
    var directoryPath: String {
        var path = directory
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    var journalPath: String { Journal.journalPath(in: directoryPath) }
    var keysPath: String { Journal.keysPath(in: directoryPath) }

    /// A missing data directory is input that cannot be read.
    func requireDirectory() throws {
        guard FileSystem.isDirectory(directoryPath) else {
            throw ToolExit.unreadable("\(directoryPath): no such directory")
        }
    }

    /// Opens the journal read-only. A missing directory is a usage error; a directory that is
    /// not a Tally journal, or is damaged, throws the journal's error naming the file.
    func openStorage() throws -> LMDBJournalStorage {
        try requireDirectory()
        guard FileSystem.exists(journalPath) else {
            throw ToolExit.unreadable("\(journalPath): no journal here (a data directory holds journal/ and keys/)")
        }
        do {
            return try LMDBJournalStorage.open(at: journalPath, create: false, readOnly: true)
        } catch let error as LMDBError {
            throw ToolExit.lmdbAccess(error, environment: journalPath) ?? error
        }
    }
}
