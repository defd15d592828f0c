/// Shows how far a long command has got, on stderr, only when stderr is a terminal: events
/// done, the share of the range, the rate and the time left. Silent when stderr is piped or
/// redirected, so scripts and `--json` consumers see nothing of it.
final class ToolProgress {
    private let label: String
    private let firstSequence: UInt64
    private let lastSequence: UInt64
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    /// When the line was last written; nil until the first update, which is always shown.
    private var lastShown: ContinuousClock.Instant?
    private var shown = false
    /// How often the line is rewritten at most.
    private let interval = Duration.milliseconds(500)

    private init(label: String, firstSequence: UInt64, lastSequence: UInt64) {
        self.label = label
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        started = clock.now
    }

    /// A progress line for `first...last`, or nil when stderr is not a terminal.
    static func onTerminal(_ label: String, first: UInt64, last: UInt64) -> ToolProgress? {
        Console.standardErrorIsTerminal ? ToolProgress(label: label, firstSequence: first, lastSequence: last) : nil
    }

    /// Called with the last sequence done.
    func update(_ sequence: UInt64) {
        let now = clock.now
        if let lastShown, now - lastShown < interval { return }
        lastShown = now
        shown = true
        let done = sequence >= firstSequence ? sequence - firstSequence + 1 : 0
        let seconds = Self.seconds(now - started)
        let rate = seconds > 0 ? Double(done) / seconds : 0
        var line = "\r\(label): \(done) events"
        if lastSequence >= firstSequence && lastSequence > 0 {
            let total = lastSequence - firstSequence + 1
            line += " of \(total) (\(min(done, total) * 100 / max(total, 1))%)"
            if rate > 0 && total > done {
                line += ", \(Self.duration(Double(total - done) / rate)) left"
            }
        }
        line += ", \(UInt64(rate)) events/s   "
        Console.errorRaw(line)
    }

    /// Ends the progress line, if one was shown.
    func finish() {
        if shown { Console.errorRaw("\n") }
    }

    private static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        return whole >= 60 ? "\(whole / 60) min \(whole % 60) s" : "\(whole) s"
    }

    private static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
