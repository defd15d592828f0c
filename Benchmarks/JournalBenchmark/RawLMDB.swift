import LMDB
import BenchmarkSupport

/// The physical limit: the smallest durable append loop the `LMDB` wrapper allows. One
/// environment with LMDB's default (durable) sync, one named database, 8-byte big-endian keys,
/// fixed-size values, `MDB_APPEND`, one commit every `k` records.
struct RawAppendResult {
    var records: Int
    var seconds: Double
    /// Per-commit latencies in nanoseconds (kept for k = 1 only).
    var commitLatencies: [UInt64]
    var resources: ResourceUse

    var recordsPerSecond: Double { Double(records) / seconds }
}

func runRawAppend(directory: String, batch k: Int, records: Int, valueBytes: Int) throws -> RawAppendResult {
    var configuration = Environment.Configuration()
    configuration.mapSize = 1 << 30  // the journal's default first map size, so both grow alike
    let environment = try Environment.create(at: directory, configuration: configuration) { transaction in
        _ = try transaction.openDatabase(named: "events")
    }
    let database = try environment.database(named: "events")
    let value = fillerBytes(valueBytes, seed: 0x5eed)
    let commits = records / k
    var latencies: [UInt64] = []
    if k == 1 { latencies.reserveCapacity(commits) }

    var head: UInt64 = 0
    let sample = ResourceSample.now()
    let start = nowNanoseconds()
    try value.withUnsafeBytes { valueBuffer in
        for _ in 0..<commits {
            let began = nowNanoseconds()
            let first = head
            // The closure may run again if the map grows, so it starts from `first` each time.
            try environment.write { transaction in
                var sequence = first
                for _ in 0..<k {
                    sequence += 1
                    var key = sequence.bigEndian
                    try withUnsafeBytes(of: &key) { keyBuffer in
                        try transaction.put(database, key: keyBuffer, value: valueBuffer, options: .append)
                    }
                }
            }
            head = first + UInt64(k)
            if k == 1 { latencies.append(nowNanoseconds() - began) }
        }
    }
    let elapsed = seconds(since: start)
    let resources = ResourceUse(from: sample, to: .now())
    // Sanity: everything is there.
    let stored = try environment.read { try $0.count(database) }
    guard stored == commits * k else { fail("raw loop stored \(stored) records, expected \(commits * k)") }
    return RawAppendResult(records: commits * k, seconds: elapsed, commitLatencies: latencies, resources: resources)
}
