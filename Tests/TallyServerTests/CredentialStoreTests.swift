import Foundation
import LMDB
import TallyTestSupport
import Testing
@testable import TallyServer

/// The credential store ends a login's sessions and removes an account's logins through its
/// by-user index: only theirs go, the index never names what is gone, and a store from before
/// the index gets it at its next open.
@Suite("Credential store: each account's logins and sessions")
struct CredentialStoreTests {
    static let day: UInt64 = 86_400_000

    static func open(_ directory: TemporaryDirectory) throws -> CredentialStore {
        let secrets = try ServerSecrets.loadOrCreate(dataDirectory: directory.path, adminKey: nil, auditorKey: nil)
        return try CredentialStore.open(dataDirectory: directory.path, secrets: secrets)
    }

    /// Alice (holder and member `kid`) and Bob, each login with two sessions.
    static func givenTwoAccounts(_ store: CredentialStore) throws -> [String: [String]] {
        var tokens: [String: [String]] = [:]
        for (name, user, member) in [("alice", "u-alice", nil), ("alice-kid", "u-alice", "kid"), ("bob", "u-bob", nil)] as [(String, String, String?)] {
            #expect(try store.createLogin(name: name, CredentialStore.Login(user: user, member: member, passwordHash: "h")))
            for login in 0..<2 {
                tokens[name, default: []].append(try store.createSession(CredentialStore.Session(
                    user: user, member: member, loginAtMilliseconds: UInt64(login), expiresAtMilliseconds: Self.day)))
            }
        }
        return tokens
    }

    /// The by-user entries of the store (logins' and sessions'), as text.
    static func entries(_ store: CredentialStore) throws -> [String] {
        try store.environment.read { transaction in
            var found: [String] = []
            for database in [store.logins, store.sessions] {
                try transaction.withCursor(database) { cursor in
                    var more = try cursor.seek(atOrAfter: CredentialStore.byUserPrefix)
                    while more, cursor.key.starts(with: CredentialStore.byUserPrefix) {
                        found.append(String(decoding: cursor.key.dropLast(CredentialStore.indexedKeyCount), as: UTF8.self))
                        more = try cursor.next()
                    }
                }
            }
            return found
        }
    }

    func live(_ store: CredentialStore, _ token: String) throws -> Bool { try store.session(token: token, now: 1) != nil }

    @Test("a password change ends that login's other sessions only; a member's removal ends the member's; erasure ends the account's; the index follows")
    func endings() throws {
        let directory = TemporaryDirectory("tally-credentials")
        let store = try Self.open(directory)
        let tokens = try Self.givenTwoAccounts(store)
        #expect(try Self.entries(store).count == 3 + 6)

        // Alice changes her password from her first session: her second ends, nobody else's.
        let ended = try store.changePassword(name: "alice", user: "u-alice", member: nil, hash: "h2", keepingToken: tokens["alice"]![0])
        #expect(ended == 1)
        #expect(try live(store, tokens["alice"]![0]) && !(try live(store, tokens["alice"]![1])))
        #expect(try tokens["alice-kid"]!.allSatisfy { try live(store, $0) } && tokens["bob"]!.allSatisfy { try live(store, $0) })
        #expect(try store.sessionEnded(user: "u-alice", member: nil, loginAtMilliseconds: 1))
        #expect(try store.login(name: "alice")?.passwordHash == "h2")

        // The member is removed: their login and sessions go.
        try store.removeLogins(user: "u-alice", member: "kid")
        #expect(try store.login(name: "alice-kid") == nil)
        #expect(try tokens["alice-kid"]!.allSatisfy { try !live(store, $0) })
        #expect(try live(store, tokens["alice"]![0]))

        // Alice is erased: her logins and sessions go; Bob's stay, and the index names only his.
        let removed = try store.removeAccountLogins(user: "u-alice")
        #expect(removed.logins == 1 && removed.sessions == 1)
        #expect(try store.login(name: "alice") == nil && (try store.login(name: "bob")) != nil)
        #expect(try tokens["bob"]!.allSatisfy { try live(store, $0) })
        #expect(try Self.entries(store) == Array(repeating: "by-user/u-bob\u{0}\u{0}", count: 3))

        // A released login name loses its entry too.
        try store.deleteLogin(name: "bob")
        #expect(try Self.entries(store).count == 2, "Bob's two sessions")
    }

