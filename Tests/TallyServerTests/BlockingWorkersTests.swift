import Dispatch
import Foundation
import HummingbirdTesting
import Testing
@testable import TallyServer

/// Blocking work (password hashing) runs on threads of its own behind a bounded queue.
@Suite("Blocking workers")
struct BlockingWorkersTests {
    /// Occupies every worker thread with a job that waits for `release`, and returns once all
    /// of them have started (so later jobs wait in the queue).
    static func occupy(_ workers: BlockingWorkers, threads: Int, until release: DispatchSemaphore) async throws -> [Task<Void, any Error>] {
        let started = DispatchSemaphore(value: 0)
        let blockers = (0..<threads).map { _ in
            Task { try await workers.run { started.signal(); release.wait(); release.signal() } }
        }
        for _ in 0..<threads {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async { started.wait(); continuation.resume() }
            }
        }
        return blockers
    }

    /// The calling thread's name as the kernel knows it.
    static func threadName() -> String {
        ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .newlines)
    }

    @Test("a job's result and error come back, and it runs on the workers' own thread")
    func resultsAndErrors() async throws {
        let workers = BlockingWorkers(name: "test.workers", threads: 1, queueLimit: 4)
        defer { workers.stop() }
        let name = try await workers.run { BlockingWorkersTests.threadName() }
        #expect(name == "test.workers")
        #expect(BlockingWorkersTests.threadName() != "test.workers")
        struct Failure: Error, Equatable {}
        await #expect(throws: Failure.self) { try await workers.run { throw Failure() } }
        #expect(try await workers.run { 6 * 7 } == 42)
    }

    @Test("beyond the queue limit a job is refused at once, and the waiting jobs run in arrival order")
    func boundedAndInOrder() async throws {
        let workers = BlockingWorkers(name: "test.bounded", threads: 1, queueLimit: 3)
        defer { workers.stop() }
        let release = DispatchSemaphore(value: 0)
        let blockers = try await Self.occupy(workers, threads: 1, until: release)
        let order = Order()
        var queued: [Task<Void, any Error>] = []
        for index in 0..<3 {
            queued.append(Task { try await workers.run { order.append(index) } })
            while workers.waiting < index + 1 { try await Task.sleep(for: .milliseconds(1)) }
        }
        await #expect(throws: BlockingWorkers.Busy.self) { try await workers.run { order.append(99) } }
        #expect(workers.waiting == 3)
        release.signal()
        for task in blockers + queued { try await task.value }
        #expect(order.values == [0, 1, 2])
    }

    @Test("after stop, jobs are refused")
    func stopped() async throws {
        let workers = BlockingWorkers(name: "test.stopped", threads: 1, queueLimit: 2)
        #expect(try await workers.run { 1 } == 1)
        workers.stop()
        await #expect(throws: BlockingWorkers.Busy.self) { try await workers.run { 2 } }
    }

    @Test("with the password queue full, login and signup answer 503 overloaded with Retry-After, and nothing is written")
    func passwordQueueFull() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            _ = try await client.fundedUser("rosa")
            let workers = harness.api.passwordWorkers
            let release = DispatchSemaphore(value: 0)
            let blockers = try await Self.occupy(workers, threads: BlockingWorkers.halfTheCores, until: release)
            let filler = (0..<workers.queueLimit).map { _ in Task { try await workers.run { () } } }
            while workers.waiting < workers.queueLimit { try await Task.sleep(for: .milliseconds(1)) }
            let head = harness.api.journal.head

            let login = try await client.send(.post, "/v1/login", body: client.json(["login": "rosa", "password": "correct horse battery"]))
            #expect(login.status == .serviceUnavailable)
            #expect(login.problemType == "overloaded")
            #expect(login.headers[.retryAfter] == "1")
            let signup = try await client.send(.post, "/v1/signup", body: client.json([
                "login": "sami", "password": "correct horse battery", "name": "Sami", "email": "sami@example.org",
            ]))
            #expect(signup.status == .serviceUnavailable)
            #expect(signup.problemType == "overloaded")
            #expect(harness.api.journal.head == head)

            release.signal()
            for task in blockers + filler { try await task.value }
            // The refused signup claimed nothing: the name is still free, and rosa can log in.
            let again = try await client.send(.post, "/v1/signup", body: client.json([
                "login": "sami", "password": "correct horse battery", "name": "Sami", "email": "sami@example.org",
            ]))
            #expect(again.status == .created)
            _ = try await client.loginAs("rosa")
        }
    }
}

/// Records the order in which jobs ran.
final class Order: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Int] = []
    func append(_ value: Int) { lock.lock(); recorded.append(value); lock.unlock() }
    var values: [Int] { lock.lock(); defer { lock.unlock() }; return recorded }
}
