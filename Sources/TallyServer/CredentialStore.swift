import Foundation
import LMDB
import Synchronization
import TallyCrypto

/// Who may log in and which vendor signs with which key: `<data>/credentials`, an LMDB
/// environment of its own (never in the journal, which holds no secrets and no personal data).
///
/// | database | key | value |
/// |---|---|---|
/// | `vendor-keys` | key id | JSON: vendor, signing secret sealed with AES-GCM (AD = key id) |
/// | `logins` | hex HMAC of the lower-cased login name | JSON: user, member, scrypt hash |
/// | `sessions` | hex SHA-256 of the session token | JSON: user, member, login and expiry times |
/// | `holder-keys` | hex SHA-256 of a rights holder's read key | JSON: key id, holder, creation time |
///
/// Login names are stored only as keyed hashes, so this file alone does not list who uses
/// Tally; sessions only as hashes of their tokens, so it cannot be used to log in. Each login
/// and session also has an entry under its account and member (`by-user/…`, see
/// ``byUserKey(user:member:_:)``), so that ending a login's sessions or removing an account's
/// logins reads only theirs, not the whole store.
public final class CredentialStore: Sendable {
    struct VendorKeyRecord: Codable {
        var vendor: String
        var sealedSecret: String
        var createdAtMilliseconds: UInt64
    }

    public struct Login: Codable, Sendable, Equatable {
        public var user: String
        public var member: String?
        public var passwordHash: String
    }

    public struct Session: Codable, Sendable, Equatable {
        public var user: String
        public var member: String?
        public var loginAtMilliseconds: UInt64
        public var expiresAtMilliseconds: UInt64
    }

    /// A rights holder's read key: who it lets read, and under which ID it is listed and revoked.
    public struct HolderKey: Codable, Sendable, Equatable {
        public var keyID: String
        public var holder: String
        public var createdAtMilliseconds: UInt64
        /// When the key stops opening anything (nil: never; keys issued before expiry existed).
        public var expiresAtMilliseconds: UInt64?

        /// Whether the key still lets its holder read at `now`.
        public func isValid(at now: UInt64) -> Bool { expiresAtMilliseconds.map { now < $0 } ?? true }
    }

    public struct VendorKey: Sendable {
        public let vendor: String
        public let secret: [UInt8]
    }

    let environment: Environment
    let vendorKeys: Database
    let logins: Database
    let sessions: Database
    let holderKeys: Database
    let secretsKey: [UInt8]
    let loginIndexKey: [UInt8]
    /// Vendor keys are read on every vendor request: decrypted once, then served from memory
    /// until revoked.
    let vendorKeyCache = Mutex<[String: VendorKey]>([:])
    /// Live sessions are read on every user request: kept in memory (by token hash) after
    /// their first read, dropped at logout, at a member's removal and at expiry. Bounded: when
    /// full it is emptied and refills from LMDB.
    let sessionCache = Mutex<[[UInt8]: Session]>([:])
    static let sessionCacheMax = 100_000

    public static func open(dataDirectory: String, secrets: ServerSecrets) throws -> CredentialStore {
        let path = dataDirectory + "/credentials"
        let names = ["vendor-keys", "logins", "sessions"]
        let environment: Environment
        if FileSystem.exists(path) {
            environment = try Environment.open(at: path)
        } else {
            environment = try Environment.create(at: path) { transaction in
                for name in names { _ = try transaction.openDatabase(named: name) }
            }
        }
        let store = CredentialStore(
            environment: environment,
            vendorKeys: try environment.database(named: "vendor-keys"),
            logins: try environment.database(named: "logins"),
            sessions: try environment.database(named: "sessions"),
            // Stores from before rights holders had keys get the database at their next open.
            holderKeys: try environment.database(named: "holder-keys", create: true),
            secretsKey: secrets.derivedKey("vendor-secrets"),
            loginIndexKey: secrets.derivedKey("login-index"))
        try store.indexByUser()
        return store
    }

    private init(
        environment: Environment, vendorKeys: Database, logins: Database, sessions: Database, holderKeys: Database,
        secretsKey: [UInt8], loginIndexKey: [UInt8]
    ) {
        self.environment = environment
        self.vendorKeys = vendorKeys
        self.logins = logins
        self.sessions = sessions
        self.holderKeys = holderKeys
        self.secretsKey = secretsKey
        self.loginIndexKey = loginIndexKey
    }

