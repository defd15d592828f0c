import Foundation
import Hummingbird
import Journal
import Ledger
import Logging
import Projections
import Synchronization
import TallyCrypto

/// Everything the routes share: the journal and ledger (write side), the projections (read
/// side), credentials and the server's keys. One per server.
public final class TallyAPI: Sendable {
    public struct Settings: Sendable {
        /// How long after login vendors may charge the user with a purchase token.
        public var purchaseWindowMilliseconds: UInt64 = 30 * 60_000
        public var sessionMilliseconds: UInt64 = 12 * 3_600_000
        /// The purchase-token key rotates this often.
        public var tokenRotationMilliseconds: UInt64 = 3_600_000
        /// scrypt cost for new password hashes (N = 2^log2N; 15 by default, lower only for load tests).
        public var scryptLog2N: UInt64 = 15
        /// Longest a read waits for `minSequence`.
        public var readWaitMilliseconds: UInt64 = 2_000
        /// Marks the web pages' cookies `Secure`, so that browsers send them only over HTTPS:
        /// for a server reached through a proxy that terminates TLS (browsers would not send
        /// such cookies back to plain `http://` at all).
        public var secureCookies = false
        /// The reverse proxies in front of the server, by IP address or network: a request one
        /// of them relays is counted by the login throttle under the client its
        /// `X-Forwarded-For` names (``ClientAddress``). Empty: the header is ignored, as anyone
        /// may send it.
        public var trustedProxies = TrustedProxies()
        public init() {}
    }

    public let journal: Journal
    public let ledger: Ledger
    public let projections: Projections
    public let credentials: CredentialStore
    public let identity: IdentityStore
    public let secrets: ServerSecrets
    public let tokens: PurchaseTokens
    public let pseudonyms: Pseudonyms
    public let grants: AccessGrants
    public let replayGuard = ReplayGuard()
    public let settings: Settings
    public let clock: @Sendable () -> UInt64
    public let logger: Logger
    let metrics: TallyMetrics
    let inFlight = Mutex<Set<String>>([])
    let loginThrottle = LoginThrottle()
    /// The web consoles' logins (``ConsoleSessions``).
    let consoleSessions = ConsoleSessions()
    /// Where passwords are hashed and checked (see ``BlockingWorkers``): at most 64 waiting,
    /// about 3.5 s of scrypt at the default cost on one thread.
    let passwordWorkers = BlockingWorkers(name: "tally.scrypt", threads: BlockingWorkers.halfTheCores, queueLimit: 64)

    public init(
        journal: Journal, projections: Projections, credentials: CredentialStore, identity: IdentityStore, secrets: ServerSecrets,
        settings: Settings = .init(), logger: Logger = Logger(label: "tally.api"), metrics: TallyMetrics = TallyMetrics(),
        clock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.logger = logger
        self.metrics = metrics
        self.journal = journal
        self.ledger = Ledger(journal: journal)
        self.projections = projections
        self.credentials = credentials
        self.identity = identity
        self.secrets = secrets
        self.tokens = PurchaseTokens(secrets: secrets, rotationMilliseconds: settings.tokenRotationMilliseconds)
        self.pseudonyms = Pseudonyms(secrets: secrets)
        self.grants = AccessGrants(secrets: secrets)
        self.settings = settings
        self.clock = clock
    }

    deinit { passwordWorkers.stop() }

    var now: UInt64 { clock() }

    /// A `Set-Cookie` value for every web credential: script cannot read it, other sites cannot
    /// send it, it goes only to `path`, and only over HTTPS with ``Settings/secureCookies``. An
    /// empty `value` with `maxAge` 0 removes it.
    func cookie(_ name: String, _ value: String, path: String, maxAge: UInt64) -> String {
        "\(name)=\(value); Path=\(path); HttpOnly; SameSite=Strict; Max-Age=\(maxAge)" + (settings.secureCookies ? "; Secure" : "")
    }

    // MARK: Passwords

    /// A new password's scrypt hash, made on the password workers.
    func hashPassword(_ password: String) async throws -> String {
        let parameters = Scrypt.Parameters(n: 1 << settings.scryptLog2N, r: 8, p: 1)
        return try await onPasswordWorkers { try Scrypt.hash(password: password, parameters: parameters) }
    }

    /// Whether `password` matches the scrypt hash `stored`, checked on the password workers.
    func verifyPassword(_ password: String, stored: String) async throws -> Bool {
        try await onPasswordWorkers { Scrypt.verify(password: password, stored: stored) }
    }

