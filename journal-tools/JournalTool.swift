import ArgumentParser
import Foundation
import Journal
import LMDB
import TallyCrypto

/// `journal-tool`: verify, inspect and audit a Tally journal without running the service.
///
/// Every command but `keys generate` and `keys rotate` only reads the data directory, so it is
/// safe to run beside a live `tally serve`.
/// Exit codes are shared by all commands (see ``ToolExitCode``); `verify` adds one code per
/// kind of verification failure (see `VerificationFailure.Kind.exitCode`).
@main
struct JournalTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal-tool",
        abstract: "Audit, inspect, export, import and replay a Tally journal, and manage its keys.",
        discussion: """
            The data directory (--data) is the one `tally serve` uses: it holds journal/ (the \
            LMDB environment) and keys/ (the signing keys). The format is described in \
            Schemas/journal.md.

            Exit codes: 0 success; 1 a check failed or the item asked for does not exist; \
            2 usage error, or the data could not be read; 3 another process has the journal \
            open (keys rotate); 10-27 and 29 `verify` found the journal invalid (one code per \
            failure kind, see `journal-tool verify --help`); 28 `replay --compare-live` found the \
            live read models different; 30-35 `import` refused the export (see \
            `journal-tool import --help`).
            """,
        subcommands: [
            VerifyCommand.self, InspectCommand.self, ReceiptCommand.self, KeysCommand.self,
            ExportCommand.self, ImportCommand.self, ReplayCommand.self, RebuildCommand.self, ExampleCommand.self, GenerateCommand.self,
        ]
    )

    /// Parses and runs a command, mapping every failure onto the tool's exit codes: argument
    /// errors exit with 2 (not ArgumentParser's 64), errors reading the data with 2, and
    /// `ToolExit` with its own code. Every failure goes through `finish`, which also prints it
    /// as JSON when `--json` was asked for.
    static func main() async {
        var json = FailureOutput.requested(in: CommandLine.arguments)
        do {
            var command = try await asyncParseAsRoot(nil)
            json = (command as? JSONOutputCommand)?.json ?? false
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            finish(error, json: json)
        }
    }

    /// Reports `error` (stderr, and stdout as one JSON object with `json`) and exits with its code.
    static func finish(_ error: any Error, json: Bool) -> Never {
        if !(error is ToolExit), exitCode(for: error) == .success {
            // --help, --version: not a failure.
            let message = fullMessage(for: error)
            if !message.isEmpty { print(message) }
            terminate(.success)
        }
        let exit = toolExit(for: error)
        if let message = exit.message { Console.error(message) }
        if json && !exit.outcomePrinted { printJSON(exit) }
        terminate(exit.code)
    }

    /// `error` as the tool reports it: its exit code, stable kind and message.
    static func toolExit(for error: any Error) -> ToolExit {
        switch error {
        case let error as ToolExit:
            return error
        case let error as JournalError:
            return .unreadable(error.description)
        case let error as LMDBError:
            return .unreadable(error.description)
        case let error as CryptoError:
            return .unreadable(error.description)
        default:
            let code = exitCode(for: error)
            let parsing = code == .validationFailure || error is ValidationError
            // ExitCode errors thrown by a command carry their own code; anything else is a
            // failure to read or decode input.
            let tool = error is ExitCode && !parsing ? ToolExitCode(rawValue: code.rawValue) : .usage
            let full = fullMessage(for: error)
            return ToolExit(
                tool, message: full.isEmpty ? nil : full,
                kind: parsing ? ToolExitCode.Kinds.usage : tool == .usage ? ToolExitCode.Kinds.unreadableInput : nil,
                reason: message(for: error))
        }
    }

    private static func printJSON(_ exit: ToolExit) {
        if let text = try? JSONOutput.string(FailureOutput(exit: exit)) { print(text) }
    }

    static func terminate(_ code: ToolExitCode) -> Never {
        Foundation.exit(code.rawValue)
    }
}
