import Foundation
import Ledger
import BenchmarkSupport

/// Targets the issue sets.
let decideTarget = 500_000.0
let batchTarget = 200_000.0

enum Benchmark {
    /// Runs the chosen sections; returns false when a run did not end on the expected totals.
    static func run(_ options: Options) async throws -> Bool {
        let workload = options.workload
        let started = Machine.utcNow
        let loadAtStart = Machine.loadAverage
        let purchases = workload.draw()
        let expected = workload.expectedTotals(purchases)
        let known: Totals? = workload.isDefault ? Totals.defaults : nil
        var passed = true
        var lines: [String] = []
        var table: [String] = []

        note("ledger-benchmark: \(Machine.summary); load average \(Machine.loadAverage); \(Machine.utcNow)")
        note("  U=\(workload.users) V=\(workload.vendors) N=\(workload.purchases) C=\(options.concurrency) BATCH=\(options.batch) "
            + "SEED=\(workload.seed) INITIAL=\(workload.initial) CURRENCY=\(workload.currency) content=\(options.content.rawValue)")
        if let known {
            // The generator itself: its totals must be WORKLOAD.md's before the ledger is involved.
            guard expected == known else {
                note("CROSS-CHECK FAILED: the generator's own totals (\(expected.summary)) are not WORKLOAD.md's (\(known.summary))")
                return false
            }
            note("  generator: \(expected.summary) (WORKLOAD.md's totals)")
        } else {
            note("  non-default parameters: WORKLOAD.md's totals do not apply; if nothing is rejected the ledger must end on \(expected.summary)")
        }
        let commands = purchases.map { workload.command($0, content: options.content) }

        /// Compares a run's totals; prints loudly and records a failure when they are wrong.
        func crossCheck(_ label: String, totals: Totals, rejected: Int) -> Bool {
            if let known {
                if totals == known && rejected == 0 { return true }
                note("")
                note("!!!!!!!! CROSS-CHECK FAILED (\(label)) !!!!!!!!")
                note("  expected \(known.summary), 0 rejected")
                note("  got      \(totals.summary), \(rejected) rejected")
                note("  this run did not run the standard workload; its figures are not valid")
                note("")
                passed = false
                return false
            }
            if rejected == 0 && totals != expected {
                note("")
                note("!!!!!!!! CROSS-CHECK FAILED (\(label)): nothing rejected, but \(totals.summary) is not \(expected.summary) !!!!!!!!")
                note("")
                passed = false
                return false
            }
            // With rejections and non-default parameters the totals are not known: not a failure.
            return true
        }
        func checkLabel(_ ok: Bool, rejected: Int) -> String {
            if !ok { return "FAILED" }
            return known == nil && rejected > 0 ? "n/a (rejections, non-default parameters)" : "OK"
        }
        func common(_ line: inout JSONLine) {
            line.add("U", workload.users)
            line.add("V", workload.vendors)
            line.add("N", workload.purchases)
            line.add("SEED", Int64(bitPattern: workload.seed))
            line.add("INITIAL", workload.initial)
            line.add("CURRENCY", workload.currency.code)
            line.add("content", options.content.rawValue)
        }

        // 1. Decide-and-fold, in memory, one core.
        if !options.sections.isDisjoint(with: ["decide", "components", "codec"]) {
            note("")
            note("[decide] building the world in memory")
            let world = buildMemoryWorld(workload)
            note("    \(grouped(Double(world.commands))) commands, \(world.entries.count) write-model entries in \(fixed(world.seconds, 2)) s")
            if options.sections.contains("decide") {
                for variant in DecideVariant.allCases {
                    var runs: [DecideResult] = []
                    var allChecked = true
                    for repeatIndex in 0..<options.repeats {
                        note("[decide] \(variant.rawValue), run \(repeatIndex + 1)/\(options.repeats): \(grouped(Double(commands.count))) purchases, \(options.batch) per staged state")
                        let result = runDecide(world: world, workload: workload, commands: commands, batch: options.batch, variant: variant)
                        note("    \(grouped(result.purchasesPerSecond)) purchases/s in \(fixed(result.seconds, 2)) s, \(fixed(result.cpuSeconds / Double(result.purchases) * 1e6, 2)) us CPU/purchase; \(result.totals.summary)")
                        if !crossCheck("\(variant.rawValue) run \(repeatIndex + 1)", totals: result.totals, rejected: result.rejected) {
                            allChecked = false
                        }
                        runs.append(result)
                    }
                    guard !runs.isEmpty else { continue }
                    let rates = runs.map(\.purchasesPerSecond).sorted()
                    let median = rates[rates.count / 2]
                    let best = runs.max { $0.purchasesPerSecond < $1.purchasesPerSecond }!
                    var line = JSONLine()
                    line.add("benchmark", "ledger-benchmark")
                    line.add("mode", variant.rawValue)
                    line.add("events", best.purchases)
                    line.add("seconds", runs.map(\.seconds).sorted()[runs.count / 2])
                    line.add("events_per_s", median)
                    line.addRaw("runs_events_per_s", "[" + runs.map { jsonNumber($0.purchasesPerSecond.rounded()) }.joined(separator: ",") + "]")
                    line.add("cpu_us_per_event", best.cpuSeconds / Double(best.purchases) * 1e6)
                    line.add("accepted", best.accepted)
                    line.add("rejected", best.rejected)
                    best.totals.addJSON(to: &line)
                    line.add("cross_check", allChecked)
                    line.add("batch", options.batch)
                    line.add("durability", "none: in memory, no journal, no I/O, one thread")
                    if variant == .decideFold { line.add("target_events_per_s", decideTarget); line.add("target_met", median >= decideTarget) }
                    common(&line)
                    lines.append(line.text)
                    let verdict = variant == .decideFold ? "   [target >= 500,000/s: \(median >= decideTarget ? "MET" : "MISSED")]" : ""
                    table.append("  \(variant.rawValue): \(grouped(median)) purchases/s (median of \(runs.count): \(rates.map { grouped($0) }.joined(separator: ", "))), \(fixed(best.cpuSeconds / Double(best.purchases) * 1e6, 2)) us CPU/purchase; cross-check \(checkLabel(allChecked, rejected: best.rejected))\(verdict)")
                }
            }
            if options.sections.contains("codec") {
                note("[codec] encoding and decoding the purchase events, \(options.repeats) passes")
                let codec = measureCodec(world: world, commands: commands, repeats: options.repeats)
                let encode = codec.encodeSeconds.sorted()[codec.encodeSeconds.count / 2]
                let decode = codec.decodeSeconds.sorted()[codec.decodeSeconds.count / 2]
                let events = Double(codec.events)
                let megabytes = Double(codec.bytes) / 1e6
                if !codec.roundTrips {
                    note("!!!!!!!! a decoded event is not the event that was encoded !!!!!!!!")
                    passed = false
                }
                for (name, seconds, runs) in [("encode", encode, codec.encodeSeconds), ("decode", decode, codec.decodeSeconds)] {
                    table.append("  \(name) (LedgerEvent \(name == "encode" ? ".draft()" : "(typeName:payload:)")): "
                        + "\(fixed(seconds / events * 1e6, 3)) us/event, \(fixed(megabytes / seconds, 0)) MB/s "
                        + "(median of \(runs.count): \(runs.map { fixed($0 / events * 1e6, 3) }.joined(separator: ", ")) us; "
                        + "\(grouped(events)) events, \(fixed(Double(codec.bytes) / events, 0)) B each); round trip \(codec.roundTrips ? "OK" : "FAILED")")
                    var line = JSONLine()
                    line.add("benchmark", "ledger-benchmark")
                    line.add("mode", name)
                    line.add("events", codec.events)
                    line.add("bytes", codec.bytes)
                    line.add("us_per_event", seconds / events * 1e6)
                    line.add("mb_per_s", megabytes / seconds)
                    line.addRaw("runs_us_per_event", "[" + runs.map { jsonNumber(($0 / events * 1e6 * 1000).rounded() / 1000) }.joined(separator: ",") + "]")
                    line.add("round_trip", codec.roundTrips)
                    common(&line)
                    lines.append(line.text)
                }
            }
            if options.sections.contains("components") {
                note("[components] timing the record reads and writes of one purchase")
                let components = measureComponents(world: world, workload: workload, commands: commands)
                table.append("  components of one purchase (one call each, warm, through the public API):")
                for component in components {
                    table.append("    " + component.name.padding(toLength: 58, withPad: " ", startingAt: 0)
                        + fixed(component.microseconds, 2).leftPadded(8) + " us"
                        + (component.bytes > 0 ? "   (\(component.bytes) B)" : ""))
                    var line = JSONLine()
                    line.add("benchmark", "ledger-benchmark")
                    line.add("mode", "component")
                    line.add("name", component.name)
                    line.add("us_per_call", component.microseconds)
                    line.add("bytes", component.bytes)
                    lines.append(line.text)
                }
            }
        }

        // 2 and 3. End to end through the journal.
        let wantBatch = options.sections.contains("batch")
        let wantSingle = options.sections.contains("single")
        if wantBatch || wantSingle {
            let parent = options.parentDirectory
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            var template = Array((parent + "/ledger-bench-XXXXXX").utf8CString)
            guard let created = mkdtemp(&template) else { fail("cannot create a directory under \(parent)") }
            let root = URL(fileURLWithPath: String(cString: created)).standardizedFileURL.path
            defer { if !options.keepFiles { try? FileManager.default.removeItem(atPath: root) } }
            note("")
            note("[journal] working in \(root)")

            var modes: [(String, EndToEndMode, [LedgerCommand])] = []
            if wantBatch { modes.append(("batch", .batched(batch: options.batch, clients: options.batchClients), commands)) }
            if wantSingle {
                let count = min(options.singlePurchases ?? commands.count, commands.count)
                modes.append(("single", .single(clients: options.concurrency), Array(commands.prefix(count))))
            }
            for (name, mode, modeCommands) in modes {
                let directory = root + "/" + name
                switch mode {
                case .batched(let batch, let clients):
                    note("[batch] \(grouped(Double(modeCommands.count))) purchases in executeBatch requests of \(batch), \(clients) client(s)")
                case .single(let clients):
                    note("[single] \(grouped(Double(modeCommands.count))) purchases, one per execute, \(clients) concurrent clients")
                }
                let result = try await runEndToEnd(
                    directory: directory, workload: workload, commands: modeCommands, mode: mode, checkReplay: options.checkReplay)
                let latency = LatencySummary(nanoseconds: result.latencies)
                let rate = result.purchasesPerSecond
                note("    \(grouped(rate)) durable purchases/s in \(fixed(result.seconds, 2)) s; request p50 \(fixed(latency.p50, 2)) ms, p99 \(fixed(latency.p99, 2)) ms, max \(fixed(latency.max, 2)) ms; \(result.commits) commits")
                note("    \(result.totals.summary); accepted \(result.accepted), rejected \(result.rejected), replayed \(result.replayed)")
                if !options.keepFiles { try? FileManager.default.removeItem(atPath: directory) }

                // Totals are only known for the whole default workload.
                let whole = modeCommands.count == commands.count
                var ok: Bool
                if whole {
                    ok = crossCheck(name, totals: result.totals, rejected: result.rejected)
                } else {
                    let partial = workload.expectedTotals(Array(purchases.prefix(modeCommands.count)))
                    ok = result.rejected > 0 || result.totals == partial
                    if !ok {
                        note("!!!!!!!! CROSS-CHECK FAILED (\(name), first \(modeCommands.count) purchases): \(result.totals.summary) is not \(partial.summary) !!!!!!!!")
                        passed = false
                    }
                }
                let expectedHead = result.world.events + UInt64(result.accepted)
                if result.journalHead != expectedHead {
                    note("!!!!!!!! journal head \(result.journalHead), expected \(expectedHead) !!!!!!!!")
                    passed = false
                    ok = false
                }
                if result.replayMatches == false {
                    note("!!!!!!!! the journal folded from empty does not give the live write model !!!!!!!!")
                    passed = false
                    ok = false
                }

                var line = JSONLine()
                line.add("benchmark", "ledger-benchmark")
                line.add("mode", name)
                line.add("events", result.purchases)
                line.add("seconds", result.seconds)
                line.add("events_per_s", rate)
                line.add("p50_ms", latency.p50)
                line.add("p99_ms", latency.p99)
                line.add("max_ms", latency.max)
                line.add("accepted", result.accepted)
                line.add("rejected", result.rejected)
                result.totals.addJSON(to: &line)
                line.add("cross_check", ok)
                line.add("durability", durabilitySettings)
                switch mode {
                case .batched(let batch, let clients):
                    line.add("BATCH", batch)
                    line.add("clients", clients)
                    line.add("target_events_per_s", batchTarget)
                    line.add("target_met", rate >= batchTarget)
                case .single(let clients):
                    line.add("C", clients)
                }
                line.add("commits", Int(result.commits))
                line.add("avg_events_per_commit", Double(result.committedEvents) / Double(max(result.commits, 1)))
                line.add("cpu_us_per_event", result.cpuSeconds / Double(result.purchases) * 1e6)
                line.add("world_commands", result.world.commands)
                line.add("world_seconds", result.world.seconds)
                line.add("data_file_bytes", result.dataFileBytes)
                line.add("written_bytes_per_event", Double(result.written.syscallBytes) / Double(max(result.purchases, 1)))
                line.add("storage_write_bytes_per_event", Double(result.written.storageBytes) / Double(max(result.purchases, 1)))
                if let matches = result.replayMatches { line.add("replay_matches", matches) }
                common(&line)
                lines.append(line.text)

                var row = "  \(name): \(grouped(rate)) durable purchases/s; request p50 \(fixed(latency.p50, 2)) ms, p99 \(fixed(latency.p99, 2)) ms, max \(fixed(latency.max, 2)) ms; "
                row += "\(result.commits) commits, \(fixed(Double(result.committedEvents) / Double(max(result.commits, 1)), 1)) events/commit, \(fixed(result.cpuSeconds / Double(result.purchases) * 1e6, 2)) us CPU/purchase, \(grouped(Double(result.written.syscallBytes) / Double(max(result.purchases, 1)))) B written/purchase (\(grouped(Double(result.written.storageBytes) / Double(max(result.purchases, 1)))) B accounted to storage); cross-check \(checkLabel(ok, rejected: result.rejected))"
                if case .batched = mode { row += "   [target >= 200,000/s: \(rate >= batchTarget ? "MET" : "MISSED")]" }
                table.append(row)
            }
        }

        print("")
        print("ledger-benchmark results — \(Machine.summary); started \(started) (load average \(loadAtStart)), finished \(Machine.utcNow)")
        print("  U=\(workload.users) V=\(workload.vendors) N=\(workload.purchases) C=\(options.concurrency) BATCH=\(options.batch) BATCH_CLIENTS=\(options.batchClients) SEED=\(workload.seed) INITIAL=\(workload.initial) CURRENCY=\(workload.currency) content=\(options.content.rawValue)")
        for row in table { print(row) }
        print("")
        for line in lines { print(line) }
        if !passed {
            note("")
            note("ledger-benchmark: CROSS-CHECK FAILED — see above; exiting with status 2")
        }
        return passed
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