    private func onPasswordWorkers<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await passwordWorkers.run(body)
        } catch let busy as BlockingWorkers.Busy {
            var error = APIError(.serviceUnavailable, "overloaded", "Too many password checks are waiting; nothing was written; retry later",
                                 detail: "at most \(passwordWorkers.queueLimit) password hashes wait at once")
            error.headers = [.retryAfter: "\(busy.retryAfterSeconds)"]
            throw error
        }
    }

    static func newID(_ prefix: String) -> String { prefix + Hex.encode(SecureRandom.bytes(12)) }

    // MARK: Authentication

    /// Checks a vendor's request signature (see ``VendorSignature``) and returns the vendor.
    func authenticateVendor(_ request: Request, body: [UInt8]) throws -> String {
        let headers = request.headers
        guard let keyID = headers.value(of: .tallyKey), let timestamp = headers.value(of: .tallyTimestamp), let nonce = headers.value(of: .tallyNonce),
            let signature = headers.value(of: .tallySignature)
        else {
            guard request.bearerToken == nil else { throw APIError.forbidden }
            throw APIError(.unauthorized, "signature-missing", "Vendor requests must be signed",
                           detail: "send Tally-Key, Tally-Timestamp, Tally-Nonce and Tally-Signature")
        }
        // Unix seconds in plain digits: with no sign, both times are at least 0 and their
        // difference cannot overflow, however far the timestamp is from now.
        guard (1...19).contains(timestamp.utf8.count), timestamp.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let seconds = Int64(timestamp)
        else {
            throw APIError(.unauthorized, "signature-invalid", "The request signature is not valid", detail: "Tally-Timestamp must be Unix seconds in digits", field: "Tally-Timestamp")
        }
        let nowSeconds = Int64(now / 1000)
        guard (nowSeconds - seconds).magnitude <= VendorSignature.skewSeconds else {
            throw APIError(.unauthorized, "signature-stale", "The request was signed outside the clock-skew window",
                           detail: "Tally-Timestamp \(seconds) is more than \(VendorSignature.skewSeconds) s from the server's \(nowSeconds)", field: "Tally-Timestamp")
        }
        guard VendorSignature.validNonce(nonce) else {
            throw APIError(.unauthorized, "signature-invalid", "The request signature is not valid", detail: "Tally-Nonce must be 16 to 64 characters of [A-Za-z0-9_-]", field: "Tally-Nonce")
        }
        guard let key = try credentials.vendorKey(keyID) else {
            throw APIError(.unauthorized, "signature-invalid", "The request signature is not valid", detail: "unknown key", field: "Tally-Key")
        }
        let expected = VendorSignature.sign(
            secret: key.secret, method: request.method.rawValue, pathAndQuery: request.uri.description, timestamp: timestamp, nonce: nonce,
            idempotencyKey: headers.value(of: .idempotencyKey), body: body)
        guard let given = SHA256Digest(hex: signature), let wanted = SHA256Digest(hex: expected),
            HMACSHA256.constantTimeEquals(given, wanted)
        else {
            throw APIError(.unauthorized, "signature-invalid", "The request signature is not valid", detail: "signature does not match", field: "Tally-Signature")
        }
        guard replayGuard.admit(keyID: keyID, nonce: nonce, now: now) else {
            throw APIError(.unauthorized, "signature-replayed", "This signed request was already received", field: "Tally-Nonce")
        }
        return key.vendor
    }

    func authenticateUser(_ request: Request) throws -> CredentialStore.Session {
        guard let token = request.bearerToken else { throw APIError.unauthenticated }
        if token == secrets.adminKey || token == secrets.auditorKey { throw APIError.forbidden }
        guard let session = try credentials.session(token: token, now: now) else { throw APIError.unauthenticated }
        return session
    }

    func requireAdmin(_ request: Request) throws { try requireKey(secrets.adminKey, request) }

    /// The rights holder a read key (`Bearer hk_…`) lets read: 401 without one or with an
    /// unknown or revoked key, 403 for another valid credential.
    func authenticateHolder(_ request: Request) throws -> String {
        let token = try bearer(request)
        if let key = try credentials.holderKey(token: token, now: now) { return key.holder }
        throw refusal(of: token)
    }

    func requireAuditor(_ request: Request) throws { try requireKey(secrets.auditorKey, request) }

    /// Admits only the bearer `key`: another valid credential (the other key, a session, a
    /// vendor's signature) is 403, anything else 401.
    private func requireKey(_ key: String, _ request: Request) throws {
        let token = try bearer(request)
        guard constantTimeEqual(token, key) else { throw refusal(of: token) }
    }

    /// The request's bearer token: 401 without one, 403 when a vendor's signature came instead.
    private func bearer(_ request: Request) throws -> String {
        guard let token = request.bearerToken else {
            throw request.headers.value(of: .tallyKey) != nil ? APIError.forbidden : APIError.unauthenticated
        }
        return token
    }

    /// Why a bearer token the route does not take is refused: 403 when it is another valid
    /// credential (the admin or auditor key, a session, a rights holder's key), else 401.
    private func refusal(of token: String) -> APIError {
        if constantTimeEqual(token, secrets.adminKey) || constantTimeEqual(token, secrets.auditorKey) { return APIError.forbidden }
        if (try? credentials.session(token: token, now: now)) != nil { return APIError.forbidden }
        if (try? credentials.holderKey(token: token, now: now)) != nil { return APIError.forbidden }
        return APIError.unauthenticated
    }

    private func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        HMACSHA256.constantTimeEquals(SHA256.hash(Array(lhs.utf8)), SHA256.hash(Array(rhs.utf8)))
    }

    // MARK: Ledger commands

    /// Runs a ledger command. A refusal that concerns one of the command's fields
    /// (``LedgerRejection/field``) names the request's field for it: `field` turns the command's
    /// name into the request's, or into nil where the request has no such field.
    func execute(
        _ command: LedgerCommand, idempotencyKey: String? = nil, scope: String? = nil,
        field requestField: (String) -> String? = TallyAPI.sameField
    ) async throws -> LedgerResult {
        do {
            let result = try await ledger.execute(command, idempotencyKey: idempotencyKey, scope: scope)
            metrics.record(.success(result))
            return result
        } catch let rejection as LedgerRejection {
            metrics.record(.failure(rejection))
            throw FieldedRejection(rejection: rejection, field: rejection.field.flatMap(requestField))
        }
    }

    /// A request field named as the command names it; the idempotency key is a request's
    /// `Idempotency-Key` header.
    static func sameField(_ name: String) -> String? { name == "idempotencyKey" ? "Idempotency-Key" : name }

    /// The request field for a command field under `prefix` (`limit.amount` → `amount`).
    static func unprefixed(_ prefix: String) -> (String) -> String? {
        { name in name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : sameField(name) }
    }

    // MARK: Idempotency

    /// The `Idempotency-Key` of a vendor write (required).
    func idempotencyKey(_ request: Request) throws -> String {
        guard let key = request.headers.value(of: .idempotencyKey) else {
            throw APIError(.badRequest, "idempotency-key-missing", "Vendor writes need an Idempotency-Key header", field: "Idempotency-Key")
        }
        guard !key.isEmpty, key.utf8.count <= 128, key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7e }) else {
            throw APIError(.badRequest, "invalid-field", "Idempotency-Key must be 1 to 128 printable ASCII characters", field: "Idempotency-Key")
        }
        return key
    }

    /// The `Idempotency-Key` of a user's or customer service's write that moves money: optional,
    /// checked as a vendor's when sent.
    func optionalIdempotencyKey(_ request: Request) throws -> String? {
        request.headers.value(of: .idempotencyKey) == nil ? nil : try idempotencyKey(request)
    }

    /// The ID a request creates (a funding, a payout, a lot): random; or, when the request has an
    /// idempotency key, made from its scope and key, so that a retry is the same command and the
    /// ledger answers it with the first result.
    static func requestID(_ prefix: String, scope: String, key: String?) -> String {
        guard let key else { return newID(prefix) }
        return prefix + SHA256.hash(Array((scope + "\u{0}" + key).utf8)).hex.prefix(24)
    }

    /// Runs `body`, holding (scope, key) while it does when the request has a key (`exclusively`).
    func idempotently<R>(scope: String, key: String?, _ body: () async throws -> R) async throws -> R {
        guard let key else { return try await body() }
        return try await exclusively(scope: scope, key: key, body)
    }

    /// The headers of an answer to an idempotent request: the last sequence it appended, and
    /// `Idempotent-Replayed: true` when this is a retry answered with the first result.
    static func replayHeaders(_ result: LedgerResult) -> HTTPFields {
        var headers: HTTPFields = [:]
        if let last = result.sequences?.upperBound { headers[.tallySequence] = "\(last)" }
        if result.replayed { headers[.idempotentReplay] = "true" }
        return headers
    }

    /// Runs `body` while holding (scope, key) (the scope is the vendor's ID for a vendor's
    /// request, ``IdempotencyScope``): a second request with the same key while the first is
    /// still being decided gets 409 instead of racing it.
    func exclusively<R>(scope: String, key: String, _ body: () async throws -> R) async throws -> R {
        let slot = scope + "\u{0}" + key
        let admitted = inFlight.withLock { $0.insert(slot).inserted }
        guard admitted else {
            var error = APIError(.conflict, "idempotency-in-flight", "A request with this Idempotency-Key is still in progress", field: "Idempotency-Key")
            error.headers = [.retryAfter: "1"]
            throw error
        }
        defer { _ = inFlight.withLock { $0.remove(slot) } }
        return try await body()
    }

    /// A read of the projections, answered as a ``Snapshot`` with the sequence it reflects; waits
    /// for `?minSequence=` first. A read that finds nothing is a 404 naming `missing`.
    func snapshot<Value: Codable & Sendable>(
        _ request: Request, missing: String, _ read: (ProjectionReader) throws -> Value?
    ) async throws -> Response {
        try await awaitProjections(request)
        let (sequence, value) = try projections.read { reader in (reader.sequence, try read(reader)) }
        guard let value else { throw APIError.notFound(missing) }
        return try JSONResponse.make(Snapshot(sequence: sequence, data: value))
    }

    /// Waits (bounded) until the projections reflect `minSequence` when the client asks for it
    /// with `?minSequence=`; refuses with 503 and Retry-After if they do not get there in time.
    func awaitProjections(_ request: Request) async throws {
        guard let wanted = try request.queryUInt("minSequence") else { return }
        guard wanted <= journal.head else {
            throw APIError.badField("minSequence", "minSequence \(wanted) is beyond the journal's head \(journal.head)")
        }
        let reached = await projections.waitUntil(sequence: wanted, timeout: .milliseconds(Int64(settings.readWaitMilliseconds)))
        guard reached else {
            var error = APIError(.serviceUnavailable, "projection-behind", "The read models have not reached that sequence yet",
                                 detail: "waited \(settings.readWaitMilliseconds) ms for sequence \(wanted)")
            error.headers = [.retryAfter: "1"]
            throw error
        }
    }
}

