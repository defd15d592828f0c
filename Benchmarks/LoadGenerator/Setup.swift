import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TallyCrypto

/// A shared counter clients take work from (`i = 0, 1, 2, …`).
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}

struct HTTPFailure: Error, CustomStringConvertible {
    var description: String
}

extension HTTPReply {
    /// The body as a JSON object, when the status is `expected`.
    func object(expecting expected: Int, _ what: String) throws -> [String: Any] {
        guard status == expected else { throw HTTPFailure(description: "\(what): HTTP \(status), expected \(expected): \(text.prefix(600))") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw HTTPFailure(description: "\(what): the reply is not a JSON object: \(text.prefix(300))")
        }
        return object
    }
}

func int64(_ value: Any?) -> Int64? {
    if let number = value as? NSNumber { return number.int64Value }
    if let int = value as? Int { return Int64(int) }
    return nil
}

/// Runs `body` for items 0 ..< count on the connections, each connection taking the next item
/// from a shared counter, one request chain at a time; the results in item order.
func concurrently<T: Sendable>(
    _ connections: [Connection], count: Int, label: String,
    _ body: @escaping @Sendable (Connection, Int) async throws -> T
) async throws -> [T] {
    let counter = Counter()
    let started = ContinuousClock.now
    let done = Counter()
    let results = try await withThrowingTaskGroup(of: [(Int, T)].self) { group in
        for connection in connections {
            group.addTask {
                var mine: [(Int, T)] = []
                while true {
                    let item = counter.next()
                    guard item < count else { break }
                    mine.append((item, try await body(connection, item)))
                    let finished = done.next() + 1
                    if finished % 2000 == 0 || finished == count {
                        let seconds = (ContinuousClock.now - started) / .seconds(1)
                        log("\(label): \(finished)/\(count) (\(Int(Double(finished) / max(seconds, 0.001)))/s)")
                    }
                }
                return mine
            }
        }
        var all: [T?] = Array(repeating: nil, count: count)
        for try await part in group { for (index, value) in part { all[index] = value } }
        return all.map { $0! }
    }
    return results
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("tally-loadgen: \(message)\n".utf8))
}

/// The untimed world: vendors with a site, fee 500 bp, one catalog item whose royalty schedule
/// pays 1000 bp to the vendor's own rights holder; users with a funded wallet and a purchase token.
struct Setup {
    let parameters: Parameters
    /// Makes this run's logins, sites and holders unique, so a run never meets an earlier one's.
    let tag: String
    let noncePrefix: String

    var admin: [(String, String)] { [("Authorization", "Bearer \(parameters.adminKey)")] }

    func vendors(_ connections: [Connection]) async throws -> [VendorAccount] {
        let parameters = self.parameters, tag = self.tag, admin = self.admin, noncePrefix = self.noncePrefix
        return try await concurrently(connections, count: parameters.vendors, label: "vendors") { connection, index in
            let site = "https://lg\(tag)v\(index).example/"
            let registration = """
                {"name":"Load vendor \(index)","sites":[\(Bodies.jsonString(site))],"feeBasisPoints":\(Parameters.feeBasisPoints),\
                "settlement":{"periodSeconds":86400}}
                """
            let created = try await connection.request(.POST, "/v1/admin/vendors", headers: admin, body: Array(registration.utf8))
                .object(expecting: 201, "POST /v1/admin/vendors")
            guard let id = created["vendor"] as? String, let keyID = created["keyId"] as? String,
                let secretHex = created["secret"] as? String, let secret = Hex.decode(secretHex)
            else { throw HTTPFailure(description: "POST /v1/admin/vendors: unexpected reply \(created)") }
            let vendor = VendorAccount(index: index, id: id, keyID: keyID, secret: secret, site: site, holder: "lg\(tag)h\(index)")
            // One catalog item (fixed price); the timed phase sends the drawn price inline with the
            // same royalty schedule.
            var content = ""
            Bodies.inlineTerms(vendor, price: 100, currency: parameters.currency, into: &content)
            let body = Array(content.utf8)
            let headers = Signer.headers(
                vendor, method: "POST", path: "/v1/vendor/content", nonce: "\(noncePrefix)-content-\(index)", idempotencyKey: "content-1", body: body)
            _ = try await connection.request(.POST, "/v1/vendor/content", headers: headers, body: body)
                .object(expecting: 201, "POST /v1/vendor/content")
            return vendor
        }
    }

    func users(_ connections: [Connection]) async throws -> [UserAccount] {
        let parameters = self.parameters, tag = self.tag
        return try await concurrently(connections, count: parameters.users, label: "users") { connection, index in
            let login = "lg\(tag)u\(index)"
            let password = "password-\(tag)-\(index)"
            let signup = """
                {"login":\(Bodies.jsonString(login)),"password":\(Bodies.jsonString(password)),"name":"Load user \(index)",\
                "email":"u\(index)@lg\(tag).example"}
                """
            let created = try await connection.request(.POST, "/v1/signup", body: Array(signup.utf8)).object(expecting: 201, "POST /v1/signup")
            guard let user = created["user"] as? String else { throw HTTPFailure(description: "POST /v1/signup: no user in \(created)") }
            let credentials = "{\"login\":\(Bodies.jsonString(login)),\"password\":\(Bodies.jsonString(password))}"
            let session = try await connection.request(.POST, "/v1/login", body: Array(credentials.utf8)).object(expecting: 200, "POST /v1/login")
            guard let token = session["session"] as? String else { throw HTTPFailure(description: "POST /v1/login: no session") }
            let bearer = [("Authorization", "Bearer \(token)")]
            let currency = Bodies.jsonString(parameters.currency)
            _ = try await connection.request(.POST, "/v1/me/wallets", headers: bearer, body: Array("{\"currency\":\(currency)}".utf8))
                .object(expecting: 201, "POST /v1/me/wallets")
            let funds = "{\"currency\":\(currency),\"amount\":\(parameters.initial),\"method\":\"card\"}"
            let funded = try await connection.request(.POST, "/v1/me/funds", headers: bearer, body: Array(funds.utf8))
                .object(expecting: 201, "POST /v1/me/funds")
            guard (funded["pending"] as? Bool) == false else { throw HTTPFailure(description: "POST /v1/me/funds: card funds are pending: \(funded)") }
            let minted = try await connection.request(.POST, "/v1/me/purchase-token", headers: bearer)
                .object(expecting: 201, "POST /v1/me/purchase-token")
            guard let purchaseToken = minted["purchaseToken"] as? String else { throw HTTPFailure(description: "no purchaseToken") }
            return UserAccount(index: index, id: user, login: login, session: token, purchaseToken: purchaseToken)
        }
    }
}

