/// How much of the history an in-order audit has seen: the whole of it (the range starts at
/// sequence 1), or a range whose events may rest on what came before it. An event whose
/// beginning the audit does not know is a failure with the whole history, and is counted as
/// unchecked in a range.
struct HistoryCoverage {
    let wholeHistory: Bool
    /// Events of the range not checked because what they rest on came before it.
    private(set) var unchecked: UInt64 = 0

    init(wholeHistory: Bool) {
        self.wholeHistory = wholeHistory
    }

    /// What an event rests on is not known: throws `failure` with the whole history, counts
    /// the event otherwise.
    mutating func unknown(_ failure: @autoclosure () -> AuditFailure) throws(AuditFailure) {
        guard !wholeHistory else { throw failure() }
        unchecked += 1
    }
}
