import Foundation
import NIOCore
import NIOPosix
import TallyCrypto

// tally-loadgen: the standard purchase workload (/work/shared/bench/WORKLOAD.md) against a live
// `tally serve` over HTTP/1.1 keep-alive connections. Parameters come from the environment:
// U V N C BATCH SEED INITIAL CURRENCY (as WORKLOAD.md names them), TALLY_URL, TALLY_ADMIN_KEY,
// MODE (single | batched | reads; reads adds READ_RATE READ_SECONDS READ_MIX READ_LIMIT
// READ_DRAIN_SECONDS, see Reads.swift); optionally SETUP_C (setup and read-back concurrency), LG_THREADS
// (client event-loop threads, default 1) and DURABILITY (the text reported as the durability
// settings). Prints one JSON line on stdout; progress goes to stderr. Exit 0 only when every
// purchase was answered and the totals read back equal the expected ones (WORKLOAD.md's
// cross-check for the default parameters).

func formatMilliseconds(_ nanoseconds: UInt64) -> String { String(format: "%.3f", Double(nanoseconds) / 1e6) }

/// CPU seconds (user + system) this process has used so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func percentile(_ sorted: [UInt64], _ fraction: Double) -> UInt64 {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

func connections(_ count: Int, group: any EventLoopGroup, host: String, port: Int) async throws -> [Connection] {
    var all: [Connection] = []
    for _ in 0..<count { all.append(try await Connection.connect(group: group, host: host, port: port)) }
    return all
}

/// `LG_MEASURE_BUILD=1`: times building and signing every request of the plan with made-up
/// accounts (no server), to show what the client itself costs per request.
func measureBuild(_ parameters: Parameters) {
    let draws = Draws(parameters)
    let vendors = (0..<parameters.vendors).map {
        VendorAccount(index: $0, id: "v_\($0)", keyID: "vk_000000000000000000000000", secret: SecureRandom.bytes(32),
                      site: "https://lgdeadbeefv\($0).example/", holder: "lgdeadbeefh\($0)")
    }
    let token = "pt_" + String(repeating: "A", count: 190)
    let users = (0..<parameters.users).map { UserAccount(index: $0, id: "u_\($0)", login: "", session: "", purchaseToken: token) }
    let plan = Plan(parameters: parameters, draws: draws, users: users, vendors: vendors, noncePrefix: "lg0123456789abcdef")
    let cpu = cpuSeconds()
    var bytes = 0
    for task in 0..<plan.requestCount { bytes += plan.build(task).body.readableBytes }
    let used = cpuSeconds() - cpu
    print("{\"measure\":\"build\",\"mode\":\"\(parameters.mode.rawValue)\",\"requests\":\(plan.requestCount),\"cpu_s\":\(used),"
        + "\"us_per_request\":\(used * 1e6 / Double(plan.requestCount)),\"us_per_purchase\":\(used * 1e6 / Double(draws.count)),\"body_bytes\":\(bytes)}")
}

