import Foundation
import Journal
import LMDB
import TallyCrypto

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
public final class IdentityStore: Sendable {
    let records: Environment
    let keys: Environment
    let recordsDatabase: Database
    let keysDatabase: Database

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
        return IdentityStore(records: records, keys: keys, recordsDatabase: recordsDatabase, keysDatabase: keysDatabase)
    }

    private init(records: Environment, keys: Environment, recordsDatabase: Database, keysDatabase: Database) {
        self.records = records
        self.keys = keys
        self.recordsDatabase = recordsDatabase
        self.keysDatabase = keysDatabase
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
        try records.write { try $0.put(recordsDatabase, key: Array(user.utf8), value: sealed) }
    }

    /// The user's personal data, or nil when there is none or it was erased.
    public func personalData(of user: String) throws -> PersonalData? {
        guard let key = try keys.read({ try $0.get(keysDatabase, key: Array(user.utf8)) }),
              let sealed = try records.read({ try $0.get(recordsDatabase, key: Array(user.utf8)) })
        else { return nil }
        let plaintext = try AESGCM.open(sealed, key: key, associatedData: Array(user.utf8))
        return try JSONDecoder().decode(PersonalData.self, from: Data(plaintext))
    }

    /// Erases a person: destroys their key first (which alone makes every copy unreadable),
    /// then their sealed record.
    public func erase(user: String) throws {
        try keys.write { _ = try $0.delete(keysDatabase, key: Array(user.utf8)) }
        try records.write { _ = try $0.delete(recordsDatabase, key: Array(user.utf8)) }
    }

    /// The key of a user, for tests that show an erased key is gone.
    func key(of user: String) throws -> [UInt8]? {
        try keys.read { try $0.get(keysDatabase, key: Array(user.utf8)) }
    }
}
