#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import BenchmarkSupport

// The ledger benchmark's own helpers; the clock, quantiles, formatting, JSON lines, counters and
// machine facts are BenchmarkSupport's, shared with the other benchmarks.

func fail(_ message: String) -> Never {
    note("ledger-benchmark: " + message)
    exit(1)
}
