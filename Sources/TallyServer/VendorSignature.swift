import Foundation
import Synchronization
import TallyCrypto

/// Vendor request signatures: HMAC-SHA256 with the vendor's signing secret over
///
///     tally-request-v1 \n METHOD \n path?query \n timestamp \n nonce \n idempotency-key \n hex(SHA-256(body))
///
/// sent as the headers `Tally-Key` (key id), `Tally-Timestamp` (Unix seconds), `Tally-Nonce`
/// (16 to 64 characters of [A-Za-z0-9_-], fresh per request) and `Tally-Signature` (lowercase
/// hex). The body digest is computed by the server from the bytes received, so any change to
/// the body, path, method, time, nonce or idempotency key breaks the signature.
public enum VendorSignature {
    public static let skewSeconds: Int64 = 300

    public static func canonicalMessage(
        method: String, pathAndQuery: String, timestamp: String, nonce: String, idempotencyKey: String?, body: [UInt8]
    ) -> [UInt8] {
        let digest = SHA256.hash(body).hex
        return Array("tally-request-v1\n\(method)\n\(pathAndQuery)\n\(timestamp)\n\(nonce)\n\(idempotencyKey ?? "")\n\(digest)".utf8)
    }

    public static func sign(
        secret: [UInt8], method: String, pathAndQuery: String, timestamp: String, nonce: String, idempotencyKey: String?, body: [UInt8]
    ) -> String {
        HMACSHA256.authenticationCode(
            key: secret,
            message: canonicalMessage(
                method: method, pathAndQuery: pathAndQuery, timestamp: timestamp, nonce: nonce, idempotencyKey: idempotencyKey, body: body)
        ).hex
    }

    static func validNonce(_ nonce: String) -> Bool {
        (16...64).contains(nonce.utf8.count)
            && nonce.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x5f }
    }
}

/// The nonces seen inside the clock-skew window, per signing key: a request whose nonce was
/// already used is a replay. A request is acceptable while its timestamp is within the skew
/// of the server's clock, so a replay can come at most twice the skew after the original:
/// nonces are kept in buckets by arrival time, each bucket as long as the skew, and a whole
/// bucket is dropped once it is older than that (no sweep over every entry, no pause).
/// Entries are 128-bit hashes of (key, nonce), not the strings, to bound memory at high
/// request rates. Held in memory: after a restart, requests signed before it are refused as
/// stale once the window has passed; within the window, writes are still protected by their
/// idempotency keys.
public final class ReplayGuard: Sendable {
    struct Entry: Hashable {
        let high: Int
        let low: Int
    }
    struct State {
        var buckets: [UInt64: Set<Entry>] = [:]
    }
    let state = Mutex(State())
    let bucketMilliseconds: UInt64

    public init(windowSeconds: Int64 = VendorSignature.skewSeconds) {
        bucketMilliseconds = UInt64(max(windowSeconds, 1)) * 1000
    }

    /// Records `nonce` for `keyID`; false when it was seen within the window.
    public func admit(keyID: String, nonce: String, now: UInt64) -> Bool {
        var first = Hasher()
        first.combine(keyID)
        first.combine(nonce)
        var second = Hasher()
        second.combine(nonce)
        second.combine(0x5a as UInt8)
        second.combine(keyID)
        let entry = Entry(high: first.finalize(), low: second.finalize())
        let bucket = now / bucketMilliseconds
        return state.withLock { state in
            // The current bucket and the two before it cover at least twice the skew.
            for age in 0...2 where bucket >= UInt64(age) {
                if state.buckets[bucket - UInt64(age)]?.contains(entry) == true { return false }
            }
            if state.buckets[bucket] == nil {
                state.buckets = state.buckets.filter { $0.key + 2 >= bucket }
            }
            state.buckets[bucket, default: []].insert(entry)
            return true
        }
    }
}
