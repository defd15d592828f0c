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
        // Stderr is drained on another thread while stdout is read here, so that neither pipe
        // can fill up and block the child.
        let errorStream = StreamCollector(errors.fileHandleForReading)
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        errorStream.waitForEnd()
        process.waitUntilExit()
        let errorData = errorStream.data
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
