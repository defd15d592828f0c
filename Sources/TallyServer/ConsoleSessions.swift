import Synchronization
import TallyCrypto

/// The consoles' logins (``ConsoleController``), held in the server's memory. A console acts
/// with the credentials typed at its login (the admin key and the representative's name, or a
/// vendor's signing key and secret), and those never leave the server again: the browser
/// holds only a random session ID, so a cookie that leaks (a shared machine, a proxy's log, a
/// backup of a browser profile) gives a console for at most its session's remaining hours, and
/// none once the representative logs out, never the admin key or a vendor's secret.
///
/// Sessions end at logout, after ``lifetimeMilliseconds``, and when the server stops (a
/// representative then logs in again). At most ``capacity`` are held; beyond it, opening one
/// first drops the expired ones, then the one that would expire first.
final class ConsoleSessions: Sendable {
    struct Session: Sendable {
        let kind: ConsoleController.Kind
        /// The admin key, or the vendor's signing key ID.
        let first: String
        /// The representative's name, or the vendor's secret (hex).
        let second: String
        let expiresAtMilliseconds: UInt64
        /// The token every form of the session carries: random, unrelated to the credentials.
        let csrf: String
    }

    static let lifetimeMilliseconds: UInt64 = 8 * 3_600_000
    let capacity: Int
    private let sessions = Mutex<[String: Session]>([:])

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// Opens a session for credentials already checked, and returns its ID (the cookie's value).
    func open(_ kind: ConsoleController.Kind, first: String, second: String, now: UInt64) -> String {
        let id = "cs_" + Hex.encode(SecureRandom.bytes(32))
        let session = Session(
            kind: kind, first: first, second: second, expiresAtMilliseconds: now &+ Self.lifetimeMilliseconds,
            csrf: Hex.encode(SecureRandom.bytes(16)))
        sessions.withLock { table in
            if table.count >= capacity {
                table = table.filter { $0.value.expiresAtMilliseconds > now }
                if table.count >= capacity, let first = table.min(by: { $0.value.expiresAtMilliseconds < $1.value.expiresAtMilliseconds }) {
                    table[first.key] = nil
                }
            }
            table[id] = session
        }
        return id
    }

    /// The live session `id` names for a console of `kind`; nil when there is none, it has
    /// expired (and is then dropped) or it belongs to the other console.
    func session(_ id: String, kind: ConsoleController.Kind, now: UInt64) -> Session? {
        sessions.withLock { table in
            guard let session = table[id] else { return nil }
            guard session.expiresAtMilliseconds > now else {
                table[id] = nil
                return nil
            }
            return session.kind == kind ? session : nil
        }
    }

    /// Ends session `id`; nothing when there is none.
    func close(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    var count: Int { sessions.withLock { $0.count } }
}