extension HTTPFields.Element.Name {
    static let tallyKey = Self("Tally-Key")!
    static let tallyTimestamp = Self("Tally-Timestamp")!
    static let tallyNonce = Self("Tally-Nonce")!
    static let tallySignature = Self("Tally-Signature")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let tallySequence = Self("Tally-Sequence")!
    static let idempotentReplay = Self("Idempotent-Replayed")!
}

/// Failed logins per login name: after too many failures within `windowMilliseconds`, further
/// attempts for that name (right or wrong) are refused until the window has passed, so a
/// password cannot be guessed at scrypt speed. Kept in memory, keyed by the name's keyed hash.
///
/// Failures are counted twice: per name and client address, refused after `failuresMax`, and per
/// name from everywhere, refused after `failuresFromEverywhereMax`. So someone failing on
/// purpose from one address locks the name for that address only, not for its holder logging
/// in from another (a name locked for everyone takes `failuresFromEverywhereMax` failures, from
/// at least `failuresFromEverywhereMax / failuresMax` addresses), while guesses spread over many
/// addresses are still bounded per name.
final class LoginThrottle: Sendable {
    static let failuresMax = 10
    static let failuresFromEverywhereMax = 100
    static let windowMilliseconds: UInt64 = 15 * 60_000
    struct Entry {
        var failures: Int
        var since: UInt64
    }
    /// Keyed by `name` (from everywhere) and by `name` NUL `client`.
    let entries = Mutex<[String: Entry]>([:])