    // MARK: Vendor signing keys

    /// Creates a signing key for `vendor` and returns its id and secret (shown once).
    public func createVendorKey(vendor: String, now: UInt64) throws -> (keyID: String, secret: String) {
        let keyID = "vk_" + Hex.encode(SecureRandom.bytes(12))
        let secret = SecureRandom.bytes(32)
        let sealed = try AESGCM.seal(secret, key: secretsKey, associatedData: Array(keyID.utf8))
        let record = VendorKeyRecord(vendor: vendor, sealedSecret: Hex.encode(sealed), createdAtMilliseconds: now)
        let value = Array(try JSONEncoder().encode(record))
        try environment.write { transaction in
            try transaction.put(vendorKeys, key: Array(keyID.utf8), value: value, options: .noOverwrite)
        }
        return (keyID, Hex.encode(secret))
    }

    /// A vendor's signing keys, oldest first (their IDs and creation times; never the secrets).
    /// Reads every key record: for customer service and the vendor, not the request path.
    public func vendorKeys(vendor: String) throws -> [(keyID: String, createdAtMilliseconds: UInt64)] {
        var keys: [(keyID: String, createdAtMilliseconds: UInt64)] = []
        try environment.read { transaction in
            try transaction.withCursor(vendorKeys) { cursor in
                var found = try cursor.first()
                while found {
                    let record = try JSONDecoder().decode(VendorKeyRecord.self, from: Data(cursor.value))
                    if record.vendor == vendor { keys.append((String(decoding: cursor.key, as: UTF8.self), record.createdAtMilliseconds)) }
                    found = try cursor.next()
                }
            }
        }
        return keys.sorted { ($0.createdAtMilliseconds, $0.keyID) < ($1.createdAtMilliseconds, $1.keyID) }
    }

    /// Revokes `vendor`'s signing key `keyID`: from the commit on, a request signed with it is
    /// refused as unknown. False when the vendor has no such key.
    public func revokeVendorKey(_ keyID: String, vendor: String) throws -> Bool {
        guard keyID.utf8.count <= 64 else { return false }
        // Under the cache's lock, as a lookup that misses the cache reads and caches under it:
        // a key read before this commit cannot be cached after it.
        return try vendorKeyCache.withLock { cache in
            let revoked = try environment.write { transaction -> Bool in
                guard let value = try transaction.get(vendorKeys, key: Array(keyID.utf8)),
                      try JSONDecoder().decode(VendorKeyRecord.self, from: Data(value)).vendor == vendor
                else { return false }
                return try transaction.delete(vendorKeys, key: Array(keyID.utf8))
            }
            if revoked { cache.removeValue(forKey: keyID) }
            return revoked
        }
    }

    public func vendorKey(_ keyID: String) throws -> VendorKey? {
        if let cached = vendorKeyCache.withLock({ $0[keyID] }) { return cached }
        guard keyID.utf8.count <= 64 else { return nil }
        return try vendorKeyCache.withLock { cache -> VendorKey? in
            if let cached = cache[keyID] { return cached }
            guard let value = try environment.read({ try $0.get(vendorKeys, key: Array(keyID.utf8)) }) else { return nil }
            let record = try JSONDecoder().decode(VendorKeyRecord.self, from: Data(value))
            guard let sealed = Hex.decode(record.sealedSecret) else { return nil }
            let secret = try AESGCM.open(sealed, key: secretsKey, associatedData: Array(keyID.utf8))
            let key = VendorKey(vendor: record.vendor, secret: secret)
            cache[keyID] = key
            return key
        }
    }

    // MARK: Rights holders' read keys

