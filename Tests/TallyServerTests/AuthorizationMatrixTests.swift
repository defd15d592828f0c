import Foundation
import Hummingbird
import Journal
import Testing
@testable import TallyServer

/// Every endpoint × {vendor A, vendor B, user X, user Y, customer service, auditor, a rights
/// holder, anonymous}:
/// only the kind of caller an endpoint is for gets past authentication, nobody else's request
/// appends anything, and nobody reads or writes what belongs to someone else.
@Suite("Authorization matrix")
struct AuthorizationMatrixTests {
    enum Role: String, CaseIterable { case vendor, user, admin, auditor, holder, anonymous }
    enum Caller: String, CaseIterable { case vendorA, vendorB, userX, userY, admin, auditor, holder, anonymous
        var role: Role {
            switch self {
            case .vendorA, .vendorB: return .vendor
            case .userX, .userY: return .user
            case .admin: return .admin
            case .auditor: return .auditor
            case .holder: return .holder
            case .anonymous: return .anonymous
            }
        }
    }

    struct Endpoint {
        let method: HTTPRequest.Method
        let path: String
        let role: Role
    }

    @Test("only the intended kind of caller passes authentication on every endpoint; refusals append nothing")
    func matrix() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendorA = try await client.registerVendor(name: "A", sites: ["https://a.example/"])
            let vendorB = try await client.registerVendor(name: "B", sites: ["https://b.example/"])
            let userX = try await client.fundedUser("user-x", amount: 1_000)
            let userY = try await client.fundedUser("user-y", amount: 1_000)
            let token = try await client.purchaseToken(userX)
            let bought = try await client.vendor(vendorA, .post, "/v1/vendor/purchases", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 10, url: "https://a.example/1"),
            ])
            let transaction = try #require(bought.json["transaction"] as? String)
            // The purchase credited author-1 a royalty; author-1 reads with a key of its own.
            let issued = try await client.admin(.post, "/v1/admin/holders/author-1/keys")
            let holderToken = try #require(issued.json["token"] as? String, "\(issued.text)")

            let endpoints: [Endpoint] = [
                .init(method: .get, path: "/v1/vendor", role: .vendor),
                .init(method: .post, path: "/v1/vendor/content", role: .vendor),
                .init(method: .post, path: "/v1/vendor/purchases", role: .vendor),
                .init(method: .post, path: "/v1/vendor/purchases/batch", role: .vendor),
                .init(method: .get, path: "/v1/vendor/purchases/\(transaction)", role: .vendor),
                .init(method: .get, path: "/v1/vendor/purchases?reference=order-1", role: .vendor),
                // Another transaction: vendor A's refund of this one would take its access away below.
                .init(method: .post, path: "/v1/vendor/purchases/tx-none/refund", role: .vendor),
                .init(method: .post, path: "/v1/vendor/authorizations", role: .vendor),
                .init(method: .post, path: "/v1/vendor/authorizations/\(transaction)/capture", role: .vendor),
                .init(method: .post, path: "/v1/vendor/authorizations/\(transaction)/void", role: .vendor),
                .init(method: .post, path: "/v1/vendor/incentives", role: .vendor),
                .init(method: .put, path: "/v1/vendor/referral-policy", role: .vendor),
                .init(method: .get, path: "/v1/vendor/access-grants/ag_x", role: .vendor),
                .init(method: .get, path: "/v1/vendor/settlement", role: .vendor),
                .init(method: .get, path: "/v1/vendor/history", role: .vendor),
                .init(method: .get, path: "/v1/vendor/keys", role: .vendor),
                .init(method: .get, path: "/v1/vendor/feed?limit=0", role: .vendor),
                .init(method: .get, path: "/v1/vendor/disputes", role: .vendor),
                .init(method: .get, path: "/v1/me", role: .user),
                .init(method: .get, path: "/v1/me/wallets", role: .user),
                .init(method: .post, path: "/v1/me/wallets", role: .user),
                .init(method: .post, path: "/v1/me/funds", role: .user),
                .init(method: .get, path: "/v1/me/funds", role: .user),
                .init(method: .get, path: "/v1/me/purchases", role: .user),
                .init(method: .post, path: "/v1/me/purchases/\(transaction)/access", role: .user),
                .init(method: .get, path: "/v1/me/history/USD", role: .user),
                .init(method: .get, path: "/v1/me/balances/USD", role: .user),
                .init(method: .post, path: "/v1/me/limits", role: .user),
                .init(method: .post, path: "/v1/me/limits/remove", role: .user),
                .init(method: .post, path: "/v1/me/transfers", role: .user),
                .init(method: .post, path: "/v1/me/disputes", role: .user),
                .init(method: .get, path: "/v1/me/disputes", role: .user),
                .init(method: .get, path: "/v1/me/payouts", role: .user),
                .init(method: .post, path: "/v1/me/payout-requests", role: .user),
                .init(method: .get, path: "/v1/me/payout-requests", role: .user),
                .init(method: .patch, path: "/v1/me", role: .user),
                .init(method: .post, path: "/v1/me/members", role: .user),
                .init(method: .delete, path: "/v1/me/members/m_none", role: .user),
                .init(method: .post, path: "/v1/me/purchase-token", role: .user),
                .init(method: .post, path: "/v1/me/password", role: .user),
                .init(method: .post, path: "/v1/admin/accounts", role: .admin),
                .init(method: .get, path: "/v1/admin/accounts?login=x", role: .admin),
                .init(method: .post, path: "/v1/admin/vendors", role: .admin),
                .init(method: .post, path: "/v1/admin/password-resets", role: .admin),
                .init(method: .post, path: "/v1/admin/users/u_none/erase", role: .admin),
                .init(method: .patch, path: "/v1/admin/users/u_none", role: .admin),
                .init(method: .patch, path: "/v1/admin/vendors/\(vendorB.id)", role: .admin),
                .init(method: .post, path: "/v1/admin/vendors/\(vendorA.id)/keys", role: .admin),
                .init(method: .get, path: "/v1/admin/vendors/\(vendorA.id)/keys", role: .admin),
                .init(method: .delete, path: "/v1/admin/vendors/\(vendorA.id)/keys/vk_none", role: .admin),
                .init(method: .get, path: "/v1/admin/vendors/\(vendorA.id)/settlement", role: .admin),
                .init(method: .post, path: "/v1/admin/credit-lines", role: .admin),
                .init(method: .post, path: "/v1/admin/funds", role: .admin),
                .init(method: .get, path: "/v1/admin/funds", role: .admin),
                .init(method: .get, path: "/v1/admin/funds/f_none", role: .admin),
                .init(method: .post, path: "/v1/admin/funds/f_none/clear", role: .admin),
                .init(method: .post, path: "/v1/admin/funds/f_none/fail", role: .admin),
                .init(method: .post, path: "/v1/admin/payouts", role: .admin),
                .init(method: .get, path: "/v1/admin/people?email=x%40example.com", role: .admin),
                .init(method: .get, path: "/v1/admin/payouts/p_none", role: .admin),
                .init(method: .get, path: "/v1/admin/payout-requests", role: .admin),
                .init(method: .get, path: "/v1/admin/payout-requests/p_none", role: .admin),
                .init(method: .post, path: "/v1/admin/payout-requests/p_none/pay", role: .admin),
                .init(method: .post, path: "/v1/admin/payout-requests/p_none/decline", role: .admin),
                .init(method: .get, path: "/v1/admin/users/\(userX.id)/payout-requests", role: .admin),
                .init(method: .post, path: "/v1/admin/incentives", role: .admin),
                .init(method: .post, path: "/v1/admin/incentives/lot_none/expire", role: .admin),
                .init(method: .post, path: "/v1/admin/holds/\(transaction)/expire", role: .admin),
                .init(method: .post, path: "/v1/admin/referrals/\(userX.id)/reward", role: .admin),
                .init(method: .get, path: "/v1/admin/disputes", role: .admin),
                .init(method: .get, path: "/v1/admin/disputes/d_none", role: .admin),
                .init(method: .post, path: "/v1/admin/disputes/d_none/resolve", role: .admin),
                .init(method: .post, path: "/v1/admin/settlements", role: .admin),
                .init(method: .get, path: "/v1/admin/users/\(userX.id)/wallets", role: .admin),
                .init(method: .get, path: "/v1/admin/users/\(userX.id)/purchases", role: .admin),
                .init(method: .get, path: "/v1/admin/users/\(userX.id)/funds", role: .admin),
                .init(method: .get, path: "/v1/admin/users/\(userX.id)/disputes", role: .admin),
                .init(method: .get, path: "/v1/admin/users/\(userX.id)/payouts", role: .admin),
                .init(method: .get, path: "/v1/admin/holders/author-1/royalties", role: .admin),
                .init(method: .post, path: "/v1/admin/holders/author-2/keys", role: .admin),
                .init(method: .get, path: "/v1/admin/holders/author-1/keys", role: .admin),
                .init(method: .delete, path: "/v1/admin/holders/author-1/keys/hkid_none", role: .admin),
                .init(method: .get, path: "/v1/holder/royalties", role: .holder),
                .init(method: .get, path: "/v1/holder/payouts", role: .holder),
                .init(method: .post, path: "/v1/admin/holders/author-1/payouts", role: .admin),
                .init(method: .get, path: "/v1/admin/holders/author-1/payouts", role: .admin),
                .init(method: .get, path: "/v1/audit/head", role: .auditor),
                .init(method: .get, path: "/v1/audit/events", role: .auditor),
                .init(method: .get, path: "/v1/audit/blocks/1", role: .auditor),
                .init(method: .get, path: "/v1/audit/keys", role: .auditor),
                .init(method: .get, path: "/v1/audit/receipts/1", role: .auditor),
                .init(method: .get, path: "/v1/audit/feed?limit=1&from=1", role: .auditor),
            ]
            // The body each request carries: valid-looking but harmless for the wrong callers;
            // for the intended caller it may still be refused by a rule, which is fine here.
            let emptyObject: [String: Any] = [:]
            for endpoint in endpoints {
                for caller in Caller.allCases {
                    let head = harness.api.journal.head
                    let body: [String: Any]? = endpoint.method == .get || endpoint.method == .delete ? nil : emptyObject
                    let reply: APIHarness.Reply
                    switch caller {
                    case .vendorA: reply = try await client.vendor(vendorA, endpoint.method, endpoint.path, body)
                    case .vendorB: reply = try await client.vendor(vendorB, endpoint.method, endpoint.path, body)
                    case .userX: reply = try await client.user(userX, endpoint.method, endpoint.path, body)
                    case .userY: reply = try await client.user(userY, endpoint.method, endpoint.path, body)
                    case .admin: reply = try await client.admin(endpoint.method, endpoint.path, body)
                    case .auditor: reply = try await client.auditor(endpoint.method, endpoint.path)
                    case .holder: reply = try await client.send(endpoint.method, endpoint.path, headers: client.bearer(holderToken), body: body.map(client.json))
                    case .anonymous: reply = try await client.send(endpoint.method, endpoint.path, body: body.map(client.json))
                    }
                    let label = "\(endpoint.method) \(endpoint.path) as \(caller): \(reply.status.code) \(reply.text.prefix(200))"
                    if caller.role == endpoint.role {
                        #expect(reply.status != .unauthorized && reply.status != .forbidden || endpoint.path.hasSuffix("/access") && caller == .userY, "\(label)")
                    } else {
                        #expect(reply.status == .unauthorized || reply.status == .forbidden, "\(label)")
                        #expect(reply.headers[.contentType] == "application/problem+json", "\(label)")
                        #expect(harness.api.journal.head == head, "refused, yet appended: \(label)")
                    }
                }
            }

            // Ownership: vendor B cannot see or capture vendor A's purchase; user Y cannot open
            // user X's content; nobody's reads show anyone else's data.
            #expect(try await client.vendor(vendorB, .get, "/v1/vendor/purchases/\(transaction)").status == .notFound)
            let capture = try await client.vendor(vendorB, .post, "/v1/vendor/authorizations/\(transaction)/capture")
            #expect(capture.status != .ok && capture.status != .created)
            let head = harness.api.journal.head
            #expect(try await client.vendor(vendorB, .post, "/v1/vendor/purchases/\(transaction)/refund", ["reason": "not mine"]).status == .notFound)
            #expect(harness.api.journal.head == head)
            #expect(try await client.user(userY, .post, "/v1/me/purchases/\(transaction)/access").status == .notFound)
            let grant = try await client.user(userX, .post, "/v1/me/purchases/\(transaction)/access")
            #expect(grant.status == .created, "\(grant.text)")
            let grantID = try #require(grant.json["grant"] as? String)
            #expect(try await client.vendor(vendorA, .get, "/v1/vendor/access-grants/\(grantID)").status == .ok)
            #expect(try await client.vendor(vendorB, .get, "/v1/vendor/access-grants/\(grantID)").status == .notFound)
            let purchasesY = try await client.user(userY, .get, "/v1/me/purchases")
            #expect(!purchasesY.text.contains(transaction))
            // Feeds: each vendor follows only its own events, customers by pseudonym.
            let feedA = try await client.vendor(vendorA, .get, "/v1/vendor/feed?from=1&limit=2")
            #expect(feedA.headers[.contentType] == "text/event-stream")
            #expect(feedA.text.contains("event: VendorRegistered") && feedA.text.contains("event: PurchaseCaptured"))
            #expect(!feedA.text.contains(userX.id) && !feedA.text.contains("wallet:"))
            let feedB = try await client.vendor(vendorB, .get, "/v1/vendor/feed?from=1&limit=1")
            #expect(feedB.text.contains("event: VendorRegistered") && !feedB.text.contains(transaction))
            let audit = try await client.auditor(.get, "/v1/audit/feed?from=1&limit=3")
            #expect(audit.text.components(separatedBy: "\nid: ").count == 3)
        }
    }
}
