import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TallyServer

@Suite("Methods: 405 with Allow for a known path, HEAD wherever GET is")
struct HTTPMethodTests {
    @Test("a known path asked with a method it does not take is a 405 problem listing the path's methods, and changes nothing")
    func wrongMethod() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("mona")
            let head = harness.api.journal.head
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.put, "/v1/me/funds", "GET, HEAD, POST"),
                (.delete, "/v1/me/funds", "GET, HEAD, POST"),
                (.delete, "/v1/admin/disputes", "GET, HEAD"),
                (.post, "/health", "GET, HEAD"),
                (.put, "/v1/me", "GET, HEAD, PATCH"),
                (.delete, "/v1/me/wallets", "GET, HEAD, POST"),
                (.get, "/v1/me/members/m_0123", "DELETE"),
                (.get, "/v1/vendor/purchases/batch", "POST"),
                (.delete, "/v1/vendor/purchases/tx-1", "GET, HEAD"),
                (.get, "/v1/vendor/purchases/tx-1/refund", "POST"),
                (.post, "/v1/vendor/referral-policy", "PUT"),
                (.patch, "/v1/admin/disputes/d_1/resolve", "POST"),
            ]
            for (method, path, allowed) in cases {
                let reply = try await client.user(user, method, path, ["currency": "USD", "amount": 5, "method": "card"])
                #expect(reply.status == .methodNotAllowed, "\(method) \(path): \(reply.text)")
                #expect(reply.problemType == "method-not-allowed", "\(method) \(path)")
                #expect(reply.headers[.contentType] == "application/problem+json", "\(method) \(path)")
                #expect(reply.headers[.allow] == allowed, "\(method) \(path)")
            }
            #expect(harness.api.journal.head == head)
            let unknown = try await client.send(.get, "/v1/me/nothing-here")
            #expect(unknown.status == .notFound)
            #expect(unknown.problemType == "not-found")
            #expect(unknown.headers[.allow] == nil)
        }
    }

    @Test("HEAD answers as GET would, with its status and headers and no body")
    func head() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("hugo")
            for (path, headers) in [("/health", HTTPFields()), ("/ready", [:]), ("/v1/me/wallets", client.bearer(user.session)),
                                    ("/v1/me", client.bearer(user.session)), ("/v1/me/wallets", [:])] {
                let get = try await client.send(.get, path, headers: headers)
                let head = try await client.send(.head, path, headers: headers)
                #expect(head.status == get.status, "HEAD \(path)")
                #expect(head.headers[.contentType] == get.headers[.contentType], "HEAD \(path)")
                #expect(head.bytes.isEmpty, "HEAD \(path)")
            }
            let unknown = try await client.send(.head, "/nothing-here")
            #expect(unknown.status == .notFound)
        }
    }
}
