#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Journal
import LMDB
import TallyCrypto
import BenchmarkSupport

/// The event type name used for every benchmark event.
let benchmarkTypeName = "bench.event"

func openBenchmarkJournal(_ directory: String) throws -> Journal {
    var configuration = Journal.Configuration(directory: directory)
    configuration.logger.logLevel = .warning
    configuration.onWriterFailure = { reason in fail("journal writer stopped: \(reason)") }
    return try Journal.open(configuration)
}

func makeDrafts(count: Int, payloadBytes: Int) -> [EventDraft] {
    (0..<count).map { index in
        EventDraft(typeName: benchmarkTypeName, payload: fillerBytes(payloadBytes, seed: UInt64(index) &+ 7))
    }
}

struct JournalAppendResult {
    var events: Int
    var seconds: Double
    /// Per-request latencies in nanoseconds (kept for k = 1 only).
    var latencies: [UInt64]
    var batches: UInt64
    var batchedEvents: UInt64
    var resources: ResourceUse

    var eventsPerSecond: Double { Double(events) / seconds }
}

/// Sequential durable appends from one task: each `append` carries `k` events and waits for its
/// commit, so every commit batch holds exactly `k` events.
func runJournalSequential(directory: String, batch k: Int, events: Int, payloadBytes: Int) async throws -> JournalAppendResult {
    let journal = try openBenchmarkJournal(directory)
    let drafts = makeDrafts(count: k, payloadBytes: payloadBytes)
    let requests = events / k
    var latencies: [UInt64] = []
    if k == 1 { latencies.reserveCapacity(requests) }
    let before = journal.commitStatistics

    let sample = ResourceSample.now()
    let start = nowNanoseconds()
    for _ in 0..<requests {
        let began = nowNanoseconds()
        let commit = try await journal.append(drafts)
        if k == 1 { latencies.append(nowNanoseconds() - began) }
        precondition(commit.sequences?.count == k)
    }
    let elapsed = seconds(since: start)
    let resources = ResourceUse(from: sample, to: .now())

    let after = journal.commitStatistics
    guard journal.head == UInt64(requests * k) else { fail("journal head \(journal.head), expected \(requests * k)") }
    journal.close()
    return JournalAppendResult(
        events: requests * k, seconds: elapsed, latencies: latencies,
        batches: after.batches - before.batches, batchedEvents: after.events - before.events, resources: resources)
}

/// `tasks` concurrent tasks, each appending single-event requests back to back for `duration`
/// seconds. Group commit batches whatever is waiting when the writer is free.
func runJournalConcurrent(directory: String, tasks: Int, duration: Double, payloadBytes: Int) async throws -> JournalAppendResult {
    let journal = try openBenchmarkJournal(directory)
    let single = makeDrafts(count: 1, payloadBytes: payloadBytes)
    let before = journal.commitStatistics
    let sample = ResourceSample.now()
    let start = nowNanoseconds()
    let deadline = start + UInt64(duration * 1e9)

    let perTask: [[UInt64]] = try await withThrowingTaskGroup(of: [UInt64].self) { group in
        for _ in 0..<tasks {
            group.addTask {
                var latencies: [UInt64] = []
                latencies.reserveCapacity(65_536)
                while true {
                    let began = nowNanoseconds()
                    if began >= deadline { break }
                    _ = try await journal.append(single)
                    latencies.append(nowNanoseconds() - began)
                }
                return latencies
            }
        }
        var all: [[UInt64]] = []
        for try await latencies in group { all.append(latencies) }
        return all
    }
    let elapsed = seconds(since: start)
    let resources = ResourceUse(from: sample, to: .now())
    let after = journal.commitStatistics
    let latencies = perTask.flatMap { $0 }
    guard journal.head == UInt64(latencies.count) else { fail("journal head \(journal.head), expected \(latencies.count)") }
    journal.close()
    return JournalAppendResult(
        events: latencies.count, seconds: elapsed, latencies: latencies,
        batches: after.batches - before.batches, batchedEvents: after.events - before.events, resources: resources)
}

/// Builds a journal of `events` events sealed in blocks of `blockEvents` (one request per block).
func buildJournal(directory: String, events: Int, blockEvents: Int, payloadBytes: Int) async throws -> (seconds: Double, trustedKeys: [Ed25519PublicKey]) {
    let journal = try openBenchmarkJournal(directory)
    let drafts = makeDrafts(count: blockEvents, payloadBytes: payloadBytes)
    var remaining = events
    let start = nowNanoseconds()
    var lastReport = start
    while remaining > 0 {
        let count = min(blockEvents, remaining)
        _ = try await journal.append(count == blockEvents ? drafts : Array(drafts[0..<count]))
        remaining -= count
        if nowNanoseconds() - lastReport > 2_000_000_000 {
            lastReport = nowNanoseconds()
            note("    built \(grouped(Double(events - remaining))) of \(grouped(Double(events))) events")
        }
    }
    let elapsed = seconds(since: start)
    let statistics = journal.commitStatistics
    guard statistics.batches == UInt64((events + blockEvents - 1) / blockEvents) else {
        fail("expected one block per request, got \(statistics.batches) blocks")
    }
    journal.close()
    let keys = try SigningKeyStore(directory: Journal.keysPath(in: directory)).publishedKeys()
    return (elapsed, keys)
}

struct VerifyResult {
    var events: UInt64
    var blocks: UInt64
    var seconds: Double
    var resources: ResourceUse
    var eventsPerSecond: Double { Double(events) / seconds }
}

/// Verifies the whole journal on a freshly opened read-only storage; with `cold`, first asks the
/// kernel to drop the data file's cached pages (it is clean: every commit was synced).
func runVerify(directory: String, trustedKeys: [Ed25519PublicKey], expectedEvents: Int, cold: Bool) throws -> VerifyResult {
    let path = Journal.journalPath(in: directory)
    if cold {
        let descriptor = open(path + "/data.mdb", O_RDONLY)
        if descriptor >= 0 {
            _ = fdatasync(descriptor)
            _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
            close(descriptor)
        }
    }
    let storage = try LMDBJournalStorage.open(at: path, create: false, readOnly: true)
    let verifier = JournalVerifier(trustedKeys: trustedKeys)
    let sample = ResourceSample.now()
    let start = nowNanoseconds()
    let report = try verifier.verify(storage)
    let elapsed = seconds(since: start)
    let resources = ResourceUse(from: sample, to: .now())
    if let failure = report.failure { fail("verification failed: \(failure)") }
    guard report.eventsVerified == UInt64(expectedEvents) else {
        fail("verified \(report.eventsVerified) events, expected \(expectedEvents)")
    }
    return VerifyResult(events: report.eventsVerified, blocks: report.blocksVerified, seconds: elapsed, resources: resources)
}
