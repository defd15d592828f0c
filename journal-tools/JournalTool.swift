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
    /// `ToolExit` with its own code.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ToolExit {
            if let message = exit.message { Console.error(message) }
            Self.terminate(exit.code)
        } catch let error as JournalError {
            Self.fail(error.description)
        } catch let error as LMDBError {
            Self.fail(error.description)
        } catch let error as CryptoError {
            Self.fail(error.description)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Self.terminate(.success)
            }
            if !message.isEmpty { Console.error(message) }
            if code == .validationFailure || error is ValidationError {
                Self.terminate(.usage)
            }
            // ExitCode errors thrown by a command carry their own code; anything else is a
            // failure to read or decode input.
            if error is ExitCode { Self.terminate(ToolExitCode(rawValue: code.rawValue)) }
            Self.terminate(.usage)
        }
    }

    static func fail(_ message: String) -> Never {
        Console.error("journal-tool: error: " + message)
        terminate(.usage)
    }

    static func terminate(_ code: ToolExitCode) -> Never {
        Foundation.exit(code.rawValue)
    }
}