    /// A new read key for `holder`: its ID and the key itself (a bearer token, shown once;
    /// only its hash is kept).
    public func createHolderKey(holder: String, now: UInt64, expiresAtMilliseconds: UInt64? = nil) throws -> (key: HolderKey, token: String) {
        let token = "hk_" + Hex.encode(SecureRandom.bytes(32))
        let key = HolderKey(keyID: "hkid_" + Hex.encode(SecureRandom.bytes(12)), holder: holder, createdAtMilliseconds: now,
                            expiresAtMilliseconds: expiresAtMilliseconds)
        let value = Array(try JSONEncoder().encode(key))
        try environment.write { transaction in
            try transaction.put(holderKeys, key: Self.sessionKey(token), value: value, options: .noOverwrite)
        }
        return (key, token)
    }

    /// The holder a read key lets read at `now`, or nil (not a holder key, unknown, revoked or
    /// expired; an expired key stays listed until revoked, to say when it ended).
    public func holderKey(token: String, now: UInt64) throws -> HolderKey? {
        guard token.hasPrefix("hk_"), token.utf8.count <= 128 else { return nil }
        guard let value = try environment.read({ try $0.get(holderKeys, key: Self.sessionKey(token)) }) else { return nil }
        let key = try JSONDecoder().decode(HolderKey.self, from: Data(value))
        return key.isValid(at: now) ? key : nil
    }

    /// A holder's read keys, oldest first (never the keys themselves). Reads every record: for
    /// customer service, not the request path.
    public func holderKeys(holder: String) throws -> [HolderKey] {
        var keys: [HolderKey] = []
        try environment.read { transaction in
            try transaction.withCursor(holderKeys) { cursor in
                var found = try cursor.first()
                while found {
                    let record = try JSONDecoder().decode(HolderKey.self, from: Data(cursor.value))
                    if record.holder == holder { keys.append(record) }
                    found = try cursor.next()
                }
            }
        }
        return keys.sorted { ($0.createdAtMilliseconds, $0.keyID) < ($1.createdAtMilliseconds, $1.keyID) }
    }

    /// Revokes `holder`'s read key `keyID`: from the commit on it reads nothing. False when the
    /// holder has no such key.
    public func revokeHolderKey(_ keyID: String, holder: String) throws -> Bool {
        try environment.write { transaction -> Bool in
            var match: [UInt8]?
            try transaction.withCursor(holderKeys) { cursor in
                var found = try cursor.first()
                while found, match == nil {
                    let record = try JSONDecoder().decode(HolderKey.self, from: Data(cursor.value))
                    if record.keyID == keyID && record.holder == holder { match = Array(cursor.key) }
                    found = try cursor.next()
                }
            }
            guard let match else { return false }
            return try transaction.delete(holderKeys, key: match)
        }
    }

    // MARK: Each account's logins and sessions (the by-user index)

    /// `by-user/<user>` 0 `<member, empty for the holder>` 0 `<key>`, with an empty value, beside
    /// each login (`key`: its name's HMAC) and each live session (`key`: its token's hash). Both
    /// keys are 64 hex digits and ended records start with `ended:`, so nothing collides.
    static let byUserPrefix = Array("by-user/".utf8)
    /// Marks a store whose logins and sessions are all indexed (stores before the index lack it).
    static let byUserMarker = Array("index:by-user".utf8)
    static let indexedKeyCount = 64

    static func byUserKey(user: String, member: String?, _ key: [UInt8]) -> [UInt8] {
        loginPrefix(user: user, member: member) + key
    }

    /// The prefix of the entries of one login of an account: the holder's (`member` nil) or a member's.
    static func loginPrefix(user: String, member: String?) -> [UInt8] {
        accountPrefix(user: user) + Array((member ?? "").utf8) + [0]
    }

    /// The prefix of the entries of every login of an account.
    static func accountPrefix(user: String) -> [UInt8] {
        byUserPrefix + Array(user.utf8) + [0]
    }

    /// The entries of `database` under `prefix`, each with the key it names.
    private func entries(_ database: Database, under prefix: [UInt8], in transaction: ReadTransaction) throws -> [(entry: [UInt8], key: [UInt8])] {
        var found: [(entry: [UInt8], key: [UInt8])] = []
        try transaction.withCursor(database) { cursor in
            var more = try cursor.seek(atOrAfter: prefix)
            while more, cursor.key.starts(with: prefix) {
                let entry = Array(cursor.key)
                if entry.count >= prefix.count + Self.indexedKeyCount {
                    found.append((entry, Array(entry.suffix(Self.indexedKeyCount))))
                }
                more = try cursor.next()
            }
        }
        return found
    }

