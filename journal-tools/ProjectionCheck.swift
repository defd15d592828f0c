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
    /// models' balance of each account at that sequence, and, when that is the sequence the read
    /// models reflect, with their work queues (`compareQueues`); the first difference, or nil.
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
            return sequence == reader.sequence ? try compareQueues(balances, reader) : nil
        }
    }

    /// Customer service works from the read models' queues, so they are audited too: what the
    /// pending fundings add up to must be each `pending:<user>:<CUR>` balance, what the open
    /// disputes reserved each `reserve:<vendor>:<CUR>` balance, and a queue holds only cases
    /// still waiting. (The queues are as of now, so this runs only at the read models' sequence.)
    static func compareQueues(_ balances: [String: Int64], _ reader: ProjectionReader) throws -> AuditFailure? {
        func failure(_ message: String) -> AuditFailure {
            AuditFailure(kind: .projectionMismatch, sequence: reader.sequence, message: message)
        }
        var queued: [String: Int64] = [:]
        func add(_ account: String, _ amount: Int64) -> AuditFailure? {
            let (sum, overflow) = queued[account, default: 0].addingReportingOverflow(amount)
            if overflow { return failure("the read models' queues overflow \(account)") }
            queued[account] = sum
            return nil
        }
        /// Each case of a queue, page by page: the first failure `check` finds, or nil.
        func walk<Case>(_ page: (UInt64?) throws -> (cases: [Case], next: UInt64?), _ check: (Case) -> AuditFailure?) throws -> AuditFailure? {
            var after: UInt64?
            repeat {
                let (cases, next) = try page(after)
                for item in cases { if let found = check(item) { return found } }
                after = next
            } while after != nil
            return nil
        }
        let fundings = try walk({ let page = try reader.pendingFundings(after: $0, limit: 500); return (page.fundings, page.nextAfter) }) { funding in
            guard funding.status == .pending else {
                return failure("the queue of pending funds holds \(funding.funding), which is \(funding.status.rawValue)")
            }
            return add("pending:\(funding.user):\(funding.currency.code)", funding.amount)
        }
        if let fundings { return fundings }
        let disputes = try walk({ let page = try reader.openDisputes(after: $0, limit: 500); return (page.disputes, page.nextAfter) }) { dispute in
            guard dispute.status == .open else {
                return failure("the queue of open disputes holds \(dispute.dispute), which is \(dispute.status.rawValue)")
            }
            return add("reserve:\(dispute.vendor):\(dispute.currency.code)", dispute.reserved)
        }
        if let disputes { return disputes }
        let accounts = Set(queued.keys).union(balances.keys.filter { $0.hasPrefix("pending:") || $0.hasPrefix("reserve:") })
        for account in accounts.sorted() where queued[account, default: 0] != balances[account, default: 0] {
            let what = account.hasPrefix("pending:") ? "pending fundings" : "open disputes' reserves"
            return failure("the read models' \(what) for \(account) add up to \(queued[account, default: 0]), the postings give \(balances[account, default: 0])")
        }
        return nil
    }
}