    /// Why a name may not try now: for how long, after how many failures, and whether from
    /// everywhere (else from this client).
    struct Wait: Equatable {
        let milliseconds: UInt64
        let failures: Int
        let fromEverywhere: Bool
    }

    static func key(_ name: String, client: String) -> String { name + "\u{0}" + client }

    /// Until when `name` may not try again from `client`, or nil when it may now.
    func wait(_ name: String, client: String, now: UInt64) -> Wait? {
        entries.withLock { entries in
            func locked(_ key: String, after max: Int) -> Wait? {
                guard let entry = entries[key] else { return nil }
                if now >= entry.since + Self.windowMilliseconds {
                    entries.removeValue(forKey: key)
                    return nil
                }
                guard entry.failures >= max else { return nil }
                return Wait(milliseconds: entry.since + Self.windowMilliseconds - now, failures: entry.failures, fromEverywhere: key == name)
            }
            return locked(name, after: Self.failuresFromEverywhereMax) ?? locked(Self.key(name, client: client), after: Self.failuresMax)
        }
    }

    func failed(_ name: String, client: String, now: UInt64) {
        entries.withLock { entries in
            if entries.count > 100_000 {
                entries = entries.filter { now < $0.value.since + Self.windowMilliseconds }
            }
            for key in [name, Self.key(name, client: client)] {
                var entry = entries[key] ?? Entry(failures: 0, since: now)
                if now >= entry.since + Self.windowMilliseconds { entry = Entry(failures: 0, since: now) }
                entry.failures += 1
                entries[key] = entry
            }
        }
    }

    /// The password was right: this client's count ends. The count from everywhere stays, so
    /// that the holder's own logins do not wipe out guesses made elsewhere.
    func succeeded(_ name: String, client: String) {
        _ = entries.withLock { $0.removeValue(forKey: Self.key(name, client: client)) }
    }
}
