import BenchmarkSupport
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TallyCrypto

// MODE=reads: the read side at a fixed offered rate (issue 4: read p99 under 5 ms at 10,000
// reads/s). After the ordinary setup and a purchase phase of N single purchases (so wallets have
// history), the generator waits until the read models are at the journal's head and then offers
// READ_RATE reads/s for READ_SECONDS, open loop: read k is *scheduled* at start + k / READ_RATE,
// whatever happened to earlier reads. C connections (one request in flight on each) take the
// next scheduled read from a shared counter and send it at its scheduled time, or at once when
// they are late. Latency is measured from the scheduled time to the last byte of the reply, so a
// server (or client) that falls behind shows up as queueing in the latencies instead of silently
// lowering the offered rate (coordinated omission). `service_*` are measured from the actual send,
// the difference is time spent waiting for a free connection.

/// One kind of read, with its user-session bearer.
enum ReadKind: String, CaseIterable {
    /// `GET /v1/me/wallets`
    case wallets
    /// `GET /v1/me/history/{CURRENCY}?limit=READ_LIMIT`
    case history
    /// `GET /v1/me/purchases` (the purchase summary; unpaginated, so it grows with the user's purchases)
    case purchases
}

struct ReadParameters {
    var seconds = 20.0
    var rate = 10_000.0
    /// `READ_RATE` may be a comma-separated list: one read phase (and JSON line) per rate, in order.
    var rates: [Double] = [10_000]
    /// The reads drawn from, in turn by a hash of the read's index.
    var mix: [ReadKind] = [.wallets, .history]
    var limit = 20
    /// Reads still unsent this long after the read phase's scheduled end are not sent.
    var drainSeconds = 10.0

    static func fromEnvironment() throws -> ReadParameters {
        let environment = ProcessInfo.processInfo.environment
        var read = ReadParameters()
        if let text = environment["READ_SECONDS"], !text.isEmpty {
            guard let value = Double(text), value > 0, value <= 3600 else { throw UsageError("READ_SECONDS must be in (0, 3600], got '\(text)'") }
            read.seconds = value
        }
        if let text = environment["READ_RATE"], !text.isEmpty {
            read.rates = []
            for part in text.split(separator: ",") {
                guard let value = Double(part), value > 0, value <= 1_000_000 else {
                    throw UsageError("READ_RATE must be rates in (0, 1000000], comma-separated, got '\(text)'")
                }
                read.rates.append(value)
            }
            read.rate = read.rates[0]
        }
        if let text = environment["READ_MIX"], !text.isEmpty {
            var mix: [ReadKind] = []
            for name in text.split(separator: ",") {
                guard let kind = ReadKind(rawValue: String(name)) else {
                    throw UsageError("READ_MIX is a comma-separated list of \(ReadKind.allCases.map(\.rawValue)), got '\(text)'")
                }
                mix.append(kind)
            }
            read.mix = mix
        }
        if let text = environment["READ_LIMIT"], !text.isEmpty {
            guard let value = Int(text), (1...500).contains(value) else { throw UsageError("READ_LIMIT must be 1 to 500, got '\(text)'") }
            read.limit = value
        }
        if let text = environment["READ_DRAIN_SECONDS"], !text.isEmpty {
            guard let value = Double(text), value >= 0 else { throw UsageError("READ_DRAIN_SECONDS must be ≥ 0, got '\(text)'") }
            read.drainSeconds = value
        }
        return read
    }
}

/// The schedule and the requests of the read phase.
final class ReadPlan: Sendable {
    let users: [UserAccount]
    let read: ReadParameters
    let currency: String
    let count: Int
    let intervalNanoseconds: Double
    let startNanoseconds: UInt64
    let cutoffNanoseconds: UInt64
    let bearers: [String]

    init(users: [UserAccount], read: ReadParameters, currency: String, startNanoseconds: UInt64) {
        self.users = users
        self.read = read
        self.currency = currency
        count = Int((read.seconds * read.rate).rounded())
        intervalNanoseconds = 1e9 / read.rate
        self.startNanoseconds = startNanoseconds
        cutoffNanoseconds = startNanoseconds + UInt64((read.seconds + read.drainSeconds) * 1e9)
        bearers = users.map { "Bearer \($0.session)" }
    }

    func scheduled(_ k: Int) -> UInt64 { startNanoseconds + UInt64(Double(k) * intervalNanoseconds) }

    /// Read k: a user and a kind of read drawn from a hash of k.
    func request(_ k: Int) -> (path: String, bearer: String) {
        var hash = SplitMix64(seed: 0x5EAD_0000_0000_0000 ^ UInt64(k))
        let r = hash.next()
        let user = Int(r % UInt64(users.count))
        let kind = read.mix[Int((r >> 40) % UInt64(read.mix.count))]
        let path: String
        switch kind {
        case .wallets: path = "/v1/me/wallets"
        case .history: path = "/v1/me/history/\(currency)?limit=\(read.limit)"
        case .purchases: path = "/v1/me/purchases"
        }
        return (path, bearers[user])
    }
}

