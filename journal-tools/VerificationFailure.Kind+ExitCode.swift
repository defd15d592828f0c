import Journal

extension VerificationFailure.Kind {
    /// The exit status of `journal-tool verify` when the first failure is of this kind.
    ///
    /// Stable numbers, listed explicitly (not derived from the order of the cases) so that a new
    /// kind can never renumber an old one; the switch is exhaustive, so a new kind cannot be
    /// added to the journal without giving it a code here.
    var exitCode: ToolExitCode {
        switch self {
        case .malformedEvent: return ToolExitCode(rawValue: 10)
        case .gap: return ToolExitCode(rawValue: 11)
        case .eventHashMismatch: return ToolExitCode(rawValue: 12)
        case .malformedBlock: return ToolExitCode(rawValue: 13)
        case .blockRange: return ToolExitCode(rawValue: 14)
        case .chainHeadMismatch: return ToolExitCode(rawValue: 15)
        case .merkleRootMismatch: return ToolExitCode(rawValue: 16)
        case .badSignature: return ToolExitCode(rawValue: 17)
        case .unknownKey: return ToolExitCode(rawValue: 18)
        case .untrustedKey: return ToolExitCode(rawValue: 19)
        case .badKeyRecord: return ToolExitCode(rawValue: 20)
        case .unsealedEvents: return ToolExitCode(rawValue: 21)
        case .missingEvents: return ToolExitCode(rawValue: 22)
        case .rollback: return ToolExitCode(rawValue: 23)
        }
    }

    /// One line for the exit-code table in `verify --help`.
    var exitCodeSummary: String {
        switch self {
        case .malformedEvent: return "an event record breaks the record layout"
        case .gap: return "a sequence number is missing between events"
        case .eventHashMismatch: return "an event's hash does not match its stored bytes"
        case .malformedBlock: return "a block record breaks the block layout or its key"
        case .blockRange: return "blocks do not tile the sequence"
        case .chainHeadMismatch: return "chain head is not the block's last event hash"
        case .merkleRootMismatch: return "Merkle root is not the root of the block's events"
        case .badSignature: return "a block's Ed25519 signature does not verify"
        case .unknownKey: return "a block names a key the journal does not record"
        case .untrustedKey: return "signing key not trusted, not endorsed, or not active"
        case .badKeyRecord: return "a key record is damaged or its endorsement fails"
        case .unsealedEvents: return "events after the last block are not sealed by any block"
        case .missingEvents: return "a block covers events that are not stored (truncated tail)"
        case .rollback: return "the --checkpoint event is gone or has another hash"
        }
    }
}
