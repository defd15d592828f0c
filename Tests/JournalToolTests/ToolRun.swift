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
        let run = try ChildRun.run(toolPath, arguments)
        return ToolRun(status: run.status, output: run.output, errors: run.errors)
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
