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
    /// The first failure: the verifier's, or a checkpoint's (`rollback`), or nil.
    let failure: VerificationFailure?

    var isValid: Bool { failure == nil }
    var exitCode: ToolExitCode { failure?.kind.exitCode ?? .success }

    enum CodingKeys: String, CodingKey {
        case valid, exitCode, journal, trustedKeys, requestedFrom, requestedThrough, checkpoints
        case firstSequence, lastSequence, eventsVerified, blocksVerified, head, failure
    }

    enum FailureKeys: String, CodingKey { case kind, sequence, message }

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
        if let failure {
            var nested = container.nestedContainer(keyedBy: FailureKeys.self, forKey: .failure)
            try nested.encode(failure.kind.rawValue, forKey: .kind)
            try nested.encode(failure.sequence, forKey: .sequence)
            try nested.encode(failure.message, forKey: .message)
        } else {
            try container.encodeNil(forKey: .failure)
        }
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
        if let failure {
            lines.append(("result", "INVALID: \(failure.kind.rawValue) (exit \(exitCode.rawValue))"))
            lines.append(("first bad", "sequence \(failure.sequence)"))
            lines.append(("reason", failure.message))
        } else {
            lines.append(("result", "valid"))
        }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
    }
}
