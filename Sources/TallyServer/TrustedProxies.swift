import Foundation

/// The reverse proxies the operator named (`--trusted-proxy`), by address (`10.0.0.2`,
/// `2001:db8::7`) or by network in CIDR notation (`10.0.0.0/8`, `fd00::/8`): a load balancer
/// whose instances come and go has a subnet, not an address. A network's host bits are
/// ignored (`10.1.2.3/8` is `10.0.0.0/8`). An IPv4 entry also holds the IPv4-mapped IPv6 form
/// of its addresses (`::ffff:10.1.2.3`), which is how a dual-stack listener reports an IPv4 peer.
public struct TrustedProxies: Sendable, Equatable {
    /// Why an entry cannot be trusted.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    struct Network: Sendable, Equatable {
        /// The network's address, 4 or 16 bytes, its host bits cleared.
        let bytes: [UInt8]
        let prefixLength: Int
    }

    private(set) var networks: [Network] = []

    public init() {}

    /// Every entry of `entries`, each as ``add(_:)`` takes it.
    public init(_ entries: [String]) throws {
        for entry in entries { try add(entry) }
    }

    public var isEmpty: Bool { networks.isEmpty }

    /// Trusts an address, or a network `address/prefix-length`.
    public mutating func add(_ entry: String) throws {
        let parts = entry.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(of: String(parts[0])) else {
            throw Invalid(description: "\(entry.prefix(60)) is not an IP address or a network in CIDR notation (10.0.0.0/8, fd00::/8)")
        }
        var length = bytes.count * 8
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...3).contains(digits.utf8.count), digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let given = Int(digits),
                  given <= length
            else {
                throw Invalid(description: "\(entry.prefix(60)): the prefix length of an IPv\(bytes.count == 4 ? 4 : 6) network is 1 to \(length)")
            }
            guard given > 0 else {
                throw Invalid(description: "\(entry.prefix(60)) holds every address: any client could then choose the address it is counted under")
            }
            length = given
        }
        networks.append(Network(bytes: Self.masked(bytes, to: length), prefixLength: length))
    }

    /// Whether `address` (as a connection's peer or an `X-Forwarded-For` entry is written) is
    /// one of the trusted proxies.
    public func contains(_ address: String) -> Bool {
        guard !networks.isEmpty, let bytes = Self.bytes(of: address) else { return false }
        let isMapped = bytes.count == 16 && bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        let asIPv4 = isMapped ? Array(bytes[12...]) : bytes
        return networks.contains { network in
            let candidate = network.bytes.count == 4 ? asIPv4 : bytes
            return candidate.count == network.bytes.count && Self.masked(candidate, to: network.prefixLength) == network.bytes
        }
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 address written as text, or nil.
    static func bytes(of text: String) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// `bytes` with every bit after the first `length` cleared.
    static func masked(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        bytes.indices.map { index in
            let kept = min(8, max(0, length - index * 8))
            return kept == 8 ? bytes[index] : bytes[index] & UInt8(truncatingIfNeeded: 0xFF << (8 - kept))
        }
    }
}