func run() async throws -> Int32 {
    if ProcessInfo.processInfo.environment["LG_MEASURE_BUILD"] == "1" {
        var parameters = try Parameters.fromEnvironment()
        parameters.adminKey = "unused"
        measureBuild(parameters)
        return 0
    }
    let parameters = try Parameters.fromEnvironment()
    let (host, port) = try parseURL(parameters.url)
    let threads = Int(ProcessInfo.processInfo.environment["LG_THREADS"] ?? "") ?? 1
    let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    if parameters.mode == .reads { return try await runReads(parameters, group: group, host: host, port: port) }

    let draws = Draws(parameters)
    let expected = Totals.expected(draws) { _ in true }
    if parameters.isDefault && expected != .workloadDefaults {
        log("the generator does not reproduce WORKLOAD.md's totals: \(expected)")
        return 2
    }
    let tag = Hex.encode(SecureRandom.bytes(4))
    let noncePrefix = "lg" + Hex.encode(SecureRandom.bytes(8))
    log("mode \(parameters.mode.rawValue), U=\(parameters.users) V=\(parameters.vendors) N=\(parameters.purchases) C=\(parameters.clients) "
        + "BATCH=\(parameters.batch) SEED=\(parameters.seed) against \(parameters.url) (run tag \(tag))")

    // Setup (untimed).
    let setupStarted = ContinuousClock.now
    let setupConnections = try await connections(parameters.setupClients, group: group, host: host, port: port)
    let setup = Setup(parameters: parameters, tag: tag, noncePrefix: noncePrefix)
    let vendors = try await setup.vendors(setupConnections)
    let users = try await setup.users(setupConnections)
    for connection in setupConnections { await connection.close() }
    log("setup done in \(ContinuousClock.now - setupStarted)")

    // Timed phase.
    let plan = Plan(parameters: parameters, draws: draws, users: users, vendors: vendors, noncePrefix: noncePrefix)
    let timedConnections = try await connections(parameters.clients, group: group, host: host, port: port)
    let counter = Counter()
    let clients = timedConnections.map { Client(connection: $0, plan: plan, counter: counter) }
    log("timed phase: \(plan.requestCount) requests on \(clients.count) connections")
    let serverPID = ProcessInfo.processInfo.environment["TALLY_SERVER_PID"].flatMap { Int32($0) }
    let serverBefore = (cpu: processCPUSeconds(serverPID), written: processWrittenBytes(serverPID))
    let cpuBefore = cpuSeconds()
    let started = DispatchTime.now().uptimeNanoseconds
    for client in clients { client.start() }
    for client in clients { try await client.finished.futureResult.get() }
    let elapsed = DispatchTime.now().uptimeNanoseconds - started
    let clientCPU = cpuSeconds() - cpuBefore
    let serverAfter = (cpu: processCPUSeconds(serverPID), written: processWrittenBytes(serverPID))
    for connection in timedConnections { await connection.close() }

    var latencies: [UInt64] = []
    var failures: [String] = []
    var requests = 0
    for client in clients {
        // Read on the client's event loop, where it was written.
        let (mine, failed, count) = try await client.connection.eventLoop.submit { (client.latencies, client.failures, client.requests) }.get()
        latencies += mine
        failures += failed
        requests += count
    }
    latencies.sort()
    var accepted = 0, rejected = 0, failed = 0
    for index in 0..<draws.count {
        switch Outcome(rawValue: plan.outcomes[index]) {
        case .accepted: accepted += 1
        case .rejected: rejected += 1
        default: failed += 1
        }
    }
    for failure in failures.prefix(5) { log("failure: \(failure)") }
    let seconds = Double(elapsed) / 1e9
    log("timed phase: \(accepted) accepted, \(rejected) rejected, \(failed) failed in \(String(format: "%.3f", seconds)) s")

    // Read back (untimed).
    let readConnections = try await connections(parameters.setupClients, group: group, host: host, port: port)
    let totals = try await ReadBack(parameters: parameters).totals(readConnections, users: users, vendors: vendors)
    for connection in readConnections { await connection.close() }
    let wanted = Totals.expected(draws) { plan.outcomes[$0] == Outcome.accepted.rawValue }
    let matches = totals == wanted && failed == 0 && (!parameters.isDefault || (totals == .workloadDefaults && rejected == 0))

    var fields: [(String, String)] = [
        ("workload", "\"standard-purchase\""), ("mode", "\"\(parameters.mode.rawValue)\""),
        ("events", "\(draws.count)"), ("seconds", String(format: "%.3f", seconds)),
        ("events_per_s", String(format: "%.0f", Double(accepted + rejected) / seconds)),
        ("p50_ms", formatMilliseconds(percentile(latencies, 0.50))), ("p99_ms", formatMilliseconds(percentile(latencies, 0.99))),
        ("max_ms", formatMilliseconds(latencies.last ?? 0)),
        ("accepted", "\(accepted)"), ("rejected", "\(rejected)"), ("failed", "\(failed)"),
        ("users_spent", "\(totals.usersSpent)"), ("vendors_net", "\(totals.vendorsNet)"), ("fees", "\(totals.fees)"), ("royalties", "\(totals.royalties)"),
        ("totals_match", matches ? "true" : "false"),
        ("requests", "\(requests)"), ("client_cpu_s", String(format: "%.3f", clientCPU)), ("latency_per", parameters.mode == .single ? "\"purchase\"" : "\"request\""),
        ("U", "\(parameters.users)"), ("V", "\(parameters.vendors)"), ("C", "\(parameters.clients)"),
        ("BATCH", parameters.mode == .batched ? "\(parameters.batch)" : "null"), ("SEED", "\(parameters.seed)"),
        ("INITIAL", "\(parameters.initial)"), ("CURRENCY", Bodies.jsonString(parameters.currency)),
        ("durability", Bodies.jsonString(parameters.durability)),
    ]
    if parameters.isDefault { fields.append(("cross_check", "\"WORKLOAD.md defaults\"")) }
    // The server's share, when the script passes its pid: CPU (user + system) and bytes it handed
    // to write(2)-like calls (/proc/PID/io wchar; LMDB's page writes), per accepted purchase.
    if let before = serverBefore.cpu, let after = serverAfter.cpu, accepted > 0 {
        fields.append(("server_cpu_s", String(format: "%.3f", after - before)))
        fields.append(("server_cpu_us_per_purchase", String(format: "%.0f", (after - before) * 1e6 / Double(accepted))))
    }
    if let before = serverBefore.written, let after = serverAfter.written, accepted > 0 {
        fields.append(("server_written_bytes_per_purchase", "\((after - before) / UInt64(accepted))"))
    }
    print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
    fflush(nil)
    if !matches {
        log("totals differ: read back \(totals), expected \(wanted)\(parameters.isDefault ? " (WORKLOAD.md: \(Totals.workloadDefaults))" : "")")
    }
    try await group.shutdownGracefully()
    return matches ? 0 : 1
}

do {
    exit(try await run())
} catch {
    log("error: \(error)")
    exit(3)
}
