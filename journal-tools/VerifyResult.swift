import Foundation
import Journal
import TallyCrypto

/// The outcome of `journal-tool verify`, as printed with `--json` (one object).
struct VerifyResult: Encodable {
    let journal: String
    let trustedKeys: [TrustedKey]
    let requestedFrom: UInt64
    let requestedThrough: UInt64?
    let checkpoints: [String]
    let report: VerificationReport
    let audit: Audit
    /// The first failure: the verifier's, a checkpoint's (`rollback`), the ledger audit's, or nil.
    let failure: ReportedFailure?

    /// What the ledger audit did: `mode` is "ledger" or "chain"; `report` is nil when it did
    /// not run, and `note` says why.
    struct Audit: Encodable {
        let mode: String
        let report: LedgerAudit.Report?
        let note: String?
        var projections: String = ""

        enum CodingKeys: String, CodingKey { case mode, report, note, projections }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(mode, forKey: .mode)
            try container.encode(report, forKey: .report)
            try container.encode(note, forKey: .note)
            try container.encode(projections, forKey: .projections)
        }
    }

    var isValid: Bool { failure == nil }
    var exitCode: ToolExitCode { failure?.exitCode ?? .success }

    enum CodingKeys: String, CodingKey {
        case valid, exitCode, journal, trustedKeys, requestedFrom, requestedThrough, checkpoints
        case firstSequence, lastSequence, eventsVerified, blocksVerified, head, audit, failure
    }

    /// Every key is always present (`null` when there is no value), so that consumers need no
    /// special cases.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(isValid, forKey: .valid)
        try container.encode(exitCode.rawValue, forKey: .exitCode)
        try container.encode(journal, forKey: .journal)
        try container.encode(trustedKeys, forKey: .trustedKeys)
        try container.encode(requestedFrom, forKey: .requestedFrom)
        try container.encode(requestedThrough, forKey: .requestedThrough)
        try container.encode(checkpoints, forKey: .checkpoints)
        try container.encode(report.firstSequence, forKey: .firstSequence)
        try container.encode(report.lastSequence, forKey: .lastSequence)
        try container.encode(report.eventsVerified, forKey: .eventsVerified)
        try container.encode(report.blocksVerified, forKey: .blocksVerified)
        try container.encode(report.blocksVerified > 0 ? report.head.hex : nil, forKey: .head)
        try container.encode(audit, forKey: .audit)
        try container.encode(failure, forKey: .failure)
    }

    /// The human summary: one `label  value` line each.
    var text: String {
        var lines: [(String, String)] = []
        lines.append(("journal", journal))
        for key in trustedKeys {
            lines.append(("trusted key", "\(key.keyID.hex)  \(key.file)"))
        }
        var range = "from sequence \(requestedFrom)"
        range += requestedThrough.map { " through \($0)" } ?? " to the end"
        lines.append(("requested", range))
        if report.blocksVerified > 0 {
            lines.append((
                isValid ? "verified" : "verified good",
                "sequences \(report.firstSequence)...\(report.lastSequence): \(report.blocksVerified == 1 ? "1 block" : "\(report.blocksVerified) blocks")"))
            lines.append(("head", "\(report.lastSequence):\(report.head.hex)"))
        } else if isValid {
            lines.append(("verified", "nothing: the journal holds no events in this range"))
        }
        for checkpoint in checkpoints {
            lines.append(("checkpoint", checkpoint))
        }
        if let note = audit.note {
            lines.append(("ledger audit", note))
        } else if let audited = audit.report {
            var text = "\(audited.eventsAudited) events, \(audited.postings) postings"
            if let accounts = audited.accounts { text += ", \(accounts) balances recomputed" }
            if audited.failure == nil { text += ": postings balance per currency" }
            lines.append(("ledger audit", text))
            if let compared = audited.writeModelBalancesCompared {
                lines.append(("write model", "\(compared) balances equal the recomputed ones"))
            } else if let note = audited.writeModelNote {
                lines.append(("write model", note))
            }
            if audited.failure == nil {
                // Only what was checked: a range that does not start at 1 has no payable to check against.
                let checked = audited.settlementsAgainstPayable
                    ? "each exactly what the payable held" : audited.settlementsNote ?? "not checked against the payable"
                lines.append(("settlements", "\(audited.settlements), \(Self.totals(audited.settledTotals)) settled, \(checked)"))
                lines.append(("royalties", "\(Self.totals(audited.royaltyTotals)) listed = posted; fees \(Self.totals(audited.feeTotals))"))
                if audited.royaltyPayouts > 0 {
                    lines.append(("royalty payouts", "\(audited.royaltyPayouts), \(Self.totals(audited.royaltiesPaidOut)) paid out, \(checked)"))
                }
                var refunds = "\(audited.refunds), \(Self.totals(audited.refundedTotals)) given back, never more than the buyer paid"
                if let note = audited.refundsNote { refunds += "; \(note)" }
                lines.append(("refunds", refunds))
                if let note = audited.pendingFundsNote { lines.append(("pending funds", note)) }
                if let note = audited.referralsNote { lines.append(("referrals", note)) }
                if let note = audited.spendingLimitsNote { lines.append(("spending limits", note)) }
                if let note = audited.sitesNote { lines.append(("vendor sites", note)) }
            }
        }
        lines.append(("projections", audit.projections))
        if let failure {
            lines.append(("result", "INVALID: \(failure.kind) (exit \(exitCode.rawValue))"))
            lines.append(("first bad", "sequence \(failure.sequence)"))
            lines.append(("reason", failure.message))
        } else {
            lines.append(("result", "valid"))
        }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
    }

    static func totals(_ totals: [String: Int64]) -> String {
        totals.isEmpty ? "0" : totals.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    }
}
