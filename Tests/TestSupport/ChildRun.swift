import Foundation

/// A product run as a real child process to its end: its exit status and both streams.
public struct ChildRun: Sendable {
    public let status: Int32
    public let output: String
    public let errors: String

    /// Runs `executable arguments` with stdout and stderr piped (never a terminal), `input` on
    /// stdin (an empty stdin when nil) and `environment` added to this process's.
    public static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String] = [:]
    ) throws -> ChildRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let output = Pipe()
        let errors = Pipe()
        let standardInput = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = standardInput
        try process.run()
        if let input { standardInput.fileHandleForWriting.write(input) }
        try standardInput.fileHandleForWriting.close()
        // Stderr is drained on another thread while stdout is read here, so that neither pipe
        // can fill up and block the child.
        let errorStream = StreamCollector(errors.fileHandleForReading)
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        errorStream.waitForEnd()
        process.waitUntilExit()
        return ChildRun(
            status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
            errors: String(decoding: errorStream.data, as: UTF8.self))
    }

    public var summary: String { "exit \(status)\nstdout:\n\(output)\nstderr:\n\(errors)" }
}
