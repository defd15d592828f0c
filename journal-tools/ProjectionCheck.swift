import Journal
import LMDB
import Ledger
import Projections

/// The read models of a data directory (`DIR/projections`), for `verify` and `replay`.
enum ProjectionCheck {
    /// Opens the read models at `dataDirectory/projections` read-only to compare them (the
    /// commands that compare never write the data directory), or says why they are not
    /// compared: they do not exist, a system crash may have torn them (`unusable`), or they
    /// are of another schema than this build reads. Read models that cannot be opened at all
    /// (foreign, damaged) are input that cannot be read.
    static func open(dataDirectory: String, journal: any JournalStorage) throws -> (projections: Projections?, notCompared: String?) {
        let path = Projections.path(in: dataDirectory)
        guard FileSystem.exists(path) else { return (nil, "none (\(path) does not exist)") }
        if let reason = unusable(dataDirectory: dataDirectory) { return (nil, "not compared: " + reason) }
        do {
            return (try Projections.openReadOnly(dataDirectory: dataDirectory, journal: journal), nil)
        } catch ProjectionError.otherSchema(_, let stored, let expected) {
            return (nil, "not compared: they have schema \(stored.map(String.init) ?? "none"), this tool reads \(expected); `journal-tool rebuild` folds them again")
        } catch let error as ProjectionError {
            throw ToolExit.unreadable("\(path): \(error)")
        } catch let error as LMDBError {
            throw ToolExit.lmdbAccess(error, environment: path) ?? error
        }
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
