import Foundation

/// Encodes command results as JSON: sorted keys so that output is stable and diffable.
enum JSONOutput {
    static func string<Value: Encodable>(_ value: Value, pretty: Bool = true) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Prints `value` as pretty JSON on stdout.
    static func print<Value: Encodable>(_ value: Value) throws {
        Swift.print(try string(value))
    }
}
