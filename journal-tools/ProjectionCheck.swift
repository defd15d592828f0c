import Journal
import LMDB
import Ledger
import Projections

/// The read models of a data directory (`DIR/projections`), for `verify` and `replay`.
enum ProjectionCheck {
    /// Opens the read models at `dataDirectory/projections` if they exist; nil otherwise. Logs
    /// only errors (to stderr) so that `--json` output stays clean.
    static func open(dataDirectory: String, journal: any JournalStorage) throws -> Projections? {
        guard FileSystem.exists(Projections.path(in: dataDirectory)) else { return nil }
        return try openOrCreate(dataDirectory: dataDirectory, journal: journal)
    }

    static func openOrCreate(dataDirectory: String, journal: any JournalStorage) throws -> Projections {
        var configuration = Projections.Configuration(dataDirectory: dataDirectory)
        configuration.logger.logLevel = .error
        do {
            return try Projections.open(configuration, journal: journal)
        } catch let error as ProjectionError {
            throw ToolExit.usage("\(Projections.path(in: dataDirectory)): \(error)")
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
