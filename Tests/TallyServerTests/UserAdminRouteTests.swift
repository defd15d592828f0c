import Foundation
import Hummingbird
import Journal
import TallyCrypto
import Testing
@testable import TallyServer

@Suite("User, customer-service and auditor routes")
struct UserAdminRouteTests {
    @Test("signup, login, profile from the identity store, wrong password and taken login")
    func accounts() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("kate", amount: 0)
            let me = try await client.user(user, .get, "/v1/me")
            #expect(me.status == .ok)
            #expect(me.json["name"] as? String == "Name of kate")
            #expect(me.json["wallets"] as? [String] == ["USD"])
            let wrong = try await client.send(.post, "/v1/login", body: client.json(["login": "kate", "password": "not the password"]))
            #expect(wrong.status == .unauthorized)
            #expect(wrong.problemType == "login-failed")
            let nobody = try await client.send(.post, "/v1/login", body: client.json(["login": "nobody", "password": "not the password"]))
            #expect(nobody.status == .unauthorized)
            let taken = try await client.send(.post, "/v1/signup", body: client.json([
                "login": "KATE", "password": "correct horse battery", "name": "K", "email": "k@example.org",
            ]))
            #expect(taken.status == .conflict)
            #expect(taken.problemType == "login-taken")
            // Many signups racing for one name: exactly one account gets it.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await client.send(.post, "/v1/signup", body: client.json([
                            "login": "racer", "password": "correct horse battery", "name": "R\(index)", "email": "r\(index)@example.org",
                        ])).status.code
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 1)
            #expect(statuses.filter { $0 == 409 }.count == 7)
            let short = try await client.send(.post, "/v1/signup", body: client.json([
                "login": "leo", "password": "short", "name": "L", "email": "l@example.org",
            ]))
            #expect(short.json["field"] as? String == "password")
            // Control characters (which can hide or forge what a terminal or a log shows) and
            // spaces are refused where they have no place; nothing is appended.
            let head = harness.api.journal.head
            for (field, login, name, email) in [
                ("login", "leo\u{0}x", "Leo", "l@example.org"), ("name", "leo", "Leo\u{1B}[2J", "l@example.org"),
                ("name", "leo", "Leo\u{85}", "l@example.org"), ("email", "leo", "Leo", "l@exa mple.org"),
                ("email", "leo", "Leo", "l@example.org\u{7F}"),
            ] {
                let refused = try await client.send(.post, "/v1/signup", body: client.json([
                    "login": login, "password": "long enough password", "name": name, "email": email,
                ]))
                #expect(refused.status == .badRequest)
                #expect(refused.problemType == "invalid-field")
                #expect(refused.json["field"] as? String == field, "\(login) \(name) \(email)")
            }
            #expect(harness.api.journal.head == head)
            let logout = try await client.user(user, .post, "/v1/logout")
            #expect(logout.status == .noContent)
            #expect(try await client.user(user, .get, "/v1/me").status == .unauthorized)
            // The journal holds no personal data: neither the name nor the login appears in it.
            let events = try harness.api.journal.events(from: 1, limit: 100)
            for event in events {
                let text = String(decoding: event.payload, as: UTF8.self)
                #expect(!text.contains("Name of kate") && !text.contains("kate@example.org"))
            }
        }
    }

    @Test("customer service finds the accounts of an e-mail address in any case, several when they share it; an erased person is not found")
    func peopleByEmail() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let lena = try await client.fundedUser("lena", amount: 0)
            let signup = try await client.send(.post, "/v1/signup", body: client.json([
                "login": "lena-work", "password": "correct horse battery", "name": "Lena at work", "email": "LENA@example.org",
            ]))
            let work = try #require(signup.json["user"] as? String, "\(signup.text)")
            let found = try await client.admin(.get, "/v1/admin/people?email=Lena%40Example.ORG")
            #expect(found.status == .ok, "\(found.text)")
            let accounts = try #require(found.json["accounts"] as? [[String: Any]], "\(found.text)")
            #expect(Set(accounts.compactMap { $0["user"] as? String }) == [lena.id, work])
            #expect(Set(accounts.compactMap { $0["login"] as? String }) == ["lena", "lena-work"])
            let unknown = try await client.admin(.get, "/v1/admin/people?email=nobody%40example.org")
            #expect(unknown.status == .notFound && unknown.json["field"] as? String == "email", "\(unknown.text)")
            let missing = try await client.admin(.get, "/v1/admin/people")
            #expect(missing.status == .badRequest && missing.json["field"] as? String == "email", "\(missing.text)")
            #expect(try await client.user(lena, .get, "/v1/admin/people?email=lena%40example.org").status == .forbidden)
            // Erased: no longer found; the other account with the address still is.
            #expect(try await client.admin(.post, "/v1/admin/users/\(lena.id)/erase").status == .ok)
            let after = try await client.admin(.get, "/v1/admin/people?email=lena%40example.org")
            #expect((after.json["accounts"] as? [[String: Any]])?.compactMap { $0["user"] as? String } == [work], "\(after.text)")
        }
    }

    @Test("the holder changes the account's name and e-mail; customer service finds it by the new address only; members and bad values are refused")
    func changeDetails() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("nora", amount: 0)
            let changed = try await client.user(user, .patch, "/v1/me", ["email": "nora@new.example"])
            #expect(changed.status == .ok && changed.json["email"] as? String == "nora@new.example", "\(changed.text)")
            #expect(changed.json["name"] as? String == "Name of nora", "the name is kept")
            #expect(try await client.admin(.get, "/v1/admin/people?email=nora%40example.org").status == .notFound)
            let found = try await client.admin(.get, "/v1/admin/people?email=NORA%40new.example")
            #expect((found.json["accounts"] as? [[String: Any]])?.first?["user"] as? String == user.id, "\(found.text)")
            let renamed = try await client.user(user, .patch, "/v1/me", ["name": "Nora N."])
            #expect(renamed.json["name"] as? String == "Nora N." && renamed.json["email"] as? String == "nora@new.example", "\(renamed.text)")
            #expect(try await client.user(user, .get, "/v1/me").json["name"] as? String == "Nora N.")

            for (body, field) in [([:], "name"), (["email": "not an address"], "email"), (["name": ""], "name"),
                                  (["email": "a@b\u{7}"], "email")] as [([String: Any], String)] {
                let refused = try await client.user(user, .patch, "/v1/me", body)
                #expect(refused.status == .badRequest && refused.json["field"] as? String == field, "\(body): \(refused.text)")
            }
            #expect(try await client.user(user, .patch, "/v1/me", ["email": "x@example.org", "user": "u_other"]).problemType == "unknown-field")
            let member = try await client.user(user, .post, "/v1/me/members", ["login": "nora-kid", "password": "another long password"])
            #expect(member.status == .created, "\(member.text)")
            let kid = try await client.loginAs("nora-kid", password: "another long password")
            let byMember = try await client.user(kid, .patch, "/v1/me", ["email": "kid@example.org"])
            #expect(byMember.status == .forbidden && byMember.problemType == "holder-only", "\(byMember.text)")
            #expect(try await client.send(.patch, "/v1/me", body: client.json(["name": "X"])).status == .unauthorized)
            #expect(try harness.api.identity.personalData(of: user.id)?.email == "nora@new.example")

            // Customer service changes it for a caller who can no longer read that address.
            let byService = try await client.admin(.patch, "/v1/admin/users/\(user.id)", ["email": "nora@third.example"])
            #expect(byService.status == .ok && byService.json["email"] as? String == "nora@third.example", "\(byService.text)")
            #expect(byService.json["login"] as? String == "nora" && byService.json["name"] as? String == "Nora N.")
            #expect(try await client.admin(.get, "/v1/admin/people?email=nora%40third.example").status == .ok)
            #expect(try await client.admin(.patch, "/v1/admin/users/u_none", ["name": "X"]).status == .notFound)
            #expect(try await client.admin(.patch, "/v1/admin/users/\(user.id)", [:]).json["field"] as? String == "name")
            #expect(try await client.user(user, .patch, "/v1/admin/users/\(user.id)", ["name": "X"]).status == .forbidden)
        }
    }

    @Test("customer service finds a caller's account by login name, a member's too; an unknown or missing name is refused with the field")
    func accountOfLogin() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("kim", amount: 0)
            let found = try await client.admin(.get, "/v1/admin/accounts?login=KIM")
            #expect(found.status == .ok, "\(found.text)")
            #expect(found.json["user"] as? String == user.id && found.json["member"] == nil)
            #expect(found.json["name"] as? String == "Name of kim" && found.json["email"] as? String == "kim@example.org", "\(found.text)")
            let member = try await client.user(user, .post, "/v1/me/members", ["login": "kim+kid@home", "password": "another long password"])
            let memberID = try #require(member.json["member"] as? String, "\(member.text)")
            let kid = try await client.admin(.get, "/v1/admin/accounts?login=kim%2Bkid%40home")
            #expect(kid.json["user"] as? String == user.id && kid.json["member"] as? String == memberID, "\(kid.text)")
            let unknown = try await client.admin(.get, "/v1/admin/accounts?login=nobody")
            #expect(unknown.status == .notFound && unknown.json["field"] as? String == "login", "\(unknown.text)")
            for query in ["", "?login="] {
                let missing = try await client.admin(.get, "/v1/admin/accounts" + query)
                #expect(missing.status == .badRequest && missing.json["field"] as? String == "login", "\(query): \(missing.text)")
            }
            let twice = try await client.admin(.get, "/v1/admin/accounts?login=kim&login=kim")
            #expect(twice.problemType == "duplicate-parameter")
            // A user cannot look anyone up.
            let asUser = try await client.user(user, .get, "/v1/admin/accounts?login=kim")
            #expect(asUser.status == .unauthorized || asUser.status == .forbidden, "\(asUser.text)")
        }
    }

    @Test("transfers, limits with headroom, offline funds queued for customer service and cleared, history newest first, point-in-time balance")
    func money() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let mia = try await client.fundedUser("mia", amount: 1_000)
            let ned = try await client.fundedUser("ned", amount: 0)
            let transfer = try await client.user(mia, .post, "/v1/me/transfers", ["toLogin": "ned", "currency": "USD", "amount": 300])
            #expect(transfer.status == .created, "\(transfer.text)")
            let afterTransfer = try #require(transfer.json["sequence"] as? Int)
            let toSelf = try await client.user(mia, .post, "/v1/me/transfers", ["toLogin": "mia", "currency": "USD", "amount": 1])
            #expect(toSelf.problemType == "ledger/self-transfer")
            let unknown = try await client.user(mia, .post, "/v1/me/transfers", ["toLogin": "ghost", "currency": "USD", "amount": 1])
            #expect(unknown.json["field"] as? String == "toLogin")

            let limit = try await client.user(mia, .post, "/v1/me/limits", ["kind": "perTransaction", "currency": "USD", "amount": 50])
            #expect(limit.status == .created, "\(limit.text)")
            let token = try await client.purchaseToken(mia)
            let over = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 60)])
            #expect(over.problemType == "ledger/exceeds-per-transaction-limit")
            #expect(over.json["headroom"] as? Int == 50)

            let check = try await client.user(ned, .post, "/v1/me/funds", ["currency": "USD", "amount": 500, "method": "check"])
            #expect(check.json["pending"] as? Bool == true)
            let funding = try #require(check.json["funding"] as? String)
            let checkAdded = try #require(check.json["sequence"] as? Int)
            let queued = try await client.admin(.get, "/v1/admin/funds?minSequence=\(checkAdded)")
            #expect(queued.status == .ok, "\(queued.text)")
            let waiting = try #require((queued.json["data"] as? [String: Any])?["fundings"] as? [[String: Any]])
            #expect(waiting.map { $0["funding"] as? String } == [funding], "card funds never wait; the check does")
            #expect(waiting.first?["status"] as? String == "pending" && waiting.first?["method"] as? String == "check")
            #expect(waiting.first?["amount"] as? Int == 500 && waiting.first?["user"] as? String == ned.id)
            let badPage = try await client.admin(.get, "/v1/admin/funds?limit=501")
            #expect(badPage.status == .badRequest && badPage.json["field"] as? String == "limit", "\(badPage.text)")
            let cleared = try await client.admin(.post, "/v1/admin/funds/\(funding)/clear")
            #expect(cleared.status == .ok, "\(cleared.text)")
            let again = try await client.admin(.post, "/v1/admin/funds/\(funding)/fail")
            #expect(again.problemType == "ledger/funding-not-pending")
            let settledHead = harness.api.journal.head
            let emptied = try await client.admin(.get, "/v1/admin/funds?minSequence=\(settledHead)")
            #expect(((emptied.json["data"] as? [String: Any])?["fundings"] as? [[String: Any]])?.isEmpty == true, "\(emptied.text)")
            let record = try await client.admin(.get, "/v1/admin/funds/\(funding)")
            #expect((record.json["data"] as? [String: Any])?["status"] as? String == "cleared", "\(record.text)")
            #expect((record.json["data"] as? [String: Any])?["settledAtMilliseconds"] is Int)
            // Ned sees his own fundings, newest first; Mia sees only hers.
            let mine = try await client.user(ned, .get, "/v1/me/funds?minSequence=\(settledHead)")
            let mineList = try #require((mine.json["data"] as? [String: Any])?["fundings"] as? [[String: Any]], "\(mine.text)")
            #expect(mineList.first?["funding"] as? String == funding && mineList.first?["status"] as? String == "cleared")
            // Customer service sees the same list for Ned on a call.
            let forCS = try await client.admin(.get, "/v1/admin/users/\(ned.id)/funds")
            let csList = try #require((forCS.json["data"] as? [String: Any])?["fundings"] as? [[String: Any]], "\(forCS.text)")
            #expect(csList.map { $0["funding"] as? String } == mineList.map { $0["funding"] as? String })
            // Narrowed to a status: the cleared check only; nothing pending any more; an unknown status is refused.
            let clearedOnly = try await client.user(ned, .get, "/v1/me/funds?status=cleared")
            #expect(((clearedOnly.json["data"] as? [String: Any])?["fundings"] as? [[String: Any]])?.map { $0["funding"] as? String } == [funding],
                    "\(clearedOnly.text)")
            let pendingForCS = try await client.admin(.get, "/v1/admin/users/\(ned.id)/funds?status=pending")
            #expect(((pendingForCS.json["data"] as? [String: Any])?["fundings"] as? [[String: Any]])?.isEmpty == true, "\(pendingForCS.text)")
            let badStatus = try await client.user(ned, .get, "/v1/me/funds?status=waiting")
            #expect(badStatus.status == .badRequest && badStatus.json["field"] as? String == "status", "\(badStatus.text)")
            #expect(try await client.send(.get, "/v1/me/funds?status=waiting").status == .unauthorized, "a stranger learns nothing of the query")
            let hers = try await client.user(mia, .get, "/v1/me/funds")
            let hersList = try #require((hers.json["data"] as? [String: Any])?["fundings"] as? [[String: Any]], "\(hers.text)")
            #expect(!hersList.isEmpty && !hersList.contains { $0["funding"] as? String == funding })
            let unknownFunding = try await client.admin(.get, "/v1/admin/funds/f_nosuch")
            #expect(unknownFunding.status == .notFound, "\(unknownFunding.text)")

            let head = harness.api.journal.head
            let wallets = try await client.user(ned, .get, "/v1/me/wallets?minSequence=\(head)")
            let usd = ((wallets.json["data"] as? [String: Any])?["wallets"] as? [[String: Any]])?.first
            #expect(usd?["balance"] as? Int == 800)
            let history = try await client.user(ned, .get, "/v1/me/history/USD?limit=1&minSequence=\(head)")
            let page = try #require(history.json["data"] as? [String: Any])
            let entries = try #require(page["entries"] as? [[String: Any]])
            #expect(entries.count == 1)
            // Newest first: the check's clearing (pending to available, within the user's own
            // accounts, so it moves nothing in or out).
            #expect(entries.first?["eventType"] as? String == "FundsCleared")
            let next = try #require(page["nextBefore"] as? Int)
            let older = try await client.user(ned, .get, "/v1/me/history/USD?limit=10&before=\(next)")
            let olderEntries = (older.json["data"] as? [String: Any])?["entries"] as? [[String: Any]]
            #expect(olderEntries?.map { $0["amount"] as? Int } == [500, 300], "the check's arrival, then the transfer in")
            let past = try await client.user(ned, .get, "/v1/me/balances/USD?atSequence=\(afterTransfer)")
            #expect(past.json["balance"] as? Int == 300)
            let now = try await client.user(ned, .get, "/v1/me/balances/USD")
            #expect(now.json["balance"] as? Int == 800)
            let bad = try await client.user(ned, .get, "/v1/me/balances/XYZ")
            #expect(bad.problemType == "unknown-currency")
        }
    }

    @Test("the referring vendor's history shows its reward and its reversal, never the other vendor's transaction behind them")
    func referralHistoryHidesOtherVendors() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let referrer = try await client.registerVendor(name: "Referrer")
            let seller = try await client.registerVendor(name: "Seller")
            let policy: [String: Any] = ["currency": "USD", "rewardAmount": 25, "minimumSpend": 100, "confirmationSeconds": 1]
            let set = try await client.vendor(referrer, .put, "/v1/vendor/referral-policy", policy, idempotencyKey: "policy")
            #expect(set.status == .ok, "\(set.text)")
            let user = try await client.fundedUser("rita", amount: 1_000, referringVendor: referrer.id)
            let bought = try await client.vendor(seller, .post, "/v1/vendor/purchases", [
                "purchaseToken": try await client.purchaseToken(user), "inline": APIHarness.Client.inlineContent(price: 200),
            ])
            let transaction = try #require(bought.json["transaction"] as? String, "\(bought.text)")
            harness.clock.advance(milliseconds: 2_000)
            let rewarded = try await client.admin(.post, "/v1/admin/referrals/\(user.id)/reward")
            #expect(rewarded.status == .created || rewarded.status == .ok, "\(rewarded.text)")
            let dispute = try await client.user(user, .post, "/v1/me/disputes", ["transaction": transaction, "reason": "refund"])
            let id = try #require(dispute.json["dispute"] as? String, "\(dispute.text)")
            let refunded = try await client.admin(.post, "/v1/admin/disputes/\(id)/resolve", ["refund": true, "representative": "rep"])
            #expect(refunded.status == .ok, "\(refunded.text)")
            let head = harness.api.journal.head
            let history = try await client.vendor(referrer, .get, "/v1/vendor/history?minSequence=\(head)")
            let entries = try #require((history.json["data"] as? [String: Any])?["entries"] as? [[String: Any]], "\(history.text)")
            let types = entries.compactMap { $0["eventType"] as? String }
            #expect(types.contains("ReferralRewarded") && types.contains("ReferralReversed"), "\(types)")
            #expect(entries.allSatisfy { $0["transaction"] == nil }, "\(history.text)")
            #expect(!history.text.contains(transaction))
        }
    }

    @Test("a dispute reserves the amount; customer service refunds it; settlement pays the vendor the rest; royalties are stated")
    func disputeAndSettlement() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let olga = try await client.fundedUser("olga", amount: 1_000)
            let token = try await client.purchaseToken(olga)
            let first = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent("x", price: 200)])
            let second = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": token, "inline": APIHarness.Client.inlineContent("y", price: 100)])
            let transaction = try #require(first.json["transaction"] as? String)
            let dispute = try await client.user(olga, .post, "/v1/me/disputes", ["transaction": transaction, "reason": "never delivered"])
            #expect(dispute.status == .created, "\(dispute.text)")
            #expect(dispute.json["status"] as? String == "open")
            let id = try #require(dispute.json["dispute"] as? String)
            let opened = try #require(dispute.json["sequence"] as? Int)
            let queue = try await client.admin(.get, "/v1/admin/disputes?minSequence=\(opened)")
            #expect(queue.status == .ok, "\(queue.text)")
            let open = try #require((queue.json["data"] as? [String: Any])?["disputes"] as? [[String: Any]])
            #expect(open.map { $0["dispute"] as? String } == [id])
            #expect(open.first?["transaction"] as? String == transaction && open.first?["reason"] as? String == "never delivered")
            #expect(open.first?["status"] as? String == "open" && open.first?["reserved"] as? Int == 170)
            let resolved = try await client.admin(.post, "/v1/admin/disputes/\(id)/resolve", ["refund": true, "representative": "rep-7"])
            #expect(resolved.status == .ok, "\(resolved.text)")
            #expect(resolved.json["refunded"] as? Int == 200)
            let twice = try await client.admin(.post, "/v1/admin/disputes/\(id)/resolve", ["refund": false, "representative": "rep-7"])
            #expect(twice.problemType == "ledger/dispute-not-open")
            let afterResolve = harness.api.journal.head
            let done = try await client.admin(.get, "/v1/admin/disputes/\(id)?minSequence=\(afterResolve)")
            let doneCase = try #require(done.json["data"] as? [String: Any], "\(done.text)")
            #expect(doneCase["status"] as? String == "refunded" && doneCase["refunded"] as? Int == 200)
            #expect(doneCase["decidedBy"] as? String == "customerService" && doneCase["representative"] as? String == "rep-7")
            let olgas = try await client.user(olga, .get, "/v1/me/disputes?minSequence=\(afterResolve)")
            let olgasList = try #require((olgas.json["data"] as? [String: Any])?["disputes"] as? [[String: Any]], "\(olgas.text)")
            #expect(olgasList.map { $0["dispute"] as? String } == [id] && olgasList.first?["status"] as? String == "refunded")
            for list in ["funds", "disputes"] {
                let nobody = try await client.admin(.get, "/v1/admin/users/u_nobody/\(list)")
                #expect(nobody.status == .notFound, "\(list): \(nobody.text)")
            }
            let olgasForCS = try await client.admin(.get, "/v1/admin/users/\(olga.id)/disputes")
            #expect(((olgasForCS.json["data"] as? [String: Any])?["disputes"] as? [[String: Any]])?.map { $0["dispute"] as? String } == [id], "\(olgasForCS.text)")
            // The vendor sees its sale's disputes by its pseudonym of the buyer, without the reason;
            // another vendor sees none of them.
            let vendorsView = try await client.vendor(vendor, .get, "/v1/vendor/disputes?minSequence=\(afterResolve)")
            let vendorsList = try #require((vendorsView.json["data"] as? [String: Any])?["disputes"] as? [[String: Any]], "\(vendorsView.text)")
            #expect(vendorsList.map { $0["dispute"] as? String } == [id])
            #expect(vendorsList.first?["customer"] as? String == first.json["customer"] as? String && vendorsList.first?["status"] as? String == "refunded")
            #expect(!vendorsView.text.contains(olga.id) && !vendorsView.text.contains("never delivered") && !vendorsView.text.contains("rep-7"))
            let otherVendor = try await client.registerVendor()
            let othersView = try await client.vendor(otherVendor, .get, "/v1/vendor/disputes")
            #expect(((othersView.json["data"] as? [String: Any])?["disputes"] as? [[String: Any]])?.isEmpty == true, "\(othersView.text)")
            let drained = try await client.admin(.get, "/v1/admin/disputes")
            #expect(((drained.json["data"] as? [String: Any])?["disputes"] as? [[String: Any]])?.isEmpty == true, "\(drained.text)")
            #expect(try await client.admin(.get, "/v1/admin/disputes/d_nosuch").status == .notFound)
            // A dispute customer service rejected is final: the same purchase cannot be disputed again.
            let other = try #require(second.json["transaction"] as? String)
            let contested = try await client.user(olga, .post, "/v1/me/disputes", ["transaction": other, "reason": "too dear"])
            let contestedID = try #require(contested.json["dispute"] as? String, "\(contested.text)")
            let rejected = try await client.admin(.post, "/v1/admin/disputes/\(contestedID)/resolve", ["refund": false, "representative": "rep-7"])
            #expect(rejected.status == .ok, "\(rejected.text)")
            let again = try await client.user(olga, .post, "/v1/me/disputes", ["transaction": other, "reason": "again"])
            #expect(again.status == .unprocessableContent, "\(again.text)")
            #expect(again.problemType == "ledger/dispute-already-decided")
            #expect(again.json["field"] as? String == "transaction")
            let settled = try await client.admin(.post, "/v1/admin/settlements", ["vendor": vendor.id, "currency": "USD", "force": true])
            #expect(settled.status == .created, "\(settled.text)")
            #expect(settled.json["amount"] as? Int == 85, "100 - 5 fee - 10 royalty of the undisputed purchase")
            let head = harness.api.journal.head
            let settlement = try await client.vendor(vendor, .get, "/v1/vendor/settlement?minSequence=\(head)")
            #expect(settlement.status == .ok, "\(settlement.text)")
            let royalties = try await client.admin(.get, "/v1/admin/holders/author-1/royalties?minSequence=\(head)")
            #expect(royalties.status == .ok, "\(royalties.text)")
            // Paged newest first: the refund's reversal, then the two purchases' royalties.
            var amounts: [Int] = []
            var before: Int?
            repeat {
                let page = try await client.admin(.get, "/v1/admin/holders/author-1/royalties?limit=1" + (before.map { "&before=\($0)" } ?? ""))
                let data = try #require(page.json["data"] as? [String: Any])
                amounts += (data["entries"] as? [[String: Any]] ?? []).compactMap { $0["amount"] as? Int }
                before = data["nextBefore"] as? Int
            } while before != nil
            #expect(amounts == [-20, 10, 20])

            // The label's 10 left is paid out, once: a keyed retry is the first answer, and a
            // second payout finds nothing to pay.
            let payoutPath = "/v1/admin/holders/author-1/payouts"
            var keyed = client.bearer(APIHarness.adminKey)
            keyed[.idempotencyKey] = "royalties-1"
            let body = client.json(["currency": "USD", "representative": "rep-7", "payout": "roy-author-1"])
            let paid = try await client.send(.post, payoutPath, headers: keyed, body: body)
            #expect(paid.status == .created, "\(paid.text)")
            #expect(paid.json["amount"] as? Int == 10 && paid.json["holder"] as? String == "author-1")
            let retried = try await client.send(.post, payoutPath, headers: keyed, body: body)
            #expect(retried.status == .created && retried.text == paid.text)
            #expect(retried.headers[.idempotentReplay] == "true")
            let nothing = try await client.admin(.post, payoutPath, ["currency": "USD", "representative": "rep-7"])
            #expect(nothing.status == .unprocessableContent && nothing.problemType == "ledger/nothing-to-settle", "\(nothing.text)")
            #expect(nothing.json["field"] as? String == "holder")
            let reused = try await client.admin(.post, "/v1/admin/holders/author-2/payouts", ["currency": "USD", "representative": "rep-7", "payout": "roy-author-1"])
            #expect(reused.status == .conflict && reused.problemType == "ledger/payout-exists", "\(reused.text)")
            let noCurrency = try await client.admin(.post, payoutPath, ["representative": "rep-7"])
            #expect(noCurrency.status == .badRequest && noCurrency.json["field"] as? String == "currency", "\(noCurrency.text)")
            let paidSequence = try #require(paid.headers[.tallySequence])
            let payouts = try await client.admin(.get, payoutPath + "?minSequence=\(paidSequence)")
            let listed = (payouts.json["data"] as? [String: Any])?["payouts"] as? [[String: Any]]
            #expect(listed?.map { $0["payout"] as? String } == ["roy-author-1"], "\(payouts.text)")
            #expect(try await client.admin(.get, "/v1/admin/holders/nobody/payouts").status == .notFound)
            let statement = try await client.admin(.get, "/v1/admin/holders/author-1/royalties?minSequence=\(paidSequence)")
            let totals = (statement.json["data"] as? [String: Any])?["totals"] as? [[String: Any]]
            #expect(totals?.first?["balance"] as? Int == 0, "\(statement.text)")

            // The label reads its own statement and payouts with a key customer service gives it.
            let issued = try await client.admin(.post, "/v1/admin/holders/author-1/keys")
            #expect(issued.status == .created, "\(issued.text)")
            let holderToken = try #require(issued.json["token"] as? String)
            let keyID = try #require(issued.json["keyId"] as? String)
            let asHolder = client.bearer(holderToken)
            let own = try await client.send(.get, "/v1/holder/royalties?minSequence=\(paidSequence)", headers: asHolder)
            #expect(own.status == .ok && (own.json["data"] as? [String: Any])?["holder"] as? String == "author-1", "\(own.text)")
            let ownPayouts = try await client.send(.get, "/v1/holder/payouts?minSequence=\(paidSequence)", headers: asHolder)
            #expect(((ownPayouts.json["data"] as? [String: Any])?["payouts"] as? [[String: Any]])?.map { $0["payout"] as? String } == ["roy-author-1"])
            // The key reads nothing else; the list shows its ID, never the key.
            #expect(try await client.send(.get, "/v1/admin/holders/author-1/royalties", headers: asHolder).status == .forbidden)
            #expect(try await client.send(.get, "/v1/me/wallets", headers: asHolder).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/holder/royalties", headers: client.bearer(APIHarness.adminKey)).status == .forbidden)
            let keys = try await client.admin(.get, "/v1/admin/holders/author-1/keys")
            #expect((keys.json["keys"] as? [[String: Any]])?.map { $0["keyId"] as? String } == [keyID] && !keys.text.contains(holderToken), "\(keys.text)")
            #expect(try await client.admin(.post, "/v1/admin/holders/not%20an%20id/keys").status == .badRequest)
            #expect(try await client.admin(.delete, "/v1/admin/holders/author-2/keys/\(keyID)").status == .notFound)
            let revoked = try await client.admin(.delete, "/v1/admin/holders/author-1/keys/\(keyID)")
            #expect(revoked.status == .ok && revoked.json["revoked"] as? Bool == true, "\(revoked.text)")
            #expect(try await client.send(.get, "/v1/holder/royalties", headers: asHolder).status == .unauthorized)
            // A holder never credited has a key but, until its first royalty, no statement.
            let newcomer = try #require(try await client.admin(.post, "/v1/admin/holders/new-author/keys").json["token"] as? String)
            #expect(try await client.send(.get, "/v1/holder/royalties", headers: client.bearer(newcomer)).status == .notFound)
            #expect(try await client.send(.get, "/v1/holder/payouts", headers: client.bearer(newcomer)).status == .ok)
            let wallets = try await client.user(olga, .get, "/v1/me/wallets?minSequence=\(head)")
            let usd = ((wallets.json["data"] as? [String: Any])?["wallets"] as? [[String: Any]])?.first
            #expect(usd?["balance"] as? Int == 900, "refunded 200 of the 300 spent")
            // A key for a number of days opens until then, and nothing after; it stays listed with its end.
            for bad in [0, 3_651, -1] {
                let refused = try await client.admin(.post, "/v1/admin/holders/author-1/keys", ["expiresInDays": bad])
                #expect(refused.status == .badRequest && refused.json["field"] as? String == "expiresInDays", "\(bad): \(refused.text)")
            }
            let shortLived = try await client.admin(.post, "/v1/admin/holders/author-1/keys", ["expiresInDays": 2])
            let ends = try #require(shortLived.json["expiresAtMilliseconds"] as? Int, "\(shortLived.text)")
            #expect(abs(ends - (Int(harness.api.now) + 2 * 86_400_000)) < 60_000)
            let shortToken = client.bearer(try #require(shortLived.json["token"] as? String))
            #expect(try await client.send(.get, "/v1/holder/payouts", headers: shortToken).status == .ok)
            // (The harness's clock also runs on its own: a minute's margin either side.)
            harness.clock.advance(milliseconds: 2 * 86_400_000 - 60_000 - 5_000)
            #expect(try await client.send(.get, "/v1/holder/payouts", headers: shortToken).status == .ok)
            harness.clock.advance(milliseconds: 120_000)
            #expect(try await client.send(.get, "/v1/holder/payouts", headers: shortToken).status == .unauthorized)
            let listedKeys = try await client.admin(.get, "/v1/admin/holders/author-1/keys")
            #expect((listedKeys.json["keys"] as? [[String: Any]])?.compactMap { $0["expiresAtMilliseconds"] as? Int } == [ends], "\(listedKeys.text)")
        }
    }

    @Test("auditors read events as hashed, blocks, keys and receipts that verify under the published key")
    func audit() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            _ = try await client.registerVendor()
            _ = try await client.fundedUser("pam", amount: 10)
            let head = try await client.auditor(.get, "/v1/audit/head")
            let sequence = try #require(head.json["sequence"] as? Int)
            #expect(sequence == Int(harness.api.journal.head))
            let events = try await client.auditor(.get, "/v1/audit/events?from=1&limit=2")
            let list = try #require(events.json["events"] as? [[String: Any]])
            #expect(list.count == 2)
            #expect(events.json["nextFrom"] as? Int == 3)
            let stored = try #require(try harness.api.journal.event(at: 1))
            #expect(list.first?["hash"] as? String == stored.hash.hex)
            #expect(Data(base64Encoded: list.first?["payload"] as? String ?? "").map(Array.init) == stored.payload)
            let keys = try await client.auditor(.get, "/v1/audit/keys")
            let pem = try #require((keys.json["keys"] as? [[String: Any]])?.first?["publicKeyPEM"] as? String)
            let receiptReply = try await client.auditor(.get, "/v1/audit/receipts/\(sequence)")
            #expect(receiptReply.status == .ok)
            let receipt = try JSONDecoder().decode(Receipt.self, from: Data(receiptReply.bytes))
            let key = try Ed25519PublicKey(pem: pem)
            #expect(receipt.violation(publicKey: key) == nil)
            let block = try await client.auditor(.get, "/v1/audit/blocks/\(sequence)")
            #expect(block.json["signature"] as? String == receipt.signature)
            #expect(try await client.auditor(.get, "/v1/audit/receipts/999999").status == .notFound)
            #expect(try await client.auditor(.get, "/v1/audit/events?limit=0").status == .badRequest)
        }
    }
}
