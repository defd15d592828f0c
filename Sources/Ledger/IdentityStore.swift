import Foundation
import Journal
import LMDB
import TallyCrypto

/// A damaged identity store, named by its file and the reason.
public struct IdentityStoreError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// A person's details: kept out of the journal, which holds only opaque user IDs.
public struct PersonalData: Sendable, Codable, Equatable {
    public var name: String
    public var email: String
    public var loginName: String

    public init(name: String, email: String, loginName: String) {
        self.name = name
        self.email = email
        self.loginName = loginName
    }
}

/// Personal data, encrypted with a key per user (AES-256-GCM, the user ID as associated data).
///
/// The sealed records live in `identity/` and the keys in `identity-keys/`, two LMDB
/// environments of the data directory, so that backups of one need not hold the other.
/// Erasing a person destroys their key (and their record): every copy of the ciphertext, in
/// any backup, becomes unreadable, and the journal is untouched and still verifies.
///
/// Customer service finds accounts by e-mail address through an index beside the records:
/// `email:<hex HMAC-SHA256 of the lower-cased address>` → the IDs of the users who gave it, one
/// per line, sorted. The HMAC key is kept with the per-user keys (`index:email`), so a copy of
/// `identity/` alone cannot be searched for an address; erasing a person removes them from
/// the index first. Neither key name can be a user ID (IDs hold no colon). A store from before
/// the index gets it at its first open (`buildEmailIndex`).
public final class IdentityStore: Sendable {
    let records: Environment
    let keys: Environment
    let recordsDatabase: Database
    let keysDatabase: Database
    let emailIndexKey: [UInt8]
    static let emailIndexKeyName = Array("index:email".utf8)

    public static func open(directory: String) throws -> IdentityStore {
        func environment(_ name: String) throws -> (Environment, Database) {
            let path = directory + "/" + name
            let environment: Environment
            if FileSystem.exists(path) {
                environment = try Environment.open(at: path)
            } else {
                environment = try Environment.create(at: path) { _ = try $0.openDatabase(named: name) }
            }
            return (environment, try environment.database(named: name))
        }
        let (records, recordsDatabase) = try environment("identity")
        let (keys, keysDatabase) = try environment("identity-keys")
        if let indexKey = try keys.read({ try $0.get(keysDatabase, key: emailIndexKeyName) }) {
            return IdentityStore(records: records, keys: keys, recordsDatabase: recordsDatabase, keysDatabase: keysDatabase, emailIndexKey: indexKey)
        }
        // No index yet (a new store, or one from before it): build it, then keep its key. A
        // crash in between leaves no key, so the next open builds it again from scratch.
        let store = IdentityStore(
            records: records, keys: keys, recordsDatabase: recordsDatabase, keysDatabase: keysDatabase,
            emailIndexKey: SecureRandom.bytes(32))
        try store.buildEmailIndex()
        try keys.write { try $0.put(keysDatabase, key: emailIndexKeyName, value: store.emailIndexKey) }
        return store
    }

    private init(records: Environment, keys: Environment, recordsDatabase: Database, keysDatabase: Database, emailIndexKey: [UInt8]) {
        self.records = records
        self.keys = keys
        self.recordsDatabase = recordsDatabase
        self.keysDatabase = keysDatabase
        self.emailIndexKey = emailIndexKey
    }

    // MARK: The e-mail index

    static let emailEntryPrefix = Array("email:".utf8)

    /// The index entry of an e-mail address (compared lower-cased, without surrounding spaces).
    func emailEntry(_ email: String) -> [UInt8] {
        let normalized = email.trimmingCharacters(in: .whitespaces).lowercased()
        return Self.emailEntryPrefix + Array(HMACSHA256.authenticationCode(key: emailIndexKey, message: Array(normalized.utf8)).hex.utf8)
    }