    /// Indexes a store from before the index: every login and live session, in one transaction.
    private func indexByUser() throws {
        // Indexed already (every store but one from before the index): no write at start-up.
        guard try environment.read({ try $0.get(sessions, key: Self.byUserMarker) }) == nil else { return }
        try environment.write { transaction in
            guard try transaction.get(sessions, key: Self.byUserMarker) == nil else { return }
            /// The entries `database`'s records of type `T` need, each naming its owner.
            func owned<T: Decodable>(_ database: Database, _ type: T.Type, owner: (T) -> (user: String, member: String?)) throws -> [(Database, [UInt8])] {
                var found: [(Database, [UInt8])] = []
                try transaction.withCursor(database) { cursor in
                    var more = try cursor.first()
                    while more {
                        if cursor.key.count == Self.indexedKeyCount, let record = try? JSONDecoder().decode(T.self, from: Data(cursor.value)) {
                            let (user, member) = owner(record)
                            found.append((database, Self.byUserKey(user: user, member: member, Array(cursor.key))))
                        }
                        more = try cursor.next()
                    }
                }
                return found
            }
            let added = try owned(logins, Login.self) { ($0.user, $0.member) } + owned(sessions, Session.self) { ($0.user, $0.member) }
            for (database, entry) in added { try transaction.put(database, key: entry, value: []) }
            try transaction.put(sessions, key: Self.byUserMarker, value: [])
        }
    }

    // MARK: Logins and sessions

    func loginIndex(_ name: String) -> [UInt8] {
        Array(HMACSHA256.authenticationCode(key: loginIndexKey, message: Array(name.lowercased().utf8)).hex.utf8)
    }

    /// Records a login; false when the name is taken.
    public func createLogin(name: String, _ login: Login) throws -> Bool {
        let value = Array(try JSONEncoder().encode(login))
        let index = loginIndex(name)
        return try environment.write { transaction in
            if try transaction.get(logins, key: index) != nil { return false }
            try transaction.put(logins, key: index, value: value)
            try transaction.put(logins, key: Self.byUserKey(user: login.user, member: login.member, index), value: [])
            return true
        }
    }

    public func login(name: String) throws -> Login? {
        let index = loginIndex(name)
        guard let value = try environment.read({ try $0.get(logins, key: index) }) else { return nil }
        return try JSONDecoder().decode(Login.self, from: Data(value))
    }

    /// Releases a login name (an account whose opening was refused gives its name back).
    public func deleteLogin(name: String) throws {
        let index = loginIndex(name)
        try environment.write { transaction in
            if let value = try transaction.get(logins, key: index), let login = try? JSONDecoder().decode(Login.self, from: Data(value)) {
                _ = try transaction.delete(logins, key: Self.byUserKey(user: login.user, member: login.member, index))
            }
            _ = try transaction.delete(logins, key: index)
        }
    }

    /// Removes every login of a member (when the member is removed from the account), and ends
    /// their sessions.
    public func removeLogins(user: String, member: String) throws {
        try sessionCache.withLock { cache in
            let ended = try environment.write { transaction -> [[UInt8]] in
                let prefix = Self.loginPrefix(user: user, member: member)
                _ = try deleteLogins(in: transaction, under: prefix)
                return try endSessions(in: transaction, under: prefix, except: nil)
            }
            // In the same step under the cache's lock: none of them can be cached again.
            for key in ended { cache.removeValue(forKey: key) }
        }
    }

    /// Replaces the password hash of login `name`, which must be `user`'s (and `member`'s), and
    /// ends every session of that login but the one of `keepingToken` (the caller's own), with
    /// their purchase tokens, in one write transaction. Returns how many sessions ended, or nil
    /// when the name is not that login.
    public func changePassword(name: String, user: String, member: String?, hash: String, keepingToken: String?) throws -> Int? {
        let index = loginIndex(name)
        let kept = keepingToken.map(Self.sessionKey)
        // Under the cache's lock (see `session(token:now:)`): the sessions ended here are
        // dropped from the cache in the same step as from LMDB.
        return try sessionCache.withLock { cache -> Int? in
            var ended: [[UInt8]] = []
            let changed = try environment.write { transaction -> Bool in
                guard let value = try transaction.get(logins, key: index),
                      var login = try? JSONDecoder().decode(Login.self, from: Data(value)), login.user == user, login.member == member
                else { return false }
                login.passwordHash = hash
                try transaction.put(logins, key: index, value: Array(try JSONEncoder().encode(login)))
                ended = try endSessions(in: transaction, under: Self.loginPrefix(user: user, member: member), except: kept)
                return true
            }
            guard changed else { return nil }
            for key in ended { cache.removeValue(forKey: key) }
            return ended.count
        }
    }

