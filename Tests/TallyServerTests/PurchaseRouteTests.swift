import Foundation
import Hummingbird
import Journal
import TallyCrypto
import Testing
@testable import TallyServer

@Suite("Vendor purchase routes")
struct PurchaseRouteTests {
    @Test("a one-step purchase posts price, fee and royalty; the vendor sees only a pseudonym; the user's summary and wallet show it")
    func oneStepPurchase() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("alice", amount: 1_000)
            let token = try await client.purchaseToken(user)
            let reply = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 200),
            ])
            #expect(reply.status == .created, "\(reply.text)")
            let body = reply.json
            #expect(body["amount"] as? Int == 200)
            #expect(body["fee"] as? Int == 10)
            #expect(body["vendorNet"] as? Int == 170)
            #expect(body["status"] as? String == "captured")
            let customer = try #require(body["customer"] as? String)
            #expect(customer.hasPrefix("p_"))
            #expect(!reply.text.contains(user.id), "the vendor must never see the user's ID")
            let sequence = try #require(reply.headers[.tallySequence])
            let wallets = try await client.user(user, .get, "/v1/me/wallets?minSequence=\(sequence)")
            #expect(wallets.status == .ok, "\(wallets.text)")
            let data = wallets.json["data"] as? [String: Any]
            let usd = (data?["wallets"] as? [[String: Any]])?.first
            #expect(usd?["balance"] as? Int == 800)
            let purchases = try await client.user(user, .get, "/v1/me/purchases?minSequence=\(sequence)")
            let list = (purchases.json["data"] as? [String: Any])?["purchases"] as? [[String: Any]]
            #expect(list?.count == 1)
            #expect(list?.first?["transaction"] as? String == body["transaction"] as? String)
            // The same customer at the same vendor keeps one pseudonym; another vendor sees another.
            let again = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent("article-2", price: 1)])
            #expect(again.json["customer"] as? String == customer)
            let other = try await client.registerVendor(name: "Other", sites: ["https://other.example/"])
            let elsewhere = try await client.vendor(other, .post, "/v1/vendor/purchases", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 1, url: "https://other.example/x"),
            ])
            #expect(elsewhere.status == .created, "\(elsewhere.text)")
            #expect(elsewhere.json["customer"] as? String != customer)
            // The summary pages newest first.
            let head = harness.api.journal.head
            let first = try await client.user(user, .get, "/v1/me/purchases?limit=2&minSequence=\(head)")
            let firstData = try #require(first.json["data"] as? [String: Any])
            let firstPage = try #require(firstData["purchases"] as? [[String: Any]])
            #expect(firstPage.map { $0["content"] as? String } == ["article-1", "article-2"])
            let before = try #require(firstData["nextBefore"] as? Int)
            let second = try await client.user(user, .get, "/v1/me/purchases?limit=2&before=\(before)")
            let secondData = try #require(second.json["data"] as? [String: Any])
            #expect((secondData["purchases"] as? [[String: Any]])?.map { $0["content"] as? String } == ["article-1"])
            #expect(secondData["nextBefore"] == nil)
        }
    }

    @Test("authorize holds funds; capture pays once; a second capture and a capture after void are refused")
    func authorizeCaptureVoid() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("bob", amount: 500)
            let token = try await client.purchaseToken(user)
            let held = try await client.vendor(vendor, .post, "/v1/vendor/authorizations", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 300), "holdSeconds": 600,
            ])
            #expect(held.status == .created, "\(held.text)")
            #expect(held.json["status"] as? String == "held")
            let transaction = try #require(held.json["transaction"] as? String)
            let captured = try await client.vendor(vendor, .post, "/v1/vendor/authorizations/\(transaction)/capture")
            #expect(captured.status == .ok, "\(captured.text)")
            #expect(captured.json["status"] as? String == "captured")
            let twice = try await client.vendor(vendor, .post, "/v1/vendor/authorizations/\(transaction)/capture")
            #expect(twice.status == .unprocessableContent)
            #expect(twice.problemType == "ledger/transaction-not-held")

            let second = try await client.vendor(vendor, .post, "/v1/vendor/authorizations", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent("article-2", price: 100), "holdSeconds": 600,
            ])
            let other = try #require(second.json["transaction"] as? String)
            let voided = try await client.vendor(vendor, .post, "/v1/vendor/authorizations/\(other)/void")
            #expect(voided.status == .ok, "\(voided.text)")
            #expect(voided.json["status"] as? String == "voided")
            let late = try await client.vendor(vendor, .post, "/v1/vendor/authorizations/\(other)/capture")
            #expect(late.status == .unprocessableContent)
            // Another vendor cannot capture or even see this vendor's transaction.
            let intruder = try await client.registerVendor(name: "Intruder", sites: ["https://intruder.example/"])
            let peek = try await client.vendor(intruder, .get, "/v1/vendor/purchases/\(transaction)")
            #expect(peek.status == .notFound)
        }
    }

    @Test("insufficient funds, a URL outside the vendor's sites, a negative price and an unknown currency are refused and append nothing")
    func refusals() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("carol", amount: 50)
            let token = try await client.purchaseToken(user)
            let head = harness.api.journal.head
            let poor = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 51)])
            #expect(poor.status == .unprocessableContent)
            #expect(poor.problemType == "ledger/insufficient-funds")
            let outside = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 1, url: "https://evil.example/a"),
            ])
            #expect(outside.problemType == "ledger/url-outside-vendor-sites")
            let negative = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: -5)])
            #expect(negative.problemType == "ledger/amount-not-positive")
            var strange = APIHarness.Client.inlineContent(price: 5)
            strange["currency"] = "XXX"
            let currency = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": strange])
            #expect(currency.status == .badRequest)
            #expect(currency.json["field"] as? String == "inline.currency")
            let neither = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token])
            #expect(neither.status == .badRequest)
            #expect(neither.json["field"] as? String == "content")
            #expect(harness.api.journal.head == head, "a refused purchase appends nothing")
        }
    }

    @Test("opening purchased content gives an access grant per view bought; the summary counts them down; then it is refused")
    func accessGrants() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("liz", amount: 100)
            let token = try await client.purchaseToken(user)
            var content = APIHarness.Client.inlineContent(price: 10)
            content["access"] = ["views": 2]
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": content])
            let transaction = try #require(bought.json["transaction"] as? String)
            for _ in 0..<2 {
                let grant = try await client.user(user, .post, "/v1/me/purchases/\(transaction)/access")
                #expect(grant.status == .created, "\(grant.text)")
                let check = try await client.vendor(vendor, .get, "/v1/vendor/access-grants/\(grant.json["grant"] as! String)")
                #expect(check.status == .ok)
                #expect(check.json["customer"] as? String == bought.json["customer"] as? String)
            }
            let used = try await client.user(user, .post, "/v1/me/purchases/\(transaction)/access")
            #expect(used.status == .unprocessableContent)
            #expect(used.problemType == "ledger/entitlement-exhausted")
            let head = harness.api.journal.head
            let summary = try await client.user(user, .get, "/v1/me/purchases?minSequence=\(head)")
            let purchase = ((summary.json["data"] as? [String: Any])?["purchases"] as? [[String: Any]])?.first
            #expect((purchase?["remaining"] as? [String: Any])?["views"] as? Int == 0)
        }
    }

    @Test("an access grant stops opening the content once its purchase is refunded")
    func grantAfterRefund() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("lou", amount: 100)
            let token = try await client.purchaseToken(user)
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 10)])
            let transaction = try #require(bought.json["transaction"] as? String)
            let grant = try #require(try await client.user(user, .post, "/v1/me/purchases/\(transaction)/access").json["grant"] as? String)
            #expect(try await client.vendor(vendor, .get, "/v1/vendor/access-grants/\(grant)").status == .ok)
            let dispute = try await client.user(user, .post, "/v1/me/disputes", ["transaction": transaction, "reason": "never delivered"])
            #expect(dispute.status == .created, "\(dispute.text)")
            #expect(try await client.vendor(vendor, .get, "/v1/vendor/access-grants/\(grant)").status == .ok, "disputed, it still stands")
            let id = try #require(dispute.json["dispute"] as? String)
            let resolved = try await client.admin(.post, "/v1/admin/disputes/\(id)/resolve", ["refund": true, "representative": "rep-1"])
            #expect(resolved.status == .ok, "\(resolved.text)")
            let revoked = try await client.vendor(vendor, .get, "/v1/vendor/access-grants/\(grant)")
            #expect(revoked.status == .gone)
            #expect(revoked.problemType == "access-grant-revoked")
        }
    }

    /// A vendor, a user with 1,000 who bought content at 200 from it, and the access grant the user opened.
    static func soldWithGrant(_ client: APIHarness.Client, to name: String)
        async throws -> (vendor: APIHarness.Vendor, user: APIHarness.User, transaction: String, grant: String)
    {
        let vendor = try await client.registerVendor()
        let user = try await client.fundedUser(name, amount: 1_000)
        let token = try await client.purchaseToken(user)
        let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 200)])
        let transaction = try #require(bought.json["transaction"] as? String)
        let grant = try #require(try await client.user(user, .post, "/v1/me/purchases/\(transaction)/access").json["grant"] as? String)
        return (vendor, user, transaction, grant)
    }

    @Test("a vendor refunds a captured purchase: the price goes back, the grant stops, a retry is the first answer, a second refund is refused")
    func vendorRefund() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let (vendor, user, transaction, grant) = try await Self.soldWithGrant(client, to: "rae")
            let path = "/v1/vendor/purchases/\(transaction)/refund"

            // Refused, appending nothing: an unknown field, a reason that is not a string, a reason too long, no key.
            let head = harness.api.journal.head
            let unknownField = try await client.vendor(vendor, .post, path, ["reason": "x", "balance": 50])
            #expect(unknownField.status == .badRequest, "\(unknownField.text)")
            let wrongType = try await client.vendor(vendor, .post, path, ["reason": 7])
            #expect(wrongType.status == .badRequest, "\(wrongType.text)")
            #expect(wrongType.json["field"] as? String == "reason")
            let tooLong = try await client.vendor(vendor, .post, path, ["reason": String(repeating: "x", count: 1_001)])
            #expect(tooLong.status == .unprocessableContent, "\(tooLong.text)")
            #expect(tooLong.problemType == "ledger/invalid-text")
            let reason = ["reason": "the file was corrupt"]
            let body = client.json(reason)
            let keyless = try await client.send(.post, path, headers: client.signedHeaders(vendor, .post, path, body: body, idempotencyKey: nil), body: body)
            #expect(keyless.status == .badRequest, "\(keyless.text)")
            #expect(harness.api.journal.head == head)

            let refunded = try await client.vendor(vendor, .post, path, reason, idempotencyKey: "refund-1")
            #expect(refunded.status == .ok, "\(refunded.text)")
            #expect(refunded.json["status"] as? String == "refunded")
            #expect(refunded.json["amount"] as? Int == 200)
            #expect(refunded.json["refunded"] as? Int == 200)
            #expect(refunded.json["vendorNet"] as? Int == 170)
            #expect(refunded.json["transaction"] as? String == transaction)
            #expect(!refunded.text.contains(user.id), "the vendor must never see the user's ID")
            let retry = try await client.vendor(vendor, .post, path, reason, idempotencyKey: "refund-1")
            #expect(retry.status == .ok)
            #expect(retry.text == refunded.text)
            #expect(retry.headers[.idempotentReplay] == "true")
            let conflict = try await client.vendor(vendor, .post, path, ["reason": "other"], idempotencyKey: "refund-1")
            #expect(conflict.status == .unprocessableContent, "\(conflict.text)")
            let twice = try await client.vendor(vendor, .post, path, ["reason": "again"])
            #expect(twice.status == .unprocessableContent)
            #expect(twice.problemType == "ledger/transaction-not-captured")
            #expect(twice.json["field"] as? String == "transaction")

            let sequence = try #require(refunded.headers[.tallySequence])
            let wallets = try await client.user(user, .get, "/v1/me/wallets?minSequence=\(sequence)")
            let usd = ((wallets.json["data"] as? [String: Any])?["wallets"] as? [[String: Any]])?.first
            #expect(usd?["balance"] as? Int == 1_000)
            let purchases = try await client.user(user, .get, "/v1/me/purchases?minSequence=\(sequence)")
            let list = (purchases.json["data"] as? [String: Any])?["purchases"] as? [[String: Any]]
            #expect(list?.first?["status"] as? String == "refunded")
            let revoked = try await client.vendor(vendor, .get, "/v1/vendor/access-grants/\(grant)")
            #expect(revoked.status == .gone)
            // The user cannot dispute what was refunded.
            let dispute = try await client.user(user, .post, "/v1/me/disputes", ["transaction": transaction, "reason": "late"])
            #expect(dispute.problemType == "ledger/transaction-not-captured")
        }
    }

    @Test("a vendor refunds part of a purchase: the answer says what went back in all, a retry is the first answer, more than is still paid is refused with the headroom")
    func partialVendorRefund() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let (vendor, user, transaction, grant) = try await Self.soldWithGrant(client, to: "ria")
            let path = "/v1/vendor/purchases/\(transaction)/refund"

            // Refused, appending nothing: an amount of the wrong type, zero, negative, above the price.
            let head = harness.api.journal.head
            let text = try await client.vendor(vendor, .post, path, ["amount": "50"])
            #expect(text.status == .badRequest && text.json["field"] as? String == "amount", "\(text.text)")
            let fraction = try await client.vendor(vendor, .post, path, ["amount": 1.5])
            #expect(fraction.status == .badRequest, "\(fraction.text)")
            for amount in [0, -1] {
                let refused = try await client.vendor(vendor, .post, path, ["amount": amount])
                #expect(refused.problemType == "ledger/amount-not-positive" && refused.json["field"] as? String == "amount", "\(refused.text)")
            }
            let above = try await client.vendor(vendor, .post, path, ["amount": 201])
            #expect(above.status == .unprocessableContent, "\(above.text)")
            #expect(above.problemType == "ledger/refund-exceeds-purchase")
            #expect(above.json["field"] as? String == "amount" && above.json["headroom"] as? Int == 200)
            #expect(harness.api.journal.head == head)

            let part = try await client.vendor(vendor, .post, path, ["amount": 50, "reason": "late"], idempotencyKey: "part-1")
            #expect(part.status == .ok, "\(part.text)")
            #expect(part.json["status"] as? String == "captured")
            #expect(part.json["amount"] as? Int == 200 && part.json["refunded"] as? Int == 50)
            let status = try await client.vendor(vendor, .get, "/v1/vendor/purchases/\(transaction)")
            #expect(status.json["status"] as? String == "captured" && status.json["refunded"] as? Int == 50, "\(status.text)")
            // The grant still opens the content.
            let open = try await client.vendor(vendor, .get, "/v1/vendor/access-grants/\(grant)")
            #expect(open.status == .ok, "\(open.text)")

            let more = try await client.vendor(vendor, .post, path, ["amount": 151])
            #expect(more.problemType == "ledger/refund-exceeds-purchase" && more.json["headroom"] as? Int == 150, "\(more.text)")
            let rest = try await client.vendor(vendor, .post, path, ["reason": "the rest"])
            #expect(rest.json["status"] as? String == "refunded" && rest.json["refunded"] as? Int == 200, "\(rest.text)")
            // The first answer again, byte for byte, though the purchase has moved on since.
            let retry = try await client.vendor(vendor, .post, path, ["amount": 50, "reason": "late"], idempotencyKey: "part-1")
            #expect(retry.text == part.text && retry.headers[.idempotentReplay] == "true")

            let sequence = try #require(rest.headers[.tallySequence])
            let wallets = try await client.user(user, .get, "/v1/me/wallets?minSequence=\(sequence)")
            let usd = ((wallets.json["data"] as? [String: Any])?["wallets"] as? [[String: Any]])?.first
            #expect(usd?["balance"] as? Int == 1_000)
        }
    }

    @Test("a dispute after a partial refund disputes what is still paid: the user's, the vendor's and customer service's views, the refund")
    func disputeAfterPartialRefund() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let (vendor, user, transaction, _) = try await Self.soldWithGrant(client, to: "dora")
            let part = try await client.vendor(vendor, .post, "/v1/vendor/purchases/\(transaction)/refund", ["amount": 50], idempotencyKey: "part")
            #expect(part.status == .ok, "\(part.text)")
            let opened = try await client.user(user, .post, "/v1/me/disputes", ["transaction": transaction, "reason": "broken"])
            #expect(opened.status == .created, "\(opened.text)")
            #expect(opened.json["disputed"] as? Int == 150, "\(opened.text)")
            let id = try #require(opened.json["dispute"] as? String)
            let sequence = try #require(opened.json["sequence"] as? Int)

            let mine = try await client.user(user, .get, "/v1/me/disputes?minSequence=\(sequence)")
            let listed = ((mine.json["data"] as? [String: Any])?["disputes"] as? [[String: Any]])?.first
            #expect(listed?["price"] as? Int == 200 && listed?["disputed"] as? Int == 150, "\(mine.text)")
            let theirs = try await client.vendor(vendor, .get, "/v1/vendor/disputes?minSequence=\(sequence)")
            let seen = ((theirs.json["data"] as? [String: Any])?["disputes"] as? [[String: Any]])?.first
            #expect(seen?["price"] as? Int == 200 && seen?["disputed"] as? Int == 150, "\(theirs.text)")
            // The vendor's feed shows the dispute, what it disputes, and not the buyer's words.
            let feed = try await client.vendor(vendor, .get, "/v1/vendor/feed?from=\(sequence)&limit=1")
            #expect(feed.text.contains("DisputeOpened") && feed.text.contains(#""disputed":150"#), "\(feed.text)")
            #expect(!feed.text.contains("broken") && !feed.text.contains(user.id), "\(feed.text)")
            let queued = try await client.admin(.get, "/v1/admin/disputes/\(id)?minSequence=\(sequence)")
            #expect((queued.json["data"] as? [String: Any])?["disputed"] as? Int == 150, "\(queued.text)")

            let resolved = try await client.admin(.post, "/v1/admin/disputes/\(id)/resolve", ["refund": true, "representative": "rep-1"])
            #expect(resolved.status == .ok, "\(resolved.text)")
            #expect(resolved.json["disputed"] as? Int == 150 && resolved.json["refunded"] as? Int == 150, "\(resolved.text)")
            let after = try #require(resolved.json["sequence"] as? Int)
            let wallets = try await client.user(user, .get, "/v1/me/wallets?minSequence=\(after)")
            let usd = ((wallets.json["data"] as? [String: Any])?["wallets"] as? [[String: Any]])?.first
            #expect(usd?["balance"] as? Int == 1_000, "\(wallets.text)")
        }
    }

    @Test("a vendor finds its purchases by its reference: newest first, paged, each as it stands, never another vendor's; a bad reference is refused")
    func purchasesByReference() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendorA = try await client.registerVendor()
            let vendorB = try await client.registerVendor(name: "B", sites: ["https://b.example/"])
            let user = try await client.fundedUser("rene", amount: 1_000)
            func buy(_ vendor: APIHarness.Vendor, _ reference: String, hold: Bool = false, url: String = "https://shop.example/item") async throws -> String {
                var body: [String: Any] = [
                    "purchaseToken": try await client.purchaseToken(user), "inline": APIHarness.Client.inlineContent(price: 10, url: url),
                    "vendorData": ["reference": reference],
                ]
                if hold { body["holdSeconds"] = 60 }
                let answer = try await client.vendor(vendor, .post, hold ? "/v1/vendor/authorizations" : "/v1/vendor/purchases", body)
                #expect(answer.status == .created, "\(answer.text)")
                return try #require(answer.json["transaction"] as? String)
            }
            let first = try await buy(vendorA, "order 7/web")
            let held = try await buy(vendorA, "order 7/web", hold: true)
            _ = try await buy(vendorA, "order 8")
            let third = try await buy(vendorA, "order 7/web")
            let theirs = try await buy(vendorB, "order 7/web", url: "https://b.example/item")
            let head = harness.api.journal.head

            let path = "/v1/vendor/purchases?reference=order%207%2Fweb&minSequence=\(head)"
            let page = try await client.vendor(vendorA, .get, path + "&limit=2")
            #expect(page.status == .ok, "\(page.text)")
            let data = try #require(page.json["data"] as? [String: Any])
            let listed = try #require(data["purchases"] as? [[String: Any]])
            #expect(listed.map { $0["transaction"] as? String } == [third, held])
            #expect(listed.map { $0["status"] as? String } == ["captured", "held"])
            #expect(listed.allSatisfy { ($0["vendorData"] as? [String: Any])?["reference"] as? String == "order 7/web" })
            let before = try #require(data["nextBefore"] as? Int)
            let rest = try await client.vendor(vendorA, .get, path + "&before=\(before)")
            let older = ((rest.json["data"] as? [String: Any])?["purchases"] as? [[String: Any]])?.map { $0["transaction"] as? String }
            #expect(older == [first], "\(rest.text)")
            #expect((rest.json["data"] as? [String: Any])?["nextBefore"] == nil)

            // Vendor B sees its own purchase under the same reference, never vendor A's.
            let other = try await client.vendor(vendorB, .get, path)
            let others = ((other.json["data"] as? [String: Any])?["purchases"] as? [[String: Any]])?.map { $0["transaction"] as? String }
            #expect(others == [theirs], "\(other.text)")
            // A reference no purchase was sent with lists nothing.
            let none = try await client.vendor(vendorA, .get, "/v1/vendor/purchases?reference=order-9")
            #expect(none.status == .ok && ((none.json["data"] as? [String: Any])?["purchases"] as? [Any])?.isEmpty == true, "\(none.text)")

            for bad in ["/v1/vendor/purchases", "/v1/vendor/purchases?reference=", "/v1/vendor/purchases?reference=a%01b",
                        "/v1/vendor/purchases?reference=" + String(repeating: "x", count: 201),
                        "/v1/vendor/purchases?reference=a&reference=b"] {
                let refused = try await client.vendor(vendorA, .get, bad)
                #expect(refused.status == .badRequest && refused.json["field"] as? String == "reference", "\(bad): \(refused.text)")
            }
        }
    }

    @Test("a vendor's reference and form parameters travel with the purchase: in the answer, the status, a capture's answer, the batch and the feed; bad ones are refused with their field")
    func vendorData() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("vera", amount: 1_000)
            let data: [String: Any] = ["reference": "order 42/web", "parameters": ["campaign": "winter", "utm_source": "news"]]
            let inline = APIHarness.Client.inlineContent(price: 100)
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases",
                                                 ["purchaseToken": try await client.purchaseToken(user), "inline": inline, "vendorData": data])
            #expect(bought.status == .created, "\(bought.text)")
            #expect(bought.text.contains(#""vendorData":{"parameters":{"campaign":"winter","utm_source":"news"},"reference":"order 42/web"}"#), "\(bought.text)")
            let transaction = try #require(bought.json["transaction"] as? String)
            let status = try await client.vendor(vendor, .get, "/v1/vendor/purchases/\(transaction)")
            #expect((status.json["vendorData"] as? [String: Any])?["reference"] as? String == "order 42/web", "\(status.text)")

            let held = try await client.vendor(vendor, .post, "/v1/vendor/authorizations", [
                "purchaseToken": try await client.purchaseToken(user), "inline": inline, "holdSeconds": 60, "vendorData": ["reference": "hold-1"],
            ])
            #expect((held.json["vendorData"] as? [String: Any])?["reference"] as? String == "hold-1", "\(held.text)")
            let heldID = try #require(held.json["transaction"] as? String)
            let captured = try await client.vendor(vendor, .post, "/v1/vendor/authorizations/\(heldID)/capture")
            #expect((captured.json["vendorData"] as? [String: Any])?["reference"] as? String == "hold-1", "\(captured.text)")

            let batch = try await client.vendor(vendor, .post, "/v1/vendor/purchases/batch", ["purchases": [
                ["idempotencyKey": "vd-1", "purchaseToken": try await client.purchaseToken(user), "inline": inline, "vendorData": ["reference": "b-1"]],
                ["idempotencyKey": "vd-2", "purchaseToken": try await client.purchaseToken(user), "inline": inline, "vendorData": ["reference": ""]],
            ]])
            let results = try #require(batch.json["results"] as? [[String: Any]], "\(batch.text)")
            #expect(((results[0]["purchase"] as? [String: Any])?["vendorData"] as? [String: Any])?["reference"] as? String == "b-1")
            #expect((results[1]["problem"] as? [String: Any])?["field"] as? String == "purchases[1].vendorData.reference", "\(batch.text)")

            let feed = try await client.vendor(vendor, .get, "/v1/vendor/feed?from=1&limit=4")
            #expect(feed.text.contains("order 42/web") && feed.text.contains("hold-1"))

            // Refused, appending nothing: wrong types, an unknown member, a broken rule.
            let head = harness.api.journal.head
            for (bad, field, status) in [
                (["reference": 7] as [String: Any], "vendorData.reference", HTTPResponse.Status.badRequest),
                (["parameters": ["n": 1]], "vendorData.parameters.n", .badRequest),
                (["reference": "x", "secret": "y"], "vendorData.secret", .badRequest),
                (["parameters": ["bad name": "v"]], "vendorData.parameters", .unprocessableContent),
                (["reference": String(repeating: "r", count: 201)], "vendorData.reference", .unprocessableContent),
                ([:], "vendorData", .unprocessableContent),
            ] {
                let reply = try await client.vendor(vendor, .post, "/v1/vendor/purchases",
                                                    ["purchaseToken": try await client.purchaseToken(user), "inline": inline, "vendorData": bad])
                #expect(reply.status == status && reply.json["field"] as? String == field, "\(bad): \(reply.text)")
            }
            #expect(harness.api.journal.head == head)
        }
    }

    @Test("a batch decides each purchase on its own, in one request")
    func batch() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let rich = try await client.fundedUser("dave", amount: 1_000)
            let poor = try await client.fundedUser("erin", amount: 10)
            let richToken = try await client.purchaseToken(rich)
            let poorToken = try await client.purchaseToken(poor)
            let reply = try await client.vendor(vendor, .post, "/v1/vendor/purchases/batch", ["purchases": [
                ["idempotencyKey": "b-1", "purchaseToken": richToken, "inline": APIHarness.Client.inlineContent("a", price: 100)],
                ["idempotencyKey": "b-2", "purchaseToken": poorToken, "inline": APIHarness.Client.inlineContent("b", price: 100)],
                ["idempotencyKey": "b-3", "purchaseToken": "pt_garbage", "inline": APIHarness.Client.inlineContent("c", price: 1)],
                ["idempotencyKey": "b-4", "purchaseToken": richToken, "inline": APIHarness.Client.inlineContent("d", price: 200)],
            ]])
            #expect(reply.status == .ok, "\(reply.text)")
            let results = try #require(reply.json["results"] as? [[String: Any]])
            #expect(results.map { $0["status"] as? Int } == [201, 422, 403, 201])
            #expect(reply.json["accepted"] as? Int == 2)
            #expect((results[2]["problem"] as? [String: Any])?["field"] as? String == "purchases[2].purchaseToken")
        }
    }
}
