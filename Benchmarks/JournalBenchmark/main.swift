#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// journal-benchmark: durable append and verification throughput of the Tally journal, against
// a raw LMDB append loop on the same disk. See Benchmarks/README.md. Not part of the test suite.

var environment: [String: String] = [:]
for name in ["JOURNAL_BENCH_QUICK", "JOURNAL_BENCH_SCALE", "JOURNAL_BENCH_DIR"] {
    if let value = getenv(name) { environment[name] = String(cString: value) }
}
let options = Options.parse(Array(CommandLine.arguments.dropFirst()), environment: environment)
do {
    try await Benchmark.run(options)
} catch {
    fail("\(error)")
}