    /// Removes every login of `user`'s account (the holder's and its members') and ends every
    /// session of them, with their purchase tokens: what is left of a person who is erased.
    /// Returns how many logins and sessions went.
    public func removeAccountLogins(user: String) throws -> (logins: Int, sessions: Int) {
        try sessionCache.withLock { cache in
            let (logins, ended) = try environment.write { transaction -> (Int, [[UInt8]]) in
                let prefix = Self.accountPrefix(user: user)
                return (try deleteLogins(in: transaction, under: prefix), try endSessions(in: transaction, under: prefix, except: nil))
            }
            for key in ended { cache.removeValue(forKey: key) }
            return (logins, ended.count)
        }
    }

    /// Deletes, in `transaction`, every login indexed under `prefix` (an account's, or one of
    /// its logins'); returns how many.
    private func deleteLogins(in transaction: WriteTransaction, under prefix: [UInt8]) throws -> Int {
        var deleted = 0
        for (entry, key) in try entries(logins, under: prefix, in: transaction) {
            if try transaction.delete(logins, key: key) { deleted += 1 }
            _ = try transaction.delete(logins, key: entry)
        }
        return deleted
    }

    /// Ends, in `transaction`, every live session indexed under `prefix` but the one keyed
    /// `except`: each is deleted and recorded as ended (`endedKey`), so that the purchase tokens
    /// minted in it buy nothing more. Returns the ended sessions' keys, for the caller to drop
    /// from the cache under its lock.
    private func endSessions(in transaction: WriteTransaction, under prefix: [UInt8], except kept: [UInt8]?) throws -> [[UInt8]] {
        var ended: [[UInt8]] = []
        for (entry, key) in try entries(sessions, under: prefix, in: transaction) where key != kept {
            if let value = try transaction.get(sessions, key: key), let session = try? JSONDecoder().decode(Session.self, from: Data(value)) {
                try transaction.put(
                    sessions, key: Self.endedKey(user: session.user, member: session.member, loginAtMilliseconds: session.loginAtMilliseconds),
                    value: BigEndian.bytes(session.expiresAtMilliseconds))
                _ = try transaction.delete(sessions, key: key)
                ended.append(key)
            }
            _ = try transaction.delete(sessions, key: entry)
        }
        return ended
    }

    static func sessionKey(_ token: String) -> [UInt8] {
        Array(SHA256.hash(Array(token.utf8)).hex.utf8)
    }

    /// Starts a session and returns its bearer token.
    public func createSession(_ session: Session) throws -> String {
        let token = "ses_" + Hex.encode(SecureRandom.bytes(32))
        let value = Array(try JSONEncoder().encode(session))
        let key = Self.sessionKey(token)
        try environment.write { transaction in
            try transaction.put(sessions, key: key, value: value)
            try transaction.put(sessions, key: Self.byUserKey(user: session.user, member: session.member, key), value: [])
        }
        cacheSession(key, session)
        return token
    }

    /// The live session of `token`, or nil when unknown or expired (an expired one is removed).
    public func session(token: String, now: UInt64) throws -> Session? {
        guard token.utf8.count <= 128 else { return nil }
        let key = Self.sessionKey(token)
        let session: Session
        if let cached = sessionCache.withLock({ $0[key] }) {
            session = cached
        } else {
            // Read and cached under the cache's lock, as sessions are ended under it: a session
            // read before its end commits cannot be cached after it.
            let found = try sessionCache.withLock { cache -> Session? in
                if let cached = cache[key] { return cached }
                guard let value = try environment.read({ try $0.get(sessions, key: key) }) else { return nil }
                let session = try JSONDecoder().decode(Session.self, from: Data(value))
                Self.insert(session, key, into: &cache)
                return session
            }
            guard let found else { return nil }
            session = found
        }
        if session.expiresAtMilliseconds <= now {
            _ = sessionCache.withLock { $0.removeValue(forKey: key) }
            try environment.write { transaction in
                _ = try transaction.delete(sessions, key: key)
                _ = try transaction.delete(sessions, key: Self.byUserKey(user: session.user, member: session.member, key))
            }
            return nil
        }
        return session
    }

