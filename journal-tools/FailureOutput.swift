import Foundation

/// A command that can print its outcome as one JSON object (`--json`).
protocol JSONOutputCommand {
    var json: Bool { get }
}

/// The JSON object every command with `--json` prints on stdout when it fails without having
/// printed its own outcome (a usage error, input that cannot be read, an item that does not
/// exist, a journal in use, a refusal raised before any result): the shape of `verify --json`'s
/// failure (`Schemas/journal.md` §9), so a script reads every failure the same way.
struct FailureOutput: Encodable {
    let exit: ToolExit

    enum CodingKeys: String, CodingKey { case valid, exitCode, failure }
    enum FailureKeys: String, CodingKey { case kind, exitCode, sequence, message }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(false, forKey: .valid)
        try container.encode(exit.code.rawValue, forKey: .exitCode)
        var failure = container.nestedContainer(keyedBy: FailureKeys.self, forKey: .failure)
        try failure.encode(exit.kind, forKey: .kind)
        try failure.encode(exit.code.rawValue, forKey: .exitCode)
        try failure.encode(exit.sequence, forKey: .sequence)
        try failure.encode(exit.reason, forKey: .message)
    }

    /// Whether the command line asks for JSON, for failures before a command exists to ask
    /// (the arguments do not parse): `--json` before any `--`.
    static func requested(in arguments: [String]) -> Bool {
        arguments.dropFirst().prefix { $0 != "--" }.contains("--json")
    }
}
