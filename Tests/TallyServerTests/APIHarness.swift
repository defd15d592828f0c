import Foundation
import Hummingbird
import HummingbirdTesting
import Journal
import Ledger
import NIOCore
import Projections
import TallyCrypto
import TallyTestSupport
import Testing
@testable import TallyServer

/// A server over a fresh data directory, with projections running, for route tests. Cheap
/// scrypt (N = 2^10) so logins are fast; everything else as in production.
final class APIHarness: @unchecked Sendable {
    let directory = TemporaryDirectory()
    let api: TallyAPI
    let router: Router<TallyContext>
    var clock: Clock

    final class Clock: @unchecked Sendable {
        let lock = NSLock()
        var offset: UInt64 = 0
        func now() -> UInt64 {
            lock.lock(); defer { lock.unlock() }
            return UInt64(Date().timeIntervalSince1970 * 1000) + offset
        }
        func advance(milliseconds: UInt64) {
            lock.lock(); defer { lock.unlock() }
            offset += milliseconds
        }
    }

    init(_ configure: (inout TallyServer.Configuration) -> Void = { _ in }) throws {
        var configuration = TallyServer.Configuration(dataDirectory: directory.path)
        configuration.adminKey = Self.adminKey
        configuration.auditorKey = Self.auditorKey
        configuration.settings.scryptLog2N = 10
        let clock = Clock()
        self.clock = clock
        configuration.clock = { clock.now() }
        configure(&configuration)
        api = try TallyServer.openAPI(configuration)
        router = TallyServer.makeRouter(api: api)
    }

    static let adminKey = "adm_test_key_0123456789abcdef"
    static let auditorKey = "aud_test_key_0123456789abcdef"

    deinit { api.journal.close() }

    /// Runs `body` with a router client and the projection worker running.
    func run(_ body: @escaping @Sendable (Client) async throws -> Void) async throws {
        let projections = api.projections
        let worker = Task { await projections.run() }
        defer { worker.cancel() }
        let application = Application(router: router)
        try await application.test(.router) { client in
            try await body(Client(client: client, harness: self))
        }
        worker.cancel()
        _ = await worker.value
    }

    struct Reply: @unchecked Sendable {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let bytes: [UInt8]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:] }
        var text: String { String(decoding: bytes, as: UTF8.self) }
        var problemType: String? { (json["type"] as? String)?.replacingOccurrences(of: ProblemDocument.typeBase, with: "") }
    }

    struct Vendor: Sendable {
        let id: String
        let keyID: String
        let secret: [UInt8]
    }

    struct User: Sendable {
        let id: String
        let login: String
        let session: String
    }

    struct Client: @unchecked Sendable {
        let client: any TestClientProtocol
        let harness: APIHarness

        func send(_ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields = [:], body: [UInt8]? = nil) async throws -> Reply {
            try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) }) { response in
                Reply(status: response.status, headers: response.headers, bytes: Array(response.body.readableBytesView))
            }
        }

        func json(_ object: Any) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) }

        func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

        func admin(_ method: HTTPRequest.Method, _ uri: String, _ object: Any? = nil) async throws -> Reply {
            try await send(method, uri, headers: bearer(APIHarness.adminKey), body: object.map(json))
        }

        func auditor(_ method: HTTPRequest.Method, _ uri: String) async throws -> Reply {
            try await send(method, uri, headers: bearer(APIHarness.auditorKey))
        }

        func user(_ user: User, _ method: HTTPRequest.Method, _ uri: String, _ object: Any? = nil) async throws -> Reply {
            try await send(method, uri, headers: bearer(user.session), body: object.map(json))
        }

        /// Headers of a correctly signed vendor request.
        func signedHeaders(
            _ vendor: Vendor, _ method: HTTPRequest.Method, _ uri: String, body: [UInt8], idempotencyKey: String?,
            timestamp: UInt64? = nil, nonce: String? = nil
        ) -> HTTPFields {
            let time = "\(timestamp ?? harness.clock.now() / 1000)"
            let nonce = nonce ?? Hex.encode(SecureRandom.bytes(12))
            let signature = VendorSignature.sign(
                secret: vendor.secret, method: method.rawValue, pathAndQuery: uri, timestamp: time, nonce: nonce, idempotencyKey: idempotencyKey, body: body)
            var headers: HTTPFields = [.tallyKey: vendor.keyID, .tallyTimestamp: time, .tallyNonce: nonce, .tallySignature: signature]
            if let idempotencyKey { headers[.idempotencyKey] = idempotencyKey }
            return headers
        }

        func vendor(
            _ vendor: Vendor, _ method: HTTPRequest.Method, _ uri: String, _ object: Any? = nil, idempotencyKey: String? = nil
        ) async throws -> Reply {
            let body = object.map(json) ?? []
            let key = idempotencyKey ?? (method == .get ? nil : "key-" + Hex.encode(SecureRandom.bytes(8)))
            return try await send(method, uri, headers: signedHeaders(vendor, method, uri, body: body, idempotencyKey: key), body: body.isEmpty ? nil : body)
        }

        func registerVendor(name: String = "Vendor", sites: [String] = ["https://shop.example/"], feeBasisPoints: Int = 500) async throws -> Vendor {
            let reply = try await admin(.post, "/v1/admin/vendors", [
                "name": name, "sites": sites, "feeBasisPoints": feeBasisPoints, "settlement": ["thresholdAmount": 1_000_000],
            ])
            #expect(reply.status == .created, "\(reply.text)")
            return Vendor(id: reply.json["vendor"] as! String, keyID: reply.json["keyId"] as! String, secret: Hex.decode(reply.json["secret"] as! String)!)
        }

        /// Signs up (through `referringVendor`'s link when given), logs in, opens a USD wallet and
        /// funds it by card.
        func fundedUser(_ login: String, amount: Int = 10_000, referringVendor: String? = nil) async throws -> User {
            var body: [String: Any] = [
                "login": login, "password": "correct horse battery", "name": "Name of \(login)", "email": "\(login)@example.org",
            ]
            if let referringVendor { body["referringVendor"] = referringVendor }
            let signup = try await send(.post, "/v1/signup", body: json(body))
            #expect(signup.status == .created, "\(signup.text)")
            let user = try await loginAs(login)
            let wallet = try await self.user(user, .post, "/v1/me/wallets", ["currency": "USD"])
            #expect(wallet.status == .created, "\(wallet.text)")
            if amount > 0 {
                let funds = try await self.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": amount, "method": "card"])
                #expect(funds.status == .created, "\(funds.text)")
            }
            return user
        }

        func loginAs(_ login: String, password: String = "correct horse battery") async throws -> User {
            let reply = try await send(.post, "/v1/login", body: json(["login": login, "password": password]))
            #expect(reply.status == .ok, "\(reply.text)")
            return User(id: reply.json["user"] as! String, login: login, session: reply.json["session"] as! String)
        }

        func purchaseToken(_ user: User) async throws -> String {
            let reply = try await self.user(user, .post, "/v1/me/purchase-token")
            #expect(reply.status == .created, "\(reply.text)")
            return reply.json["purchaseToken"] as! String
        }

        static func inlineContent(
            _ id: String = "article-1", price: Int = 100, url: String = "https://shop.example/a/1", access: [String: Any]? = nil
        ) -> [String: Any] {
            var content: [String: Any] = [
                "content": id, "title": "An article", "price": price, "currency": "USD", "url": url,
                "royalties": [["holder": "author-1", "basisPoints": 1000]],
            ]
            if let access { content["access"] = access }
            return content
        }
    }
}