    /// Ends a session, and with it the purchase tokens minted in it: the session's login is
    /// recorded as ended (`sessionEnded`), since a token carries the login, not the session.
    public func endSession(token: String) throws {
        let key = Self.sessionKey(token)
        try sessionCache.withLock { cache in
            try environment.write { transaction in
                if let value = try transaction.get(sessions, key: key),
                   let session = try? JSONDecoder().decode(Session.self, from: Data(value))
                {
                    try transaction.put(
                        sessions, key: Self.endedKey(user: session.user, member: session.member, loginAtMilliseconds: session.loginAtMilliseconds),
                        value: BigEndian.bytes(session.expiresAtMilliseconds))
                    _ = try transaction.delete(sessions, key: Self.byUserKey(user: session.user, member: session.member, key))
                }
                _ = try transaction.delete(sessions, key: key)
            }
            cache.removeValue(forKey: key)
        }
    }

    /// Whether the session of this login (user, member, login time) was ended by logout: its
    /// purchase tokens buy nothing more, although their window has not closed.
    public func sessionEnded(user: String, member: String?, loginAtMilliseconds: UInt64) throws -> Bool {
        let key = Self.endedKey(user: user, member: member, loginAtMilliseconds: loginAtMilliseconds)
        return try environment.read { try $0.get(sessions, key: key) } != nil
    }

    /// Removes what can no longer matter: sessions past their expiry that nobody presented again
    /// (a presented one is removed at once), and logout records (`endedKey`) past the end of
    /// their session, by which time every purchase token of that login has expired (a token's
    /// window ends within its session). Returns how many of each were removed.
    @discardableResult
    public func prune(now: UInt64) throws -> (sessions: Int, ended: Int) {
        var expired: [[UInt8]] = []
        var entries: [[UInt8]] = []
        var ended = 0
        try environment.read { transaction in
            try transaction.withCursor(sessions) { cursor in
                var found = try cursor.first()
                while found {
                    let key = Array(cursor.key)
                    if key.starts(with: Self.endedPrefix) {
                        if cursor.value.count == 8, BigEndian.uint64(Array(cursor.value)) <= now {
                            expired.append(key)
                            ended += 1
                        }
                    } else if key.count == Self.indexedKeyCount, let session = try? JSONDecoder().decode(Session.self, from: Data(cursor.value)),
                              session.expiresAtMilliseconds <= now
                    {
                        expired.append(key)
                        entries.append(Self.byUserKey(user: session.user, member: session.member, key))
                    }
                    found = try cursor.next()
                }
            }
        }
        guard !expired.isEmpty else { return (0, 0) }
        try environment.write { transaction in
            for key in expired + entries { _ = try transaction.delete(sessions, key: key) }
        }
        sessionCache.withLock { cache in
            for key in expired { cache.removeValue(forKey: key) }
        }
        return (expired.count - ended, ended)
    }

    static let endedPrefix = Array("ended:".utf8)

    /// Kept beside the sessions (whose keys are 64 hex digits, so these never collide).
    static func endedKey(user: String, member: String?, loginAtMilliseconds: UInt64) -> [UInt8] {
        Array("ended:\(user):\(member ?? "-"):\(loginAtMilliseconds)".utf8)
    }

    private func cacheSession(_ key: [UInt8], _ session: Session) {
        sessionCache.withLock { Self.insert(session, key, into: &$0) }
    }

    private static func insert(_ session: Session, _ key: [UInt8], into cache: inout [[UInt8]: Session]) {
        if cache.count >= sessionCacheMax { cache.removeAll(keepingCapacity: true) }
        cache[key] = session
    }
}
