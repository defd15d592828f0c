#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import BenchmarkSupport

// The journal benchmark's own helpers; the clock, statistics, formatting and machine facts are
// BenchmarkSupport's, shared with the other benchmarks.

func fail(_ message: String) -> Never {
    note("journal-benchmark: " + message)
    exit(1)
}

/// Deterministic filler bytes (xorshift), so that payloads are not all zero.
func fillerBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}
