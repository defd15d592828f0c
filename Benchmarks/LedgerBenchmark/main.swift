#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// ledger-benchmark: the standard purchase workload (WORKLOAD.md) on the Tally ledger — the pure
// decide-and-fold core on one core, and end to end through a durable journal. See
// Benchmarks/README.md. Not part of the test suite.

let options = Options.parse(Array(CommandLine.arguments.dropFirst()))
do {
    let passed = try await Benchmark.run(options)
    exit(passed ? 0 : 2)
} catch {
    fail("\(error)")
}
