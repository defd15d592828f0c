/// Ends a command with a specific exit code, after printing `message` (if any) to stderr.
/// Commands throw it instead of calling `exit` so that `JournalTool.main` owns the process end.
struct ToolExit: Error {
    let code: ToolExitCode
    let message: String?

    init(_ code: ToolExitCode, message: String? = nil) {
        self.code = code
        self.message = message
    }

    /// The command line or its input is unusable: exit 2 with `message`.
    static func usage(_ message: String) -> ToolExit {
        ToolExit(.usage, message: "journal-tool: error: " + message)
    }

    /// The item asked for does not exist: exit 1 with `message`.
    static func notFound(_ message: String) -> ToolExit {
        ToolExit(.checkFailed, message: "journal-tool: " + message)
    }
}
