import ArgumentParser
import TallyCrypto

/// A journal head an auditor kept from an earlier run (`SEQ:HASH`, as `verify` prints it).
/// A journal that no longer holds that event with that hash was rolled back or rewritten.
struct Checkpoint: ExpressibleByArgument, Sendable {
    let sequence: UInt64
    let hash: SHA256Digest

    init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let sequence = UInt64(parts[0]), sequence >= 1,
              let hash = SHA256Digest(hex: String(parts[1]))
        else { return nil }
        self.sequence = sequence
        self.hash = hash
    }

    var text: String { "\(sequence):\(hash.hex)" }
}