/// One connection of the read phase.
final class ReadClient: @unchecked Sendable {
    let connection: Connection
    let plan: ReadPlan
    let counter: Counter
    let finished: EventLoopPromise<Void>
    // Touched only on the connection's event loop.
    var latencies: [UInt64] = []
    var service: [UInt64] = []
    var errors = 0
    var failures: [String] = []
    var bytes = 0
    var lastCompletion: UInt64 = 0
    var unsent = 0

    init(connection: Connection, plan: ReadPlan, counter: Counter) {
        self.connection = connection
        self.plan = plan
        self.counter = counter
        finished = connection.eventLoop.makePromise(of: Void.self)
    }

    func start() { connection.eventLoop.execute { self.next() } }

    private func next() {
        let k = counter.next()
        guard k < plan.count else {
            finished.succeed(())
            return
        }
        let now = DispatchTime.now().uptimeNanoseconds
        if now > plan.cutoffNanoseconds {
            // Too far behind: this and every later read stay unsent (counted by the caller).
            finished.succeed(())
            return
        }
        let due = plan.scheduled(k)
        if due > now + 20_000 {
            connection.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(due)) { self.send(k, due: due) }
        } else {
            send(k, due: due)
        }
    }

    private func send(_ k: Int, due: UInt64) {
        let (path, bearer) = plan.request(k)
        let sent = DispatchTime.now().uptimeNanoseconds
        connection.send(method: .GET, path: path, headers: [("Authorization", bearer)], body: nil).whenComplete { result in
            let done = DispatchTime.now().uptimeNanoseconds
            self.lastCompletion = done
            self.latencies.append(done - due)
            self.service.append(done - sent)
            switch result {
            case .success(let reply):
                self.bytes += reply.body.readableBytes
                if reply.status != 200 {
                    self.errors += 1
                    if self.failures.count < 5 { self.failures.append("GET \(path): HTTP \(reply.status): \(reply.text.prefix(300))") }
                }
                self.next()
            case .failure(let error):
                self.errors += 1
                self.failures.append("GET \(path): \(error)")
                self.finished.succeed(())
            }
        }
    }
}

func runReads(_ parameters: Parameters, group: any EventLoopGroup, host: String, port: Int) async throws -> Int32 {
    let read = try ReadParameters.fromEnvironment()
    var purchaseParameters = parameters
    purchaseParameters.mode = .single
    let draws = Draws(purchaseParameters)
    let tag = Hex.encode(SecureRandom.bytes(4))
    let noncePrefix = "lg" + Hex.encode(SecureRandom.bytes(8))
    log("mode reads, U=\(parameters.users) V=\(parameters.vendors) N=\(parameters.purchases) C=\(parameters.clients) "
        + "READ_RATE=\(read.rate) READ_SECONDS=\(read.seconds) READ_MIX=\(read.mix.map(\.rawValue)) against \(parameters.url) (run tag \(tag))")

    // Setup (untimed): the same vendors and users as the purchase modes; users keep their session.
    let setupStarted = ContinuousClock.now
    let setupConnections = try await connections(parameters.setupClients, group: group, host: host, port: port)
    let setup = Setup(parameters: purchaseParameters, tag: tag, noncePrefix: noncePrefix)
    let vendors = try await setup.vendors(setupConnections)
    let users = try await setup.users(setupConnections)
    log("setup done in \(ContinuousClock.now - setupStarted)")

    // Purchases (untimed here, but the same code as MODE=single), so wallets have history.
    let plan = Plan(parameters: purchaseParameters, draws: draws, users: users, vendors: vendors, noncePrefix: noncePrefix)
    let purchaseConnections = try await connections(parameters.clients, group: group, host: host, port: port)
    let shared = Counter()
    let sharedClients = purchaseConnections.map { Client(connection: $0, plan: plan, counter: shared) }
    let purchasesStarted = DispatchTime.now().uptimeNanoseconds
    for client in sharedClients { client.start() }
    for client in sharedClients { try await client.finished.futureResult.get() }
    let purchaseSeconds = Double(DispatchTime.now().uptimeNanoseconds - purchasesStarted) / 1e9
    for connection in purchaseConnections { await connection.close() }
    var accepted = 0, rejected = 0, failedPurchases = 0
    for index in 0..<draws.count {
        switch Outcome(rawValue: plan.outcomes[index]) {
        case .accepted: accepted += 1
        case .rejected: rejected += 1
        default: failedPurchases += 1
        }
    }
    log("purchases: \(accepted) accepted, \(rejected) rejected, \(failedPurchases) failed in \(String(format: "%.3f", purchaseSeconds)) s")
    let head = try await ReadBack(parameters: parameters).caughtUp(setupConnections[0])
    for connection in setupConnections { await connection.close() }
    log("read models at the journal's head \(head)")

    var status: Int32 = failedPurchases == 0 ? 0 : 1
    let serverPID = ProcessInfo.processInfo.environment["TALLY_SERVER_PID"].flatMap { Int32($0) }
    for rate in read.rates {
        var phase = read
        phase.rate = rate
        let clean = try await readPhase(
            parameters, phase, users: users, group: group, host: host, port: port, serverPID: serverPID,
            purchases: (accepted, rejected, failedPurchases, purchaseSeconds), head: head)
        if !clean { status = 1 }
        try await Task.sleep(for: .seconds(2))
    }
    try await group.shutdownGracefully()
    return status
}