/// Reads the four totals back through the admin API once the read models have caught up.
struct ReadBack {
    let parameters: Parameters
    var admin: [(String, String)] { [("Authorization", "Bearer \(parameters.adminKey)")] }

    /// Waits until `/ready` reports the read models at the journal's head; returns the head.
    func caughtUp(_ connection: Connection) async throws -> UInt64 {
        let deadline = ContinuousClock.now + .seconds(900)
        var head: UInt64 = 0
        while ContinuousClock.now < deadline {
            let reply = try await connection.request(.GET, "/ready")
            if reply.status == 200, let ready = try? reply.object(expecting: 200, "/ready"),
                let journal = int64(ready["journalSequence"]), let folded = int64(ready["projectionSequence"])
            {
                head = UInt64(journal)
                if folded >= journal { return head }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HTTPFailure(description: "the read models did not reach the journal's head \(head) within 15 minutes")
    }

    /// GET with `?minSequence=`, retried while the server answers 503 (projection behind).
    /// nil on 404 (a rights holder never paid has no statement).
    func read(_ connection: Connection, _ path: String, minSequence: UInt64) async throws -> [String: Any]? {
        for _ in 0..<60 {
            let reply = try await connection.request(.GET, "\(path)?minSequence=\(minSequence)", headers: admin)
            if reply.status == 503 { try await Task.sleep(for: .milliseconds(500)); continue }
            if reply.status == 404 { return nil }
            let object = try reply.object(expecting: 200, "GET \(path)")
            guard let data = object["data"] as? [String: Any] else { throw HTTPFailure(description: "GET \(path): no data") }
            return data
        }
        throw HTTPFailure(description: "GET \(path): still 503 after 30 s")
    }

    /// The entry of `currency` in a list of per-currency objects; zeros when absent.
    func entry(_ list: Any?, currency: String, _ what: String) throws -> [String: Any] {
        guard let list = list as? [[String: Any]] else { throw HTTPFailure(description: "\(what): no per-currency list") }
        return list.first(where: { ($0["currency"] as? String) == currency })
            ?? ["balance": 0, "held": 0, "earned": 0, "fees": 0, "royalties": 0, "unsettled": 0, "paid": 0]
    }

    func totals(_ connections: [Connection], users: [UserAccount], vendors: [VendorAccount]) async throws -> Totals {
        let head = try await caughtUp(connections[0])
        let currency = parameters.currency, initial = parameters.initial
        let spent = try await concurrently(connections, count: users.count, label: "read wallets") { connection, index in
            guard let data = try await read(connection, "/v1/admin/users/\(users[index].id)/wallets", minSequence: head) else {
                throw HTTPFailure(description: "wallets of \(users[index].id): 404")
            }
            let wallet = try entry(data["wallets"], currency: currency, "wallets of \(users[index].id)")
            guard let balance = int64(wallet["balance"]), int64(wallet["held"]) == 0 else {
                throw HTTPFailure(description: "wallet of \(users[index].id): no balance or funds held: \(wallet)")
            }
            return initial - balance
        }
        let perVendor = try await concurrently(connections, count: vendors.count, label: "read vendors") { connection, index in
            let vendor = vendors[index]
            guard let settlement = try await read(connection, "/v1/admin/vendors/\(vendor.id)/settlement", minSequence: head) else {
                throw HTTPFailure(description: "settlement of \(vendor.id): 404")
            }
            let money = try entry(settlement["currencies"], currency: currency, "settlement of \(vendor.id)")
            guard let earned = int64(money["earned"]), let fees = int64(money["fees"]), let royalties = int64(money["royalties"]),
                let unsettled = int64(money["unsettled"])
            else { throw HTTPFailure(description: "settlement of \(vendor.id): missing fields \(money)") }
            let net = earned - fees - royalties
            guard unsettled == net else {
                throw HTTPFailure(description: "settlement of \(vendor.id): unsettled \(unsettled) differs from earned - fees - royalties = \(net)")
            }
            let statement = try await read(connection, "/v1/admin/holders/\(vendor.holder)/royalties", minSequence: head)
            let total = try entry(statement?["totals"] ?? [], currency: currency, "royalties of \(vendor.holder)")
            guard let paid = int64(total["paid"]), let balance = int64(total["balance"]), balance == paid, royalties == paid else {
                throw HTTPFailure(description: "royalties of \(vendor.holder): \(total) vs the vendor's royalties \(royalties)")
            }
            return (net, fees, paid)
        }
        var totals = Totals()
        totals.usersSpent = spent.reduce(0, +)
        for (net, fees, royalties) in perVendor {
            totals.vendorsNet += net
            totals.fees += fees
            totals.royalties += royalties
        }
        return totals
    }
}
