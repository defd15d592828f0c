import Journal

/// The first failure a command reports: its kind's stable name, its exit code, the first bad
/// sequence and the reason. Covers the journal's failures, the ledger audit's and the import's.
struct ReportedFailure: Error, Encodable, Equatable {
    let kind: String
    let exitCode: ToolExitCode
    let sequence: UInt64
    let message: String

    init(kind: String, exitCode: ToolExitCode, sequence: UInt64, message: String) {
        self.kind = kind
        self.exitCode = exitCode
        self.sequence = sequence
        self.message = message
    }

    init(_ failure: VerificationFailure) {
        self.init(kind: failure.kind.rawValue, exitCode: failure.kind.exitCode, sequence: failure.sequence, message: failure.message)
    }

    init(_ failure: AuditFailure) {
        self.init(kind: failure.kind.rawValue, exitCode: failure.kind.exitCode, sequence: failure.sequence, message: failure.message)
    }

    enum CodingKeys: String, CodingKey { case kind, exitCode, sequence, message }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(exitCode.rawValue, forKey: .exitCode)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(message, forKey: .message)
    }
}