    @Test("sessions that expire, end by logout or are pruned leave no entry behind")
    func expiry() throws {
        let directory = TemporaryDirectory("tally-credentials")
        let store = try Self.open(directory)
        let tokens = try Self.givenTwoAccounts(store)
        try store.endSession(token: tokens["bob"]![0])
        #expect(try store.session(token: tokens["bob"]![1], now: Self.day) == nil, "expired when presented")
        #expect(try Self.entries(store).filter { $0.hasPrefix("by-user/u-bob") }.count == 1, "the login's only")
        let pruned = try store.prune(now: Self.day)
        #expect(pruned.sessions == 4 && pruned.ended == 1)
        #expect(try Self.entries(store).count == 3, "the three logins'")
    }

    @Test("a store from before the index gets it at its next open, and its old sessions still end")
    func oldStore() throws {
        let directory = TemporaryDirectory("tally-credentials")
        var tokens: [String: [String]] = [:]
        do {
            let store = try Self.open(directory)
            tokens = try Self.givenTwoAccounts(store)
            // Back to the earlier layout: no entries, no marker.
            try store.environment.write { transaction in
                for database in [store.logins, store.sessions] {
                    var doomed: [[UInt8]] = []
                    try transaction.withCursor(database) { cursor in
                        var more = try cursor.seek(atOrAfter: CredentialStore.byUserPrefix)
                        while more, cursor.key.starts(with: CredentialStore.byUserPrefix) { doomed.append(Array(cursor.key)); more = try cursor.next() }
                    }
                    for key in doomed { _ = try transaction.delete(database, key: key) }
                }
                _ = try transaction.delete(store.sessions, key: CredentialStore.byUserMarker)
            }
            #expect(try Self.entries(store).isEmpty)
            #expect(try store.removeAccountLogins(user: "u-bob") == (0, 0), "without entries nothing is found")
        }
        let reopened = try Self.open(directory)
        #expect(try Self.entries(reopened).count == 3 + 6)
        #expect(try reopened.removeAccountLogins(user: "u-bob") == (1, 2))
        #expect(try tokens["bob"]!.allSatisfy { try !live(reopened, $0) })
        #expect(try tokens["alice"]!.allSatisfy { try live(reopened, $0) })
    }

    @Test("a store from before rights holders' keys gets their database at its next open; a key reads until revoked, only for its holder")
    func holderKeys() throws {
        let directory = TemporaryDirectory("tally-credentials")
        // The layout of the earlier stores: three databases.
        do {
            _ = try Environment.create(at: directory.path + "/credentials") { transaction in
                for name in ["vendor-keys", "logins", "sessions"] { _ = try transaction.openDatabase(named: name) }
            }
        }
        let store = try Self.open(directory)
        let (key, token) = try store.createHolderKey(holder: "label", now: 5)
        #expect(token.hasPrefix("hk_") && key.keyID.hasPrefix("hkid_") && key.holder == "label")
        #expect(try store.holderKey(token: token, now: 6) == key)
        #expect(try store.holderKey(token: "hk_" + String(repeating: "0", count: 64), now: 6) == nil)
        #expect(try store.holderKey(token: "not a holder key", now: 6) == nil)
        #expect(try store.holderKeys(holder: "label") == [key])
        #expect(try store.holderKeys(holder: "other").isEmpty)
        #expect(try !store.revokeHolderKey(key.keyID, holder: "other"))
        #expect(try store.revokeHolderKey(key.keyID, holder: "label"))
        #expect(try store.holderKey(token: token, now: 6) == nil)
        #expect(try !store.revokeHolderKey(key.keyID, holder: "label"))
        // A key with an end opens until then.
        let (ending, endingToken) = try store.createHolderKey(holder: "label", now: 10, expiresAtMilliseconds: 20)
        #expect(try store.holderKey(token: endingToken, now: 19) == ending)
        #expect(try store.holderKey(token: endingToken, now: 20) == nil)
        #expect(try store.holderKeys(holder: "label") == [ending])
    }
}
