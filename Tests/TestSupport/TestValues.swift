/// Reproducible test values: SplitMix64 from a seed, so a failing round names a value that the
/// next run makes again. Suites extend it with generators of their own types.
public struct TestValues: RandomNumberGenerator {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func pick<T>(_ values: [T]) -> T { values[Int(next() % UInt64(values.count))] }
    public mutating func bool() -> Bool { next() & 1 == 0 }
    public mutating func maybe<T>(_ make: (inout TestValues) -> T) -> T? { bool() ? make(&self) : nil }
    /// Zero to `most` values.
    public mutating func list<T>(most: UInt64 = 3, _ make: (inout TestValues) -> T) -> [T] {
        (0..<Int(next() % (most + 1))).map { _ in make(&self) }
    }
    /// An integer in `0..<bound`.
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    /// Edge values first: zero, ±1, the limits, then anything, small or large.
    public mutating func signed() -> Int64 {
        pick([0, 1, -1, .max, .min, Int64(bitPattern: next()), Int64(bitPattern: next() >> 40)])
    }
    public mutating func unsigned() -> UInt64 { pick([0, 1, .max, next(), next() >> 40]) }
    public mutating func int() -> Int { Int(truncatingIfNeeded: signed()) }

    /// Bytes that JSON gives a meaning to, and some that are invalid or edges in UTF-8.
    public static let jsonBytes = Array(#"{}[],:"\ 0123456789-.eE+tfnulxyz"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xFF]

    /// `bytes` with one to three bytes changed, dropped, doubled or inserted (taken from
    /// `significant`: by default JSON's structural bytes and edges of UTF-8), or its tail cut: for
    /// checking that a hand-written reader agrees with the standard decoder on damaged input, or
    /// that a binary decoder refuses what it cannot read without stopping the process.
    public mutating func damaged(_ bytes: [UInt8], significant: [UInt8] = TestValues.jsonBytes) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...3, using: &self) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &self)
            switch Int.random(in: 0..<5, using: &self) {
            case 0: bytes[at] = significant.randomElement(using: &self)!
            case 1: bytes.remove(at: at)
            case 2: bytes.insert(bytes[at], at: at)
            case 3: bytes.insert(significant.randomElement(using: &self)!, at: at)
            default: bytes.removeLast(Int.random(in: 1...min(8, bytes.count), using: &self))
            }
        }
        return bytes
    }

    /// Strings that need escaping in JSON, non-ASCII text, slashes, plain IDs, and long ones
    /// (a length that takes two varint bytes).
    public mutating func text() -> String {
        pick([
            "", "a", "u-1.x_y", "tx-\(next() % 1000)", "ünï✓", "sl/ash \"q\" back\\ tab\t nl\n ctl\u{01} é 🎵",
            "https://a.example/b?c=d", String(repeating: "x", count: Int(next() % 300)),
        ])
    }
}
