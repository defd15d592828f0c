/// A stored structure that breaks its layout rules; `reason` names the rule.
public struct FormatViolation: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
