/// Shows how far a long `verify` run has got, on stderr, when stderr is a terminal: the last
/// verified sequence, the share of the journal done and the rate. Silent when piped.
final class VerifyProgress {
    private let firstSequence: UInt64
    private let lastSequence: UInt64
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private var lastShown: ContinuousClock.Instant
    private var shown = false
    /// How often the line is rewritten at most.
    private let interval = Duration.milliseconds(500)

    init(firstSequence: UInt64, lastSequence: UInt64) {
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        started = clock.now
        lastShown = started
    }

    /// Called by the verifier with the last verified sequence.
    func update(_ sequence: UInt64) {
        let now = clock.now
        guard now - lastShown >= interval else { return }
        lastShown = now
        shown = true
        let done = sequence >= firstSequence ? sequence - firstSequence + 1 : 0
        let seconds = Self.seconds(now - started)
        let rate = seconds > 0 ? UInt64(Double(done) / seconds) : 0
        var line = "\rverify: through sequence \(sequence)"
        if lastSequence >= firstSequence && lastSequence > 0 {
            let total = lastSequence - firstSequence + 1
            line += " of \(lastSequence) (\(done * 100 / max(total, 1))%)"
        }
        line += ", \(rate) events/s   "
        Console.errorRaw(line)
    }

    /// Ends the progress line, if one was shown.
    func finish() {
        if shown { Console.errorRaw("\n") }
    }

    private static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
