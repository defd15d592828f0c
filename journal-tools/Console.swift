import Foundation

/// Writes to the standard streams. Results go to stdout; diagnostics and progress to stderr,
/// so that `--json` output can be piped without noise.
enum Console {
    /// Writes `text` and a newline to stderr, unbuffered.
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Writes `text` to stderr as is (for progress lines that rewrite themselves).
    static func errorRaw(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// True when stderr is a terminal (progress is shown only then).
    static var standardErrorIsTerminal: Bool { isatty(2) == 1 }
}
