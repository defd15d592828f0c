#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Journal
import LMDB
import TallyCrypto
import BenchmarkSupport

enum Benchmark {
    static func run(_ options: Options) async throws {
        let report = Report()
        try FileSystem.makeDirectory(options.parentDirectory)
        var template = Array((options.parentDirectory + "/journal-bench-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { fail("cannot create a directory under \(options.parentDirectory)") }
        var root = String(cString: created)
        if let absolute = realpath(root, nil) {
            root = String(cString: absolute)
            free(absolute)
        }
        defer { if !options.keepFiles { FileSystem.removeTree(root) } }

        let storedSize = EventRecord.storedSize(typeNameBytes: benchmarkTypeName.utf8.count, payloadBytes: options.payloadBytes)
        report.context = [
            ("machine", Machine.summary),
            ("directory", root + " (" + Machine.fileSystem(of: root) + ")"),
            ("payload", "\(options.payloadBytes) bytes per event/record; the journal stores \(storedSize) bytes per event (38-byte header + type name '\(benchmarkTypeName)' + payload) plus one 161-byte block record per commit"),
            ("counts", "scale \(options.scale), \(options.repeats) repeat(s), medians reported"),
            ("load average at start", Machine.loadAverage),
        ]
        note("journal-benchmark: working in \(root)")
        note("  \(Machine.summary)")
        var counter = 0
        func scratch(_ name: String) -> String {
            counter += 1
            return root + "/\(counter)-" + name
        }

        // 1 and 2: raw loop and sequential journal appends, alternating, repeated.
        let wantRaw = options.sections.contains("raw")
        let wantJournal = options.sections.contains("journal")
        var raw: [Int: [RawAppendResult]] = [:]
        var rawSameSize: [Int: [RawAppendResult]] = [:]
        var journal: [Int: [JournalAppendResult]] = [:]
        if wantRaw || wantJournal {
            for repeatIndex in 0..<options.repeats {
                for k in options.batchSizes {
                    let records = options.records(forBatch: k)
                    // Alternate the order between repeats, so neither side always runs first.
                    var steps: [String] = []
                    if wantRaw { steps += ["raw", "raw-stored-size"] }
                    if wantJournal { steps.append("journal") }
                    if repeatIndex % 2 == 1 { steps.reverse() }
                    for step in steps {
                        let directory = scratch("\(step)-k\(k)")
                        switch step {
                        case "raw":
                            note("[\(repeatIndex + 1)/\(options.repeats)] raw LMDB, k=\(k), \(grouped(Double(records))) records of \(options.payloadBytes) B")
                            let result = try runRawAppend(directory: directory, batch: k, records: records, valueBytes: options.payloadBytes)
                            note("    \(grouped(result.recordsPerSecond)) records/s in \(fixed(result.seconds, 2)) s")
                            raw[k, default: []].append(result)
                        case "raw-stored-size":
                            note("[\(repeatIndex + 1)/\(options.repeats)] raw LMDB, k=\(k), \(grouped(Double(records))) records of \(storedSize) B (journal's stored size)")
                            let result = try runRawAppend(directory: directory, batch: k, records: records, valueBytes: storedSize)
                            note("    \(grouped(result.recordsPerSecond)) records/s in \(fixed(result.seconds, 2)) s")
                            rawSameSize[k, default: []].append(result)
                        default:
                            note("[\(repeatIndex + 1)/\(options.repeats)] journal, k=\(k), \(grouped(Double(records))) events")
                            let result = try await runJournalSequential(directory: directory, batch: k, events: records, payloadBytes: options.payloadBytes)
                            note("    \(grouped(result.eventsPerSecond)) events/s in \(fixed(result.seconds, 2)) s")
                            journal[k, default: []].append(result)
                        }
                        FileSystem.removeTree(directory)
                    }
                }
            }
        }
        let section1 = "1. Raw LMDB append loop: durable commit, named db, 8-byte BE keys, MDB_APPEND"
        for k in options.batchSizes {
            guard let runs = raw[k] else { continue }
            var figure = Figure(
                section: section1, name: "raw_append", parameters: [("k", k)],
                value: median(runs.map(\.recordsPerSecond)), unit: "records/s", runs: runs.map(\.recordsPerSecond),
                extras: [("value_bytes", Double(options.payloadBytes)), ("records", Double(runs[0].records))],
                label: "raw, \(options.payloadBytes) B values, k=\(k)")
            if k == 1 {
                let latency = LatencySummary(nanoseconds: runs.flatMap(\.commitLatencies))
                figure.extras += [("p50_ms", latency.p50), ("p99_ms", latency.p99), ("max_ms", latency.max)]
            }
            figure.extras += resourceExtras(runs.map { ($0.resources, $0.records) }, per: "record")
            report.add(figure)
        }
        for k in options.batchSizes {
            guard let runs = rawSameSize[k] else { continue }
            report.add(Figure(
                section: section1, name: "raw_append_stored_size", parameters: [("k", k)],
                value: median(runs.map(\.recordsPerSecond)), unit: "records/s", runs: runs.map(\.recordsPerSecond),
                extras: [("value_bytes", Double(storedSize))] + resourceExtras(runs.map { ($0.resources, $0.records) }, per: "record"),
                label: "raw, \(storedSize) B values (journal size), k=\(k)"))
        }
        let section2 = "2. Journal: sequential durable appends, k events per request = per commit"
        for k in options.batchSizes {
            guard let runs = journal[k] else { continue }
            let value = median(runs.map(\.eventsPerSecond))
            var figure = Figure(
                section: section2, name: "journal_append", parameters: [("k", k)],
                value: value, unit: "events/s", runs: runs.map(\.eventsPerSecond),
                label: "journal, k=\(k)")
            let batches = runs.reduce(UInt64(0)) { $0 + $1.batches }
            let events = runs.reduce(UInt64(0)) { $0 + $1.batchedEvents }
            figure.extras.append(("avg_batch", Double(events) / Double(max(batches, 1))))
            var targets: [Figure.Target] = []
            if let rawRuns = raw[k] {
                let ratio = value / median(rawRuns.map(\.recordsPerSecond))
                figure.extras.append(("ratio_to_raw", ratio))
                targets.append(.init(description: ">= 80% of raw", met: ratio >= 0.8))
            }
            if let sameSize = rawSameSize[k] {
                figure.extras.append(("ratio_to_raw_stored_size", value / median(sameSize.map(\.recordsPerSecond))))
            }
            if k == 1 {
                let latency = LatencySummary(nanoseconds: runs.flatMap(\.latencies))
                figure.extras += [("p50_ms", latency.p50), ("p99_ms", latency.p99), ("max_ms", latency.max)]
            }
            figure.extras += resourceExtras(runs.map { ($0.resources, $0.events) }, per: "event")
            if k == 1000 { targets.append(.init(description: ">= 500,000 events/s", met: value >= 500_000)) }
            figure.targets = targets
            report.add(figure)
        }

        // 3: concurrent single-event appends.
        if options.sections.contains("concurrent") {
            let section3 = "3. Journal: concurrent single-event appends (group commit)"
            var concurrent: [Int: [JournalAppendResult]] = [:]
            for repeatIndex in 0..<options.repeats {
                for tasks in options.concurrency {
                    note("[\(repeatIndex + 1)/\(options.repeats)] journal, \(tasks) concurrent tasks x 1-event appends, \(fixed(options.concurrentSeconds, 1)) s")
                    let directory = scratch("concurrent-c\(tasks)")
                    let result = try await runJournalConcurrent(
                        directory: directory, tasks: tasks, duration: options.concurrentSeconds, payloadBytes: options.payloadBytes)
                    note("    \(grouped(result.eventsPerSecond)) events/s, \(grouped(Double(result.batches))) batches")
                    concurrent[tasks, default: []].append(result)
                    FileSystem.removeTree(directory)
                }
            }
            for tasks in options.concurrency {
                guard let runs = concurrent[tasks] else { continue }
                let latency = LatencySummary(nanoseconds: runs.flatMap(\.latencies))
                let batches = runs.reduce(UInt64(0)) { $0 + $1.batches }
                let events = runs.reduce(UInt64(0)) { $0 + $1.batchedEvents }
                report.add(Figure(
                    section: section3, name: "journal_concurrent", parameters: [("concurrency", tasks)],
                    value: median(runs.map(\.eventsPerSecond)), unit: "events/s", runs: runs.map(\.eventsPerSecond),
                    extras: [
                        ("p50_ms", latency.p50), ("p99_ms", latency.p99), ("max_ms", latency.max),
                        ("avg_batch", Double(events) / Double(max(batches, 1))),
                        ("commits_per_s", median(runs.map { Double($0.batches) / $0.seconds })),
                    ] + resourceExtras(runs.map { ($0.resources, $0.events) }, per: "event"),
                    label: "journal, \(tasks) tasks x 1 event"))
            }
        }

        // 4: verification.
        if options.sections.contains("verify") {
            let section4 = "4. Verification of a sealed journal (one core)"
            let directory = scratch("verify")
            let events = options.verifyEvents
            note("building a journal of \(grouped(Double(events))) events in blocks of \(options.verifyBlockEvents)")
            let built = try await buildJournal(
                directory: directory, events: events, blockEvents: options.verifyBlockEvents, payloadBytes: options.payloadBytes)
            let fileBytes = FileSystem.fileSize(Journal.journalPath(in: directory) + "/data.mdb") ?? 0
            report.add(Figure(
                section: section4, name: "journal_build", parameters: [("k", options.verifyBlockEvents)],
                value: Double(events) / built.seconds, unit: "events/s",
                extras: [("events", Double(events)), ("data_file_mib", Double(fileBytes) / 1_048_576)],
                label: "building it (durable, k=\(options.verifyBlockEvents))"))
            var warm: [VerifyResult] = []
            for repeatIndex in 0..<options.repeats {
                note("[\(repeatIndex + 1)/\(options.repeats)] verifying (page cache warm)")
                let result = try runVerify(directory: directory, trustedKeys: built.trustedKeys, expectedEvents: events, cold: false)
                note("    \(grouped(result.eventsPerSecond)) events/s in \(fixed(result.seconds, 2)) s")
                warm.append(result)
            }
            let value = median(warm.map(\.eventsPerSecond))
            var figure = Figure(
                section: section4, name: "journal_verify", parameters: [("events", events)],
                value: value, unit: "events/s", runs: warm.map(\.eventsPerSecond),
                extras: [("blocks", Double(warm[0].blocks)), ("seconds", median(warm.map(\.seconds)))]
                    + resourceExtras(warm.map { ($0.resources, Int($0.events)) }, per: "event"),
                label: "verify, page cache warm")
            figure.targets = [.init(description: ">= 1,000,000 events/s", met: value >= 1_000_000)]
            report.add(figure)
            note("verifying after dropping the data file from the page cache")
            let cold = try runVerify(directory: directory, trustedKeys: built.trustedKeys, expectedEvents: events, cold: true)
            report.add(Figure(
                section: section4, name: "journal_verify_cold", parameters: [("events", events)],
                value: cold.eventsPerSecond, unit: "events/s",
                extras: [("seconds", cold.seconds)] + resourceExtras([(cold.resources, Int(cold.events))], per: "event"),
                label: "verify, data file not cached (1 run)"))
            FileSystem.removeTree(directory)
        }

        if options.sections.contains("crypto") {
            let section5 = "Reference: primitives on one core"
            note("measuring crypto primitives")
            let rates = try measureCrypto(scale: options.scale, payloadBytes: options.payloadBytes)
            report.add(Figure(section: section5, name: "sha256_300b_reused", value: rates.sha256Reused, unit: "hashes/s",
                              label: "SHA-256, 300 B, reused SHA256"))
            report.add(Figure(section: section5, name: "sha256_300b_oneshot", value: rates.sha256OneShot, unit: "hashes/s",
                              label: "SHA-256, 300 B, SHA256.hash one-shot"))
            report.add(Figure(section: section5, name: "event_hash", value: rates.eventHash, unit: "hashes/s",
                              extras: [("body_bytes", Double(storedSize - 32))],
                              label: "EventRecord.eventHash (\(storedSize - 32) B body)"))
            report.add(Figure(section: section5, name: "event_record_parse", value: rates.recordParse, unit: "records/s",
                              label: "EventRecord.parse"))
            report.add(Figure(section: section5, name: "merkle_root_1000", value: rates.merklePerLeaf, unit: "leaves/s",
                              label: "MerkleTree.root, 1000 leaves"))
            report.add(Figure(section: section5, name: "ed25519_sign", value: rates.ed25519Sign, unit: "signatures/s",
                              label: "Ed25519 sign (block header)"))
            let handoff = await measureHandoff(count: max(2_000, Int(100_000 * options.scale)))
            report.add(Figure(section: section5, name: "thread_handoff_round_trip", value: handoff.perSecond, unit: "round trips/s",
                              extras: [("p50_ms", handoff.latency.p50), ("p99_ms", handoff.latency.p99)],
                              label: "task -> NSCondition thread -> continuation"))
            report.add(Figure(section: section5, name: "ed25519_verify", value: rates.ed25519Verify, unit: "verifications/s",
                              label: "Ed25519 verify (block header)"))
        }

        report.context.append(("load average at end", Machine.loadAverage))
        report.printTable()
    }
}

/// CPU cost per item and how contended the machine was, as medians over runs.
func resourceExtras(_ runs: [(use: ResourceUse, items: Int)], per item: String) -> [(String, Double)] {
    [
        ("cpu_us_per_\(item)", median(runs.map { $0.use.cpuSeconds * 1e6 / Double(max($0.items, 1)) })),
        ("machine_cpu_pressure", median(runs.map(\.use.cpuPressure))),
        ("machine_io_pressure", median(runs.map(\.use.ioPressure))),
    ]
}

