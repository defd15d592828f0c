import Foundation
import Journal
import Ledger
import BenchmarkSupport

// Sections 2 and 3: end to end through a real journal (durable LMDB commits, group commit).
// The world is created through `Ledger.executeBatch`, then the timed phase runs the N
// purchases either as `executeBatch` requests of BATCH purchases or as single `execute` calls
// from C concurrent clients. Every purchase carries idempotency key String(i).

let durabilitySettings =
    "LMDB default durable commit (fdatasync of data pages, then of the meta page) per writer batch; acknowledged only after the commit; no MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC or MDB_WRITEMAP"

func openLedger(_ directory: String) throws -> Ledger {
    var configuration = Journal.Configuration(directory: directory)
    configuration.logger.logLevel = .warning
    configuration.onWriterFailure = { reason in fail("journal writer stopped: \(reason)") }
    return Ledger(journal: try Journal.open(configuration))
}

/// Hands out consecutive indexes to concurrent clients.
final class SharedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < limit else { return nil }
        next += 1
        return next - 1
    }
}

struct WorldBuild {
    var commands: Int
    var events: UInt64
    var seconds: Double
}

/// Creates the world through the ledger, 1000 commands per `executeBatch`.
func buildJournalWorld(_ ledger: Ledger, _ workload: Workload) async throws -> WorldBuild {
    let commands = workload.worldCommands()
    let start = nowNanoseconds()
    var index = 0
    while index < commands.count {
        let chunk = commands[index..<min(index + 1000, commands.count)].map { (command: $0, idempotencyKey: String?.none) }
        let results = try await ledger.executeBatch(chunk)
        for (offset, result) in results.enumerated() {
            if case .failure(let rejection) = result {
                fail("building the world: \(chunk[offset].command) was refused: \(rejection)")
            }
        }
        index += 1000
    }
    return WorldBuild(commands: commands.count, events: ledger.journal.head, seconds: seconds(since: start))
}

struct EndToEndResult {
    var mode: String
    var purchases: Int
    var accepted: Int
    var rejected: Int
    var replayed: Int
    var seconds: Double
    var cpuSeconds: Double
    /// Client-observed latency of each request (a batch, or one purchase), in nanoseconds.
    var latencies: [UInt64]
    var commits: UInt64
    var committedEvents: UInt64
    var totals: Totals
    var world: WorldBuild
    var journalHead: UInt64
    var dataFileBytes: Int
    /// Bytes written during the timed phase (/proc/self/io).
    var written: WriteCounters
    var replayMatches: Bool?
    var purchasesPerSecond: Double { Double(purchases) / seconds }
}

enum EndToEndMode {
    case batched(batch: Int, clients: Int)
    case single(clients: Int)
}

func runEndToEnd(
    directory: String, workload: Workload, commands: [LedgerCommand], mode: EndToEndMode, checkReplay: Bool
) async throws -> EndToEndResult {
    let ledger = try openLedger(directory)
    note("    building the world: \(workload.vendors) vendors x \(Workload.maxPrice) catalog items, \(workload.users) users")
    let world = try await buildJournalWorld(ledger, workload)
    note("    world: \(grouped(Double(world.commands))) commands, \(world.events) events in \(fixed(world.seconds, 2)) s")
    let keys = (0..<commands.count).map { String($0) }
    let before = ledger.journal.commitStatistics

    var accepted = 0
    var rejected = 0
    var replayed = 0
    var latencies: [UInt64] = []
    let modeName: String
    // The requests are prepared before the clock starts (the generator is the client's work).
    var chunks: [[(command: LedgerCommand, idempotencyKey: String?)]] = []
    if case .batched(let batch, _) = mode {
        chunks = stride(from: 0, to: commands.count, by: batch).map { first in
            (first..<min(first + batch, commands.count)).map { (command: commands[$0], idempotencyKey: Optional(keys[$0])) }
        }
    }
    let requests = chunks
    let writeStart = WriteCounters.now()
    let cpuStart = processCPUSeconds()
    let start = nowNanoseconds()
    switch mode {
    case .batched(_, let clients):
        modeName = "batch"
        let counter = SharedCounter(limit: requests.count)
        let perClient = try await withThrowingTaskGroup(of: (Int, Int, Int, [UInt64]).self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var accepted = 0, rejected = 0, replayed = 0
                    var latencies: [UInt64] = []
                    while let chunk = counter.take() {
                        let began = nowNanoseconds()
                        let results = try await ledger.executeBatch(requests[chunk])
                        latencies.append(nowNanoseconds() - began)
                        for result in results {
                            switch result {
                            case .success(let outcome): if outcome.replayed { replayed += 1 } else { accepted += 1 }
                            case .failure: rejected += 1
                            }
                        }
                    }
                    return (accepted, rejected, replayed, latencies)
                }
            }
            var all: [(Int, Int, Int, [UInt64])] = []
            for try await result in group { all.append(result) }
            return all
        }
        for (a, r, p, l) in perClient {
            accepted += a
            rejected += r
            replayed += p
            latencies += l
        }
    case .single(let clients):
        modeName = "single"
        let counter = SharedCounter(limit: commands.count)
        let perClient = try await withThrowingTaskGroup(of: (Int, Int, Int, [UInt64]).self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var accepted = 0, rejected = 0, replayed = 0
                    var latencies: [UInt64] = []
                    latencies.reserveCapacity(commands.count / clients + 16)
                    while let index = counter.take() {
                        let began = nowNanoseconds()
                        do {
                            let result = try await ledger.execute(commands[index], idempotencyKey: keys[index])
                            if result.replayed { replayed += 1 } else { accepted += 1 }
                        } catch is LedgerRejection {
                            rejected += 1
                        }
                        latencies.append(nowNanoseconds() - began)
                    }
                    return (accepted, rejected, replayed, latencies)
                }
            }
            var all: [(Int, Int, Int, [UInt64])] = []
            for try await result in group { all.append(result) }
            return all
        }
        for (a, r, p, l) in perClient {
            accepted += a
            rejected += r
            replayed += p
            latencies += l
        }
    }
    let elapsed = seconds(since: start)
    let cpu = processCPUSeconds() - cpuStart
    let written = WriteCounters.now() - writeStart
    let after = ledger.journal.commitStatistics

    let totals = try ledger.read { try workload.totals(in: $0) }
    let head = ledger.journal.head
    var replayMatches: Bool?
    if checkReplay {
        note("    folding the journal from empty to compare with the live write model")
        let replayStart = nowNanoseconds()
        let rebuilt = try Ledger.replay(ledger.journal.storage)
        replayMatches = try rebuilt == ledger.writeModel()
        note("    replay: \(replayMatches! ? "identical" : "DIFFERENT") (\(rebuilt.count) entries, \(fixed(seconds(since: replayStart), 2)) s)")
    }
    ledger.journal.close()
    let dataFile = Journal.journalPath(in: directory) + "/data.mdb"
    let size = (try? FileManager.default.attributesOfItem(atPath: dataFile)[.size] as? Int) ?? 0
    return EndToEndResult(
        mode: modeName, purchases: commands.count, accepted: accepted, rejected: rejected, replayed: replayed,
        seconds: elapsed, cpuSeconds: cpu, latencies: latencies,
        commits: after.batches - before.batches, committedEvents: after.events - before.events,
        totals: totals, world: world, journalHead: head, dataFileBytes: size, written: written, replayMatches: replayMatches)
}
