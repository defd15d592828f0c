import Foundation
import TallyTestSupport

/// `journal-tool` run as a real process, with its exit status and both streams.
struct ToolRun {
    let status: Int32
    let output: String
    let errors: String

    static var toolPath: String { BuiltProduct.path("journal-tool") }

    /// Runs `journal-tool arguments` with stdout and stderr piped (never a terminal).
    static func run(_ arguments: [String]) throws -> ToolRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: toolPath)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Drain stderr on another thread while stdout is read here, so that neither pipe can
        // fill up and block the child.
        let errorBox = DataBox()
        let drained = DispatchSemaphore(value: 0)
        Thread {
            errorBox.data = errors.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }.start()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        let errorData = errorBox.data
        return ToolRun(
            status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
            errors: String(decoding: errorData, as: UTF8.self))
    }

    /// The output parsed as one JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any] ?? [:]
    }

    var failureKind: String? { (json["failure"] as? [String: Any])?["kind"] as? String }
    var failureSequence: UInt64? { ((json["failure"] as? [String: Any])?["sequence"] as? NSNumber)?.uint64Value }

    /// A JSON number as an integer.
    static func integer(_ value: Any?) -> Int? {
        (value as? NSNumber).map { Int(truncating: $0) }
    }

    var summary: String { "exit \(status)\nstdout:\n\(output)\nstderr:\n\(errors)" }
}

final class DataBox: @unchecked Sendable {
    // Written by the draining thread before it signals, read after the wait.
    var data = Data()
}
