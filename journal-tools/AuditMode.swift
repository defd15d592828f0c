import ArgumentParser

/// Whether `verify` audits the events as ledger events on top of the journal's checks.
enum AuditMode: String, ExpressibleByArgument, CaseIterable {
    /// Ledger audit when the journal is a ledger's: event 1 is a ledger event type, or the
    /// write model holds entries. Journals of other events (tests, the worked example) get the
    /// journal's checks only.
    case auto
    /// Always: every event must be a ledger event.
    case ledger
    /// The journal's checks only (chain, blocks, Merkle roots, signatures, keys).
    case chain
}