    private static func users(in entry: [UInt8]?) -> [String] {
        guard let entry else { return [] }
        return String(decoding: entry, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Adds `user` to (or, `adding` false, removes them from) the entry of `email`.
    private func index(_ user: String, email: String, adding: Bool, in transaction: WriteTransaction) throws {
        let entry = emailEntry(email)
        var users = Set(Self.users(in: try transaction.get(recordsDatabase, key: entry)))
        if adding { users.insert(user) } else { users.remove(user) }
        if users.isEmpty {
            _ = try transaction.delete(recordsDatabase, key: entry)
        } else {
            try transaction.put(recordsDatabase, key: entry, value: Array(users.sorted().joined(separator: "\n").utf8))
        }
    }

    /// The index from the records: every entry dropped, then each person's address indexed, in
    /// one transaction.
    private func buildEmailIndex() throws {
        var people: [(user: String, sealed: [UInt8])] = []
        try records.read { transaction in
            try transaction.withCursor(recordsDatabase) { cursor in
                var more = try cursor.first()
                while more {
                    if !cursor.key.contains(UInt8(ascii: ":")) {
                        people.append((String(decoding: cursor.key, as: UTF8.self), Array(cursor.value)))
                    }
                    more = try cursor.next()
                }
            }
        }
        try records.write { transaction in
            var stale: [[UInt8]] = []
            try transaction.withCursor(recordsDatabase) { cursor in
                var more = try cursor.seek(atOrAfter: Self.emailEntryPrefix)
                while more, cursor.key.starts(with: Self.emailEntryPrefix) {
                    stale.append(Array(cursor.key))
                    more = try cursor.next()
                }
            }
            for entry in stale { _ = try transaction.delete(recordsDatabase, key: entry) }
            for person in people {
                // A record whose key is gone (erased while a crash interrupted) has no address to index.
                guard let key = try keys.read({ try $0.get(keysDatabase, key: Array(person.user.utf8)) }) else { continue }
                let data: PersonalData
                do {
                    data = try Self.open(person.sealed, key: key, user: person.user)
                } catch {
                    throw IdentityStoreError(path: records.path, reason: "the record of \(person.user) does not open with its key (damaged, or not this store's): \(error)")
                }
                try index(person.user, email: data.email, adding: true, in: transaction)
            }
        }
    }

    /// The users who gave `email` (any case), sorted; none for an address nobody gave.
    public func users(withEmail email: String) throws -> [String] {
        Self.users(in: try records.read { try $0.get(recordsDatabase, key: emailEntry(email)) })
    }

    private static func open(_ sealed: [UInt8], key: [UInt8], user: String) throws -> PersonalData {
        let plaintext = try AESGCM.open(sealed, key: key, associatedData: Array(user.utf8))
        return try JSONDecoder().decode(PersonalData.self, from: Data(plaintext))
    }

    /// Stores (or replaces) a user's personal data, creating their key on first use.
    public func store(_ data: PersonalData, for user: String) throws {
        let key: [UInt8] = try keys.write { transaction in
            if let existing = try transaction.get(keysDatabase, key: Array(user.utf8)) { return existing }
            let fresh = SecureRandom.bytes(AESGCM.keyByteCount)
            try transaction.put(keysDatabase, key: Array(user.utf8), value: fresh)
            return fresh
        }
        let sealed = try AESGCM.seal(Array(try JSONEncoder().encode(data)), key: key, associatedData: Array(user.utf8))
        try records.write { transaction in
            // The record replaced is read in this transaction, so two changes at once cannot
            // leave the index naming an address the record no longer holds.
            if let old = try transaction.get(recordsDatabase, key: Array(user.utf8)) {
                let previous = try Self.open(old, key: key, user: user)
                if previous.email != data.email { try index(user, email: previous.email, adding: false, in: transaction) }
            }
            try transaction.put(recordsDatabase, key: Array(user.utf8), value: sealed)
            try index(user, email: data.email, adding: true, in: transaction)
        }
    }

    /// The user's personal data, or nil when there is none or it was erased.
    public func personalData(of user: String) throws -> PersonalData? {
        guard let key = try keys.read({ try $0.get(keysDatabase, key: Array(user.utf8)) }),
              let sealed = try records.read({ try $0.get(recordsDatabase, key: Array(user.utf8)) })
        else { return nil }
        return try Self.open(sealed, key: key, user: user)
    }

    /// Erases a person: takes them out of the e-mail index, then destroys their key (which
    /// alone makes every copy of the record unreadable), then their sealed record.
    public func erase(user: String) throws {
        if let data = try personalData(of: user) {
            try records.write { try index(user, email: data.email, adding: false, in: $0) }
        }
        try keys.write { _ = try $0.delete(keysDatabase, key: Array(user.utf8)) }
        try records.write { _ = try $0.delete(recordsDatabase, key: Array(user.utf8)) }
    }

    /// The key of a user, for tests that show an erased key is gone.
    func key(of user: String) throws -> [UInt8]? {
        try keys.read { try $0.get(keysDatabase, key: Array(user.utf8)) }
    }
}
