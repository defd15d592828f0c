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

    /// Writes `bytes` to stdout after whatever `print` has buffered, so the order holds (for
    /// output too large to build as one string). A failed write (a full disk) exits with 2.
    static func output(_ bytes: UnsafeRawBufferPointer) throws {
        fflush(nil)
        var offset = 0
        while offset < bytes.count {
            let written = write(1, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw ToolExit.unwritable("cannot write to stdout: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// True when stderr is a terminal (progress is shown only then).
    static var standardErrorIsTerminal: Bool { isatty(2) == 1 }
}
