import Foundation
import BenchmarkSupport

/// The bare cost of what every journal append pays besides the commit: a request handed to a
/// dedicated thread through an `NSCondition` queue, and the caller's task resumed through a
/// `CheckedContinuation` when that thread is done (the same pattern as `JournalWriter`, with no
/// work in between). Sequential round trips from one task.
final class EchoThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [CheckedContinuation<Void, Never>] = []
    private var stopping = false
    private var finished = false

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "bench.echo"
        thread.start()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()
            for continuation in batch { continuation.resume() }
        }
    }

    func roundTrip() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            queue.append(continuation)
            condition.signal()
            condition.unlock()
        }
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}

/// Round trips per second and their latency quantiles.
func measureHandoff(count: Int) async -> (perSecond: Double, latency: LatencySummary) {
    let echo = EchoThread()
    echo.start()
    for _ in 0..<1000 { await echo.roundTrip() }  // warm up
    var latencies: [UInt64] = []
    latencies.reserveCapacity(count)
    let start = nowNanoseconds()
    for _ in 0..<count {
        let began = nowNanoseconds()
        await echo.roundTrip()
        latencies.append(nowNanoseconds() - began)
    }
    let elapsed = seconds(since: start)
    echo.stop()
    return (Double(count) / elapsed, LatencySummary(nanoseconds: latencies))
}
