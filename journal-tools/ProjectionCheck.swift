import Journal
import LMDB
import Ledger
import Projections

/// The read models of a data directory (`DIR/projections`), for `verify` and `replay`.
enum ProjectionCheck {
    /// Opens the read models at `dataDirectory/projections` to compare them; nil when they do
    /// not exist, or when a system crash may have torn them (`unusable` says why): the commands
    /// that compare only read, and opening torn read models would set them aside. Logs only
    /// errors (to stderr) so that `--json` output stays clean.
    static func open(dataDirectory: String, journal: any JournalStorage) throws -> Projections? {
        guard FileSystem.exists(Projections.path(in: dataDirectory)), unusable(dataDirectory: dataDirectory) == nil else { return nil }
        return try openOrCreate(dataDirectory: dataDirectory, journal: journal)
    }

    /// Why the read models of `dataDirectory` are not compared although they exist, or nil.
    static func unusable(dataDirectory: String) -> String? {
        Projections.tornReason(dataDirectory: dataDirectory).map {
            "they may be torn by a system crash (\($0)); the server's next start, or `journal-tool rebuild`, folds them again"
        }
    }

    static func openOrCreate(dataDirectory: String, journal: any JournalStorage) throws -> Projections {
        var configuration = Projections.Configuration(dataDirectory: dataDirectory)
        configuration.logger.logLevel = .error
        do {
            return try Projections.open(configuration, journal: journal)
        } catch let error as ProjectionError {
            throw ToolExit.unreadable("\(Projections.path(in: dataDirectory)): \(error)")
        }
    }

    /// The sequence the live read models have folded through.
    static func sequence(_ projections: Projections) throws -> UInt64 {
        try projections.read { $0.sequence }
    }

    /// Compares `balances` (recomputed from postings right after `sequence`) with the read
    /// models' balance of each account at that sequence; the first difference, or nil.
    static func compare(_ balances: [String: Int64], at sequence: UInt64, with projections: Projections) throws -> AuditFailure? {
        try projections.read { reader in
            for account in balances.keys.sorted() {
                let stored = try reader.balance(account: account, atSequence: sequence == reader.sequence ? nil : sequence).balance
                if stored != balances[account] {
                    return AuditFailure(
                        kind: .projectionMismatch, sequence: sequence,
                        message: "the read models say \(account) held \(stored) after sequence \(sequence), the postings give \(balances[account]!)")
                }
            }
            return nil
        }
    }
}
