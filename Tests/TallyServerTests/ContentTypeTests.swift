import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TallyServer

@Suite("Content-Type of request bodies")
struct ContentTypeTests {
    @Test("a body labelled as anything but JSON is a 415 problem naming Content-Type, and changes nothing")
    func notJSON() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("tina")
            let vendor = try await client.registerVendor()
            let head = harness.api.journal.head
            let funds = client.json(["currency": "USD", "amount": 5, "method": "card"])
            for contentType in ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                "application/jsonx", "application/json-patch+json", "application/problem+json", "json", "",
                                "application/json, text/plain"] {
                var headers = client.bearer(user.session)
                headers[.contentType] = contentType
                let reply = try await client.send(.post, "/v1/me/funds", headers: headers, body: funds)
                #expect(reply.status == .unsupportedMediaType, "\(contentType): \(reply.text)")
                #expect(reply.problemType == "unsupported-media-type", "\(contentType)")
                #expect(reply.json["field"] as? String == "Content-Type", "\(contentType)")
            }
            // A signup sent as a form opens no account (and leaves the login free).
            let signup = client.json(["login": "tess", "password": "correct horse battery", "name": "Tess", "email": "tess@example.org"])
            let form = try await client.send(.post, "/v1/signup", headers: [.contentType: "application/x-www-form-urlencoded"], body: signup)
            #expect(form.status == .unsupportedMediaType)
            // A vendor's signed write, too.
            let uri = "/v1/vendor/referral-policy"
            let policy = client.json(["currency": "USD", "rewardAmount": 100, "minimumSpend": 500, "confirmationSeconds": 60])
            var signed = client.signedHeaders(vendor, .put, uri, body: policy, idempotencyKey: "ct-1")
            signed[.contentType] = "text/plain"
            let vendorReply = try await client.send(.put, uri, headers: signed, body: policy)
            #expect(vendorReply.status == .unsupportedMediaType, "\(vendorReply.text)")
            #expect(harness.api.journal.head == head)
            #expect(try await client.send(.post, "/v1/signup", body: signup).status == .created, "the login is still free")
        }
    }

    @Test("JSON with parameters or in any case, and a body with no Content-Type, are accepted")
    func json() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("jack")
            let funds = client.json(["currency": "USD", "amount": 5, "method": "card"])
            for contentType in ["application/json", "application/json; charset=utf-8", "Application/JSON", " application/json ;charset=UTF-8", nil] {
                var headers = client.bearer(user.session)
                if let contentType { headers[.contentType] = contentType }
                let reply = try await client.send(.post, "/v1/me/funds", headers: headers, body: funds)
                #expect(reply.status == .created, "\(contentType ?? "none"): \(reply.text)")
            }
            // A label on an empty body is not read: the route goes on to its own answer.
            let empty = try await client.send(
                .post, "/v1/admin/funds/f_none/clear", headers: [.authorization: "Bearer \(APIHarness.adminKey)", .contentType: "text/plain"])
            #expect(empty.status == .notFound, "\(empty.text)")
            #expect(empty.problemType == "ledger/unknown-funding")
        }
    }
}
