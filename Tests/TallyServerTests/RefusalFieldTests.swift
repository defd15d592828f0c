import Foundation
import Hummingbird
import TallyCrypto
import Testing
@testable import TallyServer

@Suite("Ledger refusals name the request field their rule concerns")
struct RefusalFieldTests {
    struct Case {
        let label: String
        let reply: APIHarness.Reply
        let status: HTTPResponse.Status
        let rule: String
        let field: String?
    }

    static func check(_ cases: [Case]) {
        for c in cases {
            #expect(c.reply.status == c.status, "\(c.label): \(c.reply.text)")
            #expect(c.reply.problemType == "ledger/" + c.rule, "\(c.label): \(c.reply.text)")
            #expect(c.reply.json["field"] as? String == c.field, "\(c.label): \(c.reply.text)")
        }
    }

    @Test("user routes: funds, limits and transfers name amount, vendor and toLogin")
    func userRoutes() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("uma")
            let head = harness.api.journal.head
            Self.check([
                Case(label: "funds of 0", reply: try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": 0, "method": "card"]),
                     status: .unprocessableContent, rule: "amount-not-positive", field: "amount"),
                Case(label: "funds over 10^15", reply: try await client.user(user, .post, "/v1/me/funds", ["currency": "USD", "amount": 1_000_000_000_000_001, "method": "card"]),
                     status: .unprocessableContent, rule: "amount-overflow", field: "amount"),
                Case(label: "a limit of 0", reply: try await client.user(user, .post, "/v1/me/limits", ["kind": "perDay", "currency": "USD", "amount": 0]),
                     status: .unprocessableContent, rule: "amount-not-positive", field: "amount"),
                Case(label: "a daily limit naming a vendor", reply: try await client.user(user, .post, "/v1/me/limits", ["kind": "perDay", "currency": "USD", "amount": 5, "vendor": vendor.id]),
                     status: .unprocessableContent, rule: "limit-vendor-not-allowed", field: "vendor"),
                Case(label: "a per-vendor limit of no vendor", reply: try await client.user(user, .post, "/v1/me/limits", ["kind": "perVendorMonth", "currency": "USD", "amount": 5, "vendor": "v_none"]),
                     status: .unprocessableContent, rule: "unknown-vendor", field: "vendor"),
                Case(label: "a transfer to oneself", reply: try await client.user(user, .post, "/v1/me/transfers", ["toLogin": "uma", "currency": "USD", "amount": 1]),
                     status: .unprocessableContent, rule: "self-transfer", field: "toLogin"),
                Case(label: "a dispute of nothing", reply: try await client.user(user, .post, "/v1/me/disputes", ["transaction": "tx-0", "reason": "?"]),
                     status: .notFound, rule: "unknown-transaction", field: "transaction"),
            ])
            #expect(harness.api.journal.head == head)
        }
    }

    @Test("admin routes: credit lines, vendors and incentives name limit, feeBasisPoints, settlement and expiresAtMilliseconds")
    func adminRoutes() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("ada")
            let head = harness.api.journal.head
            let vendor: [String: Any] = ["name": "V", "sites": ["https://v.example/"], "feeBasisPoints": 500, "settlement": ["thresholdAmount": 100]]
            Self.check([
                Case(label: "a negative credit line", reply: try await client.admin(.post, "/v1/admin/credit-lines", ["user": user.id, "currency": "USD", "limit": -1]),
                     status: .unprocessableContent, rule: "credit-limit-negative", field: "limit"),
                Case(label: "a credit line over 10^15", reply: try await client.admin(.post, "/v1/admin/credit-lines", ["user": user.id, "currency": "USD", "limit": 1_000_000_000_000_001]),
                     status: .unprocessableContent, rule: "amount-overflow", field: "limit"),
                Case(label: "a fee over 100 %", reply: try await client.admin(.post, "/v1/admin/vendors", vendor.merging(["feeBasisPoints": 10_001]) { $1 }),
                     status: .unprocessableContent, rule: "invalid-vendor-policy", field: "feeBasisPoints"),
                Case(label: "a period over a year", reply: try await client.admin(.post, "/v1/admin/vendors", vendor.merging(["settlement": ["periodSeconds": 400 * 86_400]]) { $1 }),
                     status: .unprocessableContent, rule: "invalid-vendor-policy", field: "settlement.periodSeconds"),
                Case(label: "a threshold of 0", reply: try await client.admin(.post, "/v1/admin/vendors", vendor.merging(["settlement": ["thresholdAmount": 0]]) { $1 }),
                     status: .unprocessableContent, rule: "amount-not-positive", field: "settlement.thresholdAmount"),
                Case(label: "a threshold in a currency that is none",
                     reply: try await client.admin(.post, "/v1/admin/vendors", vendor.merging(["settlement": ["currencyThresholds": ["USD": 5, "ABC": 5]]]) { $1 }),
                     status: .unprocessableContent, rule: "unknown-currency", field: "settlement.currencyThresholds.ABC"),
                Case(label: "a currency's threshold of 0",
                     reply: try await client.admin(.post, "/v1/admin/vendors", vendor.merging(["settlement": ["currencyThresholds": ["JPY": 0]]]) { $1 }),
                     status: .unprocessableContent, rule: "amount-not-positive", field: "settlement.currencyThresholds.JPY"),
                Case(label: "no currency in currencyThresholds",
                     reply: try await client.admin(.post, "/v1/admin/vendors", vendor.merging(["settlement": ["currencyThresholds": [String: Int](), "periodSeconds": 60]]) { $1 }),
                     status: .unprocessableContent, rule: "invalid-vendor-policy", field: "settlement.currencyThresholds"),
                Case(label: "an incentive expired already", reply: try await client.admin(.post, "/v1/admin/incentives", ["user": user.id, "currency": "USD", "amount": 5, "expiresAtMilliseconds": 1]),
                     status: .unprocessableContent, rule: "expiry-not-in-future", field: "expiresAtMilliseconds"),
            ])
            #expect(harness.api.journal.head == head)

            // Accepted: the vendor's profile and its settlement show each currency's threshold.
            let registered = try await client.admin(.post, "/v1/admin/vendors", vendor.merging(["settlement": ["thresholdAmount": 1_000, "currencyThresholds": ["JPY": 100_000]]]) { $1 })
            #expect(registered.status == .created, "\(registered.text)")
            let shop = APIHarness.Vendor(id: try #require(registered.json["vendor"] as? String), keyID: try #require(registered.json["keyId"] as? String),
                                         secret: Hex.decode(try #require(registered.json["secret"] as? String)) ?? [])
            let profile = try await client.vendor(shop, .get, "/v1/vendor")
            let settlement = try #require(profile.json["settlement"] as? [String: Any], "\(profile.text)")
            #expect(settlement["thresholdAmount"] as? Int == 1_000 && (settlement["currencyThresholds"] as? [String: Int]) == ["JPY": 100_000], "\(profile.text)")

            // Changed by customer service: the profile shows the new terms; refusals name their field and append nothing.
            let updated = try await client.admin(.patch, "/v1/admin/vendors/\(shop.id)", ["name": "V2", "sites": ["https://v2.example/"], "feeBasisPoints": 250,
                                                                                          "settlement": ["periodSeconds": 3_600]])
            #expect(updated.status == .ok && updated.json["sequence"] as? Int == Int(harness.api.journal.head), "\(updated.text)")
            let changed = try await client.vendor(shop, .get, "/v1/vendor")
            #expect(changed.json["name"] as? String == "V2" && changed.json["sites"] as? [String] == ["https://v2.example/"]
                    && changed.json["feeBasisPoints"] as? Int == 250, "\(changed.text)")
            #expect((changed.json["settlement"] as? [String: Any])?["periodSeconds"] as? Int == 3_600)
            let afterUpdate = harness.api.journal.head
            Self.check([
                Case(label: "an update with nothing", reply: try await client.admin(.patch, "/v1/admin/vendors/\(shop.id)", [String: Any]()),
                     status: .unprocessableContent, rule: "invalid-vendor-policy", field: nil),
                Case(label: "an update to an ftp site", reply: try await client.admin(.patch, "/v1/admin/vendors/\(shop.id)", ["sites": ["ftp://x/"]]),
                     status: .unprocessableContent, rule: "invalid-vendor-policy", field: "sites"),
                Case(label: "an update of the fee over 100 %", reply: try await client.admin(.patch, "/v1/admin/vendors/\(shop.id)", ["feeBasisPoints": 10_001]),
                     status: .unprocessableContent, rule: "invalid-vendor-policy", field: "feeBasisPoints"),
            ])
            let noVendor = try await client.admin(.patch, "/v1/admin/vendors/v_none", ["feeBasisPoints": 1])
            #expect(noVendor.status == .notFound && noVendor.problemType == "not-found", "\(noVendor.text)")
            #expect(harness.api.journal.head == afterUpdate)
        }
    }

    @Test("vendor routes: holdSeconds, access terms (under inline when inline), Idempotency-Key; a vendor still never sees the customer's balance")
    func vendorRoutes() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("vic", amount: 50)
            let token = try await client.purchaseToken(user)
            let badAccess = APIHarness.Client.inlineContent("hours-0", price: 10, access: ["hours": 0])
            let first = try await client.vendor(vendor, .post, "/v1/vendor/content", APIHarness.Client.inlineContent("c-1", price: 10), idempotencyKey: "same-key")
            #expect(first.status == .created, "\(first.text)")
            let head = harness.api.journal.head
            Self.check([
                Case(label: "a hold of 0 s", reply: try await client.vendor(vendor, .post, "/v1/vendor/authorizations", [
                    "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 10), "holdSeconds": 0]),
                     status: .unprocessableContent, rule: "hold-timeout-out-of-range", field: "holdSeconds"),
                Case(label: "content with 0 hours", reply: try await client.vendor(vendor, .post, "/v1/vendor/content", badAccess),
                     status: .unprocessableContent, rule: "invalid-access-terms", field: "access.hours"),
                Case(label: "an inline purchase with 0 hours", reply: try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": badAccess]),
                     status: .unprocessableContent, rule: "invalid-access-terms", field: "inline.access.hours"),
                Case(label: "a key reused for another request", reply: try await client.vendor(
                    vendor, .post, "/v1/vendor/content", APIHarness.Client.inlineContent("c-2", price: 10), idempotencyKey: "same-key"),
                     status: .unprocessableContent, rule: "idempotency-conflict", field: "Idempotency-Key"),
                Case(label: "a referral reward of 0", reply: try await client.vendor(vendor, .put, "/v1/vendor/referral-policy", [
                    "currency": "USD", "rewardAmount": 0, "minimumSpend": 1, "confirmationSeconds": 60]),
                     status: .unprocessableContent, rule: "amount-not-positive", field: "rewardAmount"),
            ])
            let poor = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 60)])
            #expect(poor.problemType == "ledger/insufficient-funds")
            #expect(poor.json["headroom"] == nil)
            #expect(poor.json["field"] == nil)
            #expect(!poor.text.contains(user.id))
            #expect(harness.api.journal.head == head)
        }
    }

    @Test("a batch item's refusal names its field under purchases[i]")
    func batchItems() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("bob", amount: 1_000)
            let token = try await client.purchaseToken(user)
            let badAccess = APIHarness.Client.inlineContent("b", price: 10, access: ["views": 0])
            let reply = try await client.vendor(vendor, .post, "/v1/vendor/purchases/batch", ["purchases": [
                ["idempotencyKey": "i-1", "purchaseToken": token, "inline": APIHarness.Client.inlineContent("a", price: 10)],
                ["idempotencyKey": "a key with spaces", "purchaseToken": token, "inline": APIHarness.Client.inlineContent("c", price: 10)],
                ["idempotencyKey": "i-3", "purchaseToken": token, "inline": badAccess],
            ]])
            #expect(reply.status == .ok, "\(reply.text)")
            let problems = try #require(reply.json["results"] as? [[String: Any]]).map { $0["problem"] as? [String: Any] }
            #expect(problems[0] == nil)
            #expect(problems[1]?["field"] as? String == "purchases[1].idempotencyKey", "\(reply.text)")
            #expect(problems[2]?["field"] as? String == "purchases[2].inline.access.views", "\(reply.text)")
        }
    }
}
