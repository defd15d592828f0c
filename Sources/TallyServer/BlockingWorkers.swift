import Foundation
import Journal

/// Runs work that holds a thread for long (a password hash: tens of milliseconds and 32 MiB of
/// scrypt) on threads of its own, never on Swift concurrency's pool. That pool has one thread
/// per core and serves every request: with the hashes on it, two clients sending wrong
/// passwords took this 2-core server's `/health` from 0.65 ms to 94 ms at the median, and
/// eight to 686 ms (Benchmarks/README.md, "Session 11").
///
/// The queue is bounded: beyond `queueLimit` waiting jobs, `run` refuses at once with
/// ``Busy`` rather than letting a flood of logins build a backlog that every later login waits
/// behind. Jobs run in arrival order.
final class BlockingWorkers: @unchecked Sendable {
    /// The queue is full; nothing was run. Retry after `retryAfterSeconds`.
    struct Busy: Error {
        let retryAfterSeconds: Int
    }

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [() -> Void] = []
    private var head = 0
    private var stopped = false
    private var started = false
    private let name: String
    private let threads: Int
    let queueLimit: Int

    /// Workers named `name`; their `threads` threads start with the first job and run until
    /// `stop`.
    init(name: String, threads: Int, queueLimit: Int) {
        precondition(threads >= 1 && queueLimit >= 1)
        self.name = name
        self.threads = threads
        self.queueLimit = queueLimit
    }

    /// The number of worker threads for this machine: half its cores (at least one), so that
    /// the other half is left to the requests that do not hash.
    static var halfTheCores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount / 2) }

    /// Jobs accepted and not yet started.
    var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - head
    }

    /// Runs `body` on a worker thread and returns its result, or throws ``Busy`` at once when
    /// `queueLimit` jobs are already waiting.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = { continuation.resume(with: Result { try body() }) }
            condition.lock()
            guard !stopped, queue.count - head < queueLimit else {
                condition.unlock()
                continuation.resume(throwing: Busy(retryAfterSeconds: 1))
                return
            }
            queue.append(job)
            if !started {
                started = true
                for index in 0..<threads {
                    startThread(named: threads == 1 ? name : "\(name)\(index)") { [self] in work() }
                }
            }
            condition.signal()
            condition.unlock()
        }
    }

    /// Lets the threads finish the queue and end; later `run` calls are refused with ``Busy``.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while head == queue.count && !stopped { condition.wait() }
            guard head < queue.count else {
                condition.unlock()
                return
            }
            let job = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}