/// CPU seconds (user + system) process `pid` has used so far, from /proc (nil when unreadable).
func processCPUSeconds(_ pid: Int32?) -> Double? {
    guard let pid, let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Bytes process `pid` has passed to write-like system calls so far (`wchar` in /proc/PID/io; nil when unreadable).
func processWrittenBytes(_ pid: Int32?) -> UInt64? {
    guard let pid, let text = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("wchar:") {
        return UInt64(line.dropFirst("wchar:".count).trimmingCharacters(in: .whitespaces))
    }
    return nil
}

/// One read phase at `read.rate`; prints its JSON line. True when every read was sent and answered 200.
func readPhase(
    _ parameters: Parameters, _ read: ReadParameters, users: [UserAccount], group: any EventLoopGroup, host: String, port: Int,
    serverPID: Int32?, purchases: (accepted: Int, rejected: Int, failed: Int, seconds: Double), head: UInt64
) async throws -> Bool {
    let (accepted, rejected, failedPurchases, purchaseSeconds) = purchases
    // Read phase (timed, open loop).
    let readConnections = try await connections(parameters.clients, group: group, host: host, port: port)
    let start = DispatchTime.now().uptimeNanoseconds + 50_000_000
    let readPlan = ReadPlan(users: users, read: read, currency: parameters.currency, startNanoseconds: start)
    let counter = Counter()
    let clients = readConnections.map { ReadClient(connection: $0, plan: readPlan, counter: counter) }
    log("read phase: \(readPlan.count) reads offered at \(read.rate)/s on \(clients.count) connections")
    let cpuBefore = cpuSeconds()
    let serverCPUBefore = processCPUSeconds(serverPID)
    for client in clients { client.start() }
    for client in clients { try await client.finished.futureResult.get() }
    let clientCPU = cpuSeconds() - cpuBefore
    let serverCPU = processCPUSeconds(serverPID).flatMap { after in serverCPUBefore.map { after - $0 } }
    for connection in readConnections { await connection.close() }

    var latencies: [UInt64] = [], service: [UInt64] = []
    var errors = 0, bytes = 0, last: UInt64 = start
    var failures: [String] = []
    for client in clients {
        let part = try await client.connection.eventLoop.submit {
            (client.latencies, client.service, client.errors, client.failures, client.bytes, client.lastCompletion)
        }.get()
        latencies += part.0
        service += part.1
        errors += part.2
        failures += part.3
        bytes += part.4
        last = max(last, part.5)
    }
    for failure in failures.prefix(5) { log("failure: \(failure)") }
    latencies.sort()
    service.sort()
    let completed = latencies.count
    let unsent = readPlan.count - completed
    let seconds = Double(last - start) / 1e9
    let fields: [(String, String)] = [
        ("workload", "\"reads\""), ("mode", "\"reads\""),
        ("offered_per_s", String(format: "%.0f", read.rate)), ("read_seconds", String(format: "%.3f", read.seconds)),
        ("scheduled", "\(readPlan.count)"), ("completed", "\(completed)"), ("unsent", "\(unsent)"), ("errors", "\(errors)"),
        ("seconds", String(format: "%.3f", seconds)),
        ("reads_per_s", String(format: "%.0f", Double(completed - errors) / max(seconds, 1e-9))),
        ("p50_ms", formatMilliseconds(percentile(latencies, 0.50))), ("p99_ms", formatMilliseconds(percentile(latencies, 0.99))),
        ("p999_ms", formatMilliseconds(percentile(latencies, 0.999))), ("max_ms", formatMilliseconds(latencies.last ?? 0)),
        ("service_p50_ms", formatMilliseconds(percentile(service, 0.50))), ("service_p99_ms", formatMilliseconds(percentile(service, 0.99))),
        ("latency_from", "\"scheduled time\""),
        ("mix", "\"" + read.mix.map { $0 == .history ? "history/\(parameters.currency)?limit=\(read.limit)" : $0.rawValue }.joined(separator: ",") + "\""),
        ("mean_reply_bytes", "\(completed > 0 ? bytes / completed : 0)"),
        ("client_cpu_s", String(format: "%.3f", clientCPU)),
        ("server_cpu_s", serverCPU.map { String(format: "%.3f", $0) } ?? "null"),
        ("journal_head", "\(head)"), ("purchases_accepted", "\(accepted)"), ("purchases_failed", "\(failedPurchases)"),
        ("purchases_per_s", String(format: "%.0f", Double(accepted + rejected) / purchaseSeconds)),
        ("U", "\(parameters.users)"), ("V", "\(parameters.vendors)"), ("N", "\(parameters.purchases)"), ("C", "\(parameters.clients)"),
        ("SEED", "\(parameters.seed)"),
    ]
    print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
    fflush(nil)
    return errors == 0 && unsent == 0
}
