import Foundation
import Hummingbird
import HummingbirdTesting
import Ledger
import TallyCrypto
import Testing
@testable import TallyServer

/// The users' web pages: the same rules as the JSON API, shown as HTML.
@Suite("Web interface for users")
struct WebTests {
    static func form(_ fields: [(String, String)]) -> [UInt8] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Array(fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&").utf8)
    }

    static let formType: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    /// A login page's form token, and the `Cookie` header value of the cookie doubling it.
    static func loginToken(_ page: APIHarness.Reply) throws -> (token: String, cookie: String) {
        let token = try hiddenToken(page.text, LoginFormToken.field)
        let set = try #require(page.headers[values: .setCookie].first { $0.contains("login_form=\(token)") }, "no login_form cookie")
        return (token, String(set.split(separator: ";")[0]))
    }

    /// Logs in as a browser does: the login page of `area` first, for its form token and cookie.
    static func postLogin(_ client: APIHarness.Client, _ area: String, _ fields: [(String, String)]) async throws -> (page: APIHarness.Reply, login: APIHarness.Reply) {
        let page = try await client.send(.get, area)
        let (token, cookie) = try loginToken(page)
        let login = try await client.send(.post, area + "/login", headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                                          body: form([(LoginFormToken.field, token)] + fields))
        return (page, login)
    }

    static func cookie(_ session: String) -> HTTPFields {
        [.cookie: "\(WebController.cookieName)=\(session)", .contentType: "application/x-www-form-urlencoded"]
    }

    static func hiddenToken(_ page: String, _ field: String) throws -> String {
        let range = try #require(page.range(of: "name=\"\(field)\" value=\"[0-9a-f]{32}\"", options: .regularExpression), "no \(field) field")
        return String(page[range].dropFirst("name=\"\(field)\" value=\"".count).dropLast())
    }

    static func csrf(_ page: String) throws -> String { try hiddenToken(page, "csrf") }

    @Test("the holder changes their name and e-mail address on the page; blank fields are kept; a bad address is refused with the field")
    func details() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("quinn", amount: 0)
            let login = try await WebTests.postLogin(client, "/web", [("login", "quinn"), ("password", "correct horse battery")]).login
            let setCookie = try #require(login.headers[.setCookie])
            let session = String(setCookie.split(separator: ";")[0].dropFirst(WebController.cookieName.count + 1))
            let home = try await client.send(.get, "/web", headers: Self.cookie(session))
            #expect(home.text.contains("Your name and e-mail address"))
            let csrf = try Self.csrf(home.text)
            let changed = try await client.send(.post, "/web/details", headers: Self.cookie(session),
                                                body: Self.form([("csrf", csrf), ("name", "Quinn Q."), ("email", "")]))
            #expect(changed.status == .seeOther, "\(changed.text)")
            let after = try await client.send(.get, try #require(changed.headers[.location]), headers: Self.cookie(session))
            #expect(after.text.contains("Your details are changed.") && after.text.contains("Signed in as Quinn Q."), "\(after.text)")
            #expect(try harness.api.identity.personalData(of: user.id)?.email == "quinn@example.org", "a blank field is kept")
            let refused = try await client.send(.post, "/web/details", headers: Self.cookie(session),
                                                body: Self.form([("csrf", csrf), ("email", "no-at-sign")]))
            #expect(refused.status == .badRequest && refused.text.contains("Field: email"), "\(refused.text)")
        }
    }

    @Test("a list of the account's cases shows 100 at a time; the older ones are a link away, page by page")
    func olderCases() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let user = try await client.fundedUser("ruth", amount: 1_000)
            for _ in 0..<101 {
                #expect(try await client.user(user, .post, "/v1/me/payout-requests", ["currency": "USD", "amount": 1, "method": "card"]).status == .created)
            }
            let login = try await Self.postLogin(client, "/web", [("login", "ruth"), ("password", "correct horse battery")]).login
            let setCookie = try #require(login.headers[.setCookie])
            let session = String(setCookie.split(separator: ";")[0].dropFirst(WebController.cookieName.count + 1))
            let home = try await client.send(.get, "/web?minSequence=\(harness.api.journal.head)", headers: Self.cookie(session))
            #expect(home.text.components(separatedBy: "<td>requested</td>").count - 1 == 100, "the first page holds 100")
            let range = try #require(home.text.range(of: #"/web/cases/payout-requests\?before=[0-9]+"#, options: .regularExpression), "no link to older ones")
            let older = try await client.send(.get, String(home.text[range]), headers: Self.cookie(session))
            #expect(older.status == .ok && older.text.components(separatedBy: "<td>requested</td>").count - 1 == 1, "\(older.text)")
            #expect(!older.text.contains("/web/cases/payout-requests?before="), "the oldest page links to nothing older")
            #expect(!home.text.contains("/web/cases/disputes"), "a list with one page has no link")
            let unknown = try await client.send(.get, "/web/cases/everything?before=5", headers: Self.cookie(session))
            #expect(unknown.status == .notFound)
        }
    }

    @Test("a form that moves money carries a once-token: posted twice (a double click, a resent form), the money moves once; a damaged token is refused")
    func onceTokens() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            _ = try await client.fundedUser("olga", amount: 1_000)
            _ = try await client.fundedUser("pavel", amount: 0)
            let login = try await WebTests.postLogin(client, "/web", [("login", "olga"), ("password", "correct horse battery")]).login
            let setCookie = try #require(login.headers[.setCookie])
            let session = String(setCookie.split(separator: ";")[0].dropFirst(WebController.cookieName.count + 1))
            let home = try await client.send(.get, "/web", headers: Self.cookie(session))
            let csrf = try Self.csrf(home.text)
            for (path, fields) in [("/web/funds", [("amount", "1.00"), ("currency", "USD"), ("method", "card")]),
                                   ("/web/transfers", [("toLogin", "pavel"), ("amount", "2.00"), ("currency", "USD")]),
                                   ("/web/payout-requests", [("amount", "3.00"), ("currency", "USD"), ("method", "bankDebit")])] {
                let page = try await client.send(.get, "/web", headers: Self.cookie(session))
                // The funds, transfer and payout forms come in that order: each has its own token.
                let tokens = page.text.components(separatedBy: "name=\"\(WebForm.onceField)\" value=\"").dropFirst().map { String($0.prefix(32)) }
                #expect(tokens.count == 3 && Set(tokens).count == 3, "\(tokens)")
                let once = tokens[["/web/funds", "/web/transfers", "/web/payout-requests"].firstIndex(of: path)!]
                let head = harness.api.journal.head
                let body = Self.form([("csrf", csrf), ("once", once)] + fields)
                let first = try await client.send(.post, path, headers: Self.cookie(session), body: body)
                let second = try await client.send(.post, path, headers: Self.cookie(session), body: body)
                #expect(first.status == .seeOther && second.status == .seeOther && second.headers[.location] == first.headers[.location], "\(path): \(second.text)")
                #expect(harness.api.journal.head == head + 1, "\(path) moved money twice")
                let damaged = try await client.send(.post, path, headers: Self.cookie(session),
                                                    body: Self.form([("csrf", csrf), ("once", "not-a-token")] + fields))
                #expect(damaged.status == .badRequest && damaged.text.contains("The form is damaged"), "\(path): \(damaged.text)")
                #expect(harness.api.journal.head == head + 1)
            }
            let wallets = try await client.admin(.get, "/v1/admin/users/\(try #require(harness.api.credentials.login(name: "olga")).user)/wallets?minSequence=\(harness.api.journal.head)")
            let wallet = ((wallets.json["data"] as? [String: Any])?["wallets"] as? [[String: Any]])?.first
            #expect(wallet?["balance"] as? Int == 1_000 + 100 - 200 - 300, "\(wallets.text)")
            #expect(wallet?["outgoing"] as? Int == 300, "\(wallets.text)")
            // The page lists the payout asked for, as it stands.
            let after = try await client.send(.get, "/web?minSequence=\(harness.api.journal.head)", headers: Self.cookie(session))
            #expect(after.text.contains("Payouts you asked for") && after.text.contains("requested") && after.text.contains("3.00 USD"), "\(after.text)")
            #expect(after.text.contains("<th>Paying out</th>") && after.text.contains("<td class=\"n\">3.00 USD</td>"), "\(after.text)")
        }
    }

    @Test("log in, see wallets and purchases, add funds, set a limit, transfer, open and dispute a purchase, log out")
    func userJourney() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            // A name that would be markup if it were not escaped.
            let signup = try await client.send(.post, "/v1/signup", body: client.json([
                "login": "bob", "password": "correct horse battery", "name": "<script>alert(1)</script> Bob", "email": "bob@example.org",
            ]))
            #expect(signup.status == .created)
            _ = try await client.fundedUser("carol", amount: 0)

            // The login page, a wrong password, then the right one.
            let loginPage = try await client.send(.get, "/web")
            #expect(loginPage.status == .ok && loginPage.text.contains("Log in"))
            #expect(loginPage.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            let wrong = try await WebTests.postLogin(client, "/web", [("login", "bob"), ("password", "wrong password!")]).login
            #expect(wrong.status == .unauthorized && wrong.text.contains("Login name or password is wrong"))
            #expect(wrong.headers[.setCookie] == nil)
            let login = try await WebTests.postLogin(client, "/web", [("login", "bob"), ("password", "correct horse battery")]).login
            #expect(login.status == .seeOther && login.headers[.location] == "/web")
            let setCookie = try #require(login.headers[.setCookie])
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/web"))
            let session = String(setCookie.split(separator: ";")[0].dropFirst(WebController.cookieName.count + 1))

            var home = try await client.send(.get, "/web", headers: Self.cookie(session))
            #expect(home.status == .ok)
            #expect(home.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; Bob") && !home.text.contains("<script>"))
            #expect(home.text.contains("No wallet yet"))
            let csrf = try Self.csrf(home.text)

            // A form without the page's token is refused and changes nothing.
            let head = harness.api.journal.head
            let forged = try await client.send(.post, "/web/wallets", headers: Self.cookie(session), body: Self.form([("currency", "USD")]))
            #expect(forged.status == .forbidden && forged.problemType == "form-not-from-tally")
            #expect(harness.api.journal.head == head)

            // So is one a browser says came from another site (its Origin), even with the token.
            var elsewhere = Self.cookie(session)
            elsewhere[.origin] = "https://attacker.example"
            let crossSite = try await client.send(.post, "/web/wallets", headers: elsewhere, body: Self.form([("csrf", csrf), ("currency", "USD")]))
            #expect(crossSite.status == .forbidden && crossSite.problemType == "form-not-from-tally")
            #expect(harness.api.journal.head == head)
            // And a body that is not a form.
            var json = Self.cookie(session)
            json[.contentType] = "application/json"
            let notForm = try await client.send(.post, "/web/wallets", headers: json, body: Array("{\"currency\":\"USD\"}".utf8))
            #expect(notForm.status == .unsupportedMediaType)

            // Open a wallet, add 12.50 by card.
            let opened = try await client.send(.post, "/web/wallets", headers: Self.cookie(session), body: Self.form([("csrf", csrf), ("currency", "USD")]))
            #expect(opened.status == .seeOther, "\(opened.text)")
            let funded = try await client.send(.post, "/web/funds", headers: Self.cookie(session),
                                               body: Self.form([("csrf", csrf), ("amount", "12.50"), ("currency", "USD"), ("method", "card")]))
            #expect(funded.status == .seeOther, "\(funded.text)")
            // A money order stays pending: the page lists it among the funds waiting to clear.
            let ordered = try await client.send(.post, "/web/funds", headers: Self.cookie(session),
                                                body: Self.form([("csrf", csrf), ("amount", "7.25"), ("currency", "USD"), ("method", "moneyOrder")]))
            #expect(ordered.status == .seeOther, "\(ordered.text)")
            home = try await client.send(.get, try #require(ordered.headers[.location]), headers: Self.cookie(session))
            #expect(home.text.contains("Funds waiting to clear") && home.text.contains("Money order") && home.text.contains("7.25 USD"), "\(home.text)")
            #expect(!home.text.contains("Your disputes"))
            home = try await client.send(.get, try #require(funded.headers[.location]), headers: Self.cookie(session))
            #expect(home.text.contains("Funds added.") && home.text.contains("<td class=\"n\">12.50</td>"), "\(home.text)")

            // An amount with too many decimals is refused on the page; the balance is unchanged.
            let before = harness.api.journal.head
            let refused = try await client.send(.post, "/web/funds", headers: Self.cookie(session),
                                                body: Self.form([("csrf", csrf), ("amount", "12.345"), ("currency", "USD"), ("method", "card")]))
            #expect(refused.status == .badRequest && refused.text.contains("An amount is not valid") && refused.text.contains("Field: amount"))
            #expect(harness.api.journal.head == before)
            // A refusal of the ledger's: more than the wallet holds.
            let tooMuch = try await client.send(.post, "/web/transfers", headers: Self.cookie(session),
                                                body: Self.form([("csrf", csrf), ("toLogin", "carol"), ("amount", "13.00"), ("currency", "USD")]))
            #expect(tooMuch.status == .unprocessableContent && tooMuch.text.contains("Refused by ledger rule"), "\(tooMuch.text)")
            #expect(harness.api.journal.head == before)
            let transferred = try await client.send(.post, "/web/transfers", headers: Self.cookie(session),
                                                    body: Self.form([("csrf", csrf), ("toLogin", "carol"), ("amount", "2.50"), ("currency", "USD")]))
            #expect(transferred.status == .seeOther, "\(transferred.text)")

            // A limit of 5.00 per purchase, shown with a button to remove it.
            let limited = try await client.send(.post, "/web/limits", headers: Self.cookie(session),
                                                body: Self.form([("csrf", csrf), ("kind", "perTransaction"), ("amount", "5.00"), ("currency", "USD"), ("vendor", "")]))
            #expect(limited.status == .seeOther, "\(limited.text)")
            home = try await client.send(.get, try #require(limited.headers[.location]), headers: Self.cookie(session))
            #expect(home.text.contains("Per purchase: 5.00 USD") && home.text.contains("<td class=\"n\">10.00</td>"), "\(home.text)")
            // Customer service pays 1.00 back by bank debit: the page lists it.
            #expect(!home.text.contains("Paid back to you"))
            let paidBack = try await client.admin(.post, "/v1/admin/payouts", [
                "user": signup.json["user"] as! String, "currency": "USD", "amount": 100, "method": "bankDebit", "representative": "rep-1",
            ])
            #expect(paidBack.status == .created, "\(paidBack.text)")
            home = try await client.send(.get, "/web?minSequence=\(paidBack.json["sequence"] as! Int)", headers: Self.cookie(session))
            #expect(home.text.contains("Paid back to you") && home.text.contains("Bank debit") && home.text.contains("1.00 USD"), "\(home.text)")

            // A purchase at a vendor appears in the summary; the user opens it and disputes it.
            let vendor = try await client.registerVendor()
            let user = APIHarness.User(id: signup.json["user"] as! String, login: "bob", session: session)
            let token = try await client.purchaseToken(user)
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": token, "inline": APIHarness.Client.inlineContent(price: 300),
            ])
            #expect(bought.status == .created, "\(bought.text)")
            let transaction = try #require(bought.json["transaction"] as? String)
            home = try await client.send(.get, "/web?minSequence=\(harness.api.journal.head)", headers: Self.cookie(session))
            #expect(home.text.contains("An article") && home.text.contains("captured") && home.text.contains("3.00 USD"), "\(home.text)")
            let opening = try await client.send(.post, "/web/access", headers: Self.cookie(session), body: Self.form([("csrf", csrf), ("transaction", transaction)]))
            #expect(opening.status == .created && opening.text.contains("href=\"https://shop.example/a/1?tally_grant="), "\(opening.text)")
            let disputed = try await client.send(.post, "/web/disputes", headers: Self.cookie(session),
                                                 body: Self.form([("csrf", csrf), ("transaction", transaction), ("reason", "never arrived")]))
            #expect(disputed.status == .seeOther, "\(disputed.text)")
            home = try await client.send(.get, try #require(disputed.headers[.location]), headers: Self.cookie(session))
            #expect(home.text.contains("Dispute opened.") && home.text.contains("disputed"), "\(home.text)")
            #expect(home.text.contains("Your disputes") && home.text.contains("never arrived"), "\(home.text)")

            // The wallet's history, a purchase token, and a member added and removed.
            let history = try await client.send(.get, "/web/history?currency=USD", headers: Self.cookie(session))
            #expect(history.status == .ok && history.text.contains("FundsAdded") && history.text.contains("<td class=\"n\">12.50</td>"), "\(history.text)")
            let nowhere = try await client.send(.get, "/web/history?currency=XYZ", headers: Self.cookie(session))
            #expect(nowhere.status == .badRequest && nowhere.text.contains("Unknown currency"))
            let minted = try await client.send(.post, "/web/purchase-token", headers: Self.cookie(session), body: Self.form([("csrf", csrf)]))
            #expect(minted.status == .created && minted.text.contains("Your purchase token"), "\(minted.text)")
            let added = try await client.send(.post, "/web/members", headers: Self.cookie(session),
                                              body: Self.form([("csrf", csrf), ("login", "bobby"), ("password", "another long password")]))
            #expect(added.status == .seeOther, "\(added.text)")
            home = try await client.send(.get, try #require(added.headers[.location]), headers: Self.cookie(session))
            let member = try #require(home.text.range(of: #"m_[0-9a-f]{24}"#, options: .regularExpression).map { String(home.text[$0]) }, "\(home.text)")
            #expect(home.text.contains("Member added."))
            let removed = try await client.send(.post, "/web/members/remove", headers: Self.cookie(session), body: Self.form([("csrf", csrf), ("member", member)]))
            #expect(removed.status == .seeOther, "\(removed.text)")
            home = try await client.send(.get, try #require(removed.headers[.location]), headers: Self.cookie(session))
            #expect(home.text.contains("Member removed.") && !home.text.contains(member), "\(home.text)")

            // A new password: a wrong current one is shown as refused; the right one changes it.
            let badChange = try await client.send(.post, "/web/password", headers: Self.cookie(session), body: Self.form([
                ("csrf", csrf), ("login", "bob"), ("currentPassword", "not it at all"), ("newPassword", "a fresh passphrase"),
            ]))
            #expect(badChange.status == .forbidden && badChange.text.contains("Field: currentPassword"), "\(badChange.text)")
            let changed = try await client.send(.post, "/web/password", headers: Self.cookie(session), body: Self.form([
                ("csrf", csrf), ("login", "bob"), ("currentPassword", "correct horse battery"), ("newPassword", "a fresh passphrase"),
            ]))
            #expect(changed.status == .seeOther, "\(changed.text)")
            home = try await client.send(.get, try #require(changed.headers[.location]), headers: Self.cookie(session))
            #expect(home.text.contains("Password changed"), "\(home.text)")
            _ = try await client.loginAs("bob", password: "a fresh passphrase")

            // Log out: the cookie is cleared and the old session no longer opens the page.
            let out = try await client.send(.post, "/web/logout", headers: Self.cookie(session), body: Self.form([("csrf", csrf)]))
            #expect(out.status == .seeOther && out.headers[.setCookie]?.contains("Max-Age=0") == true)
            let ended = try await client.send(.get, "/web", headers: Self.cookie(session))
            #expect(ended.status == .unauthorized && ended.text.contains("Your session has ended"))
        }
    }

    @Test("purchases and history beyond a page's 100 are reached through 'Older' links")
    func paging() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let user = try await client.fundedUser("fay", amount: 100_000)
            for index in 0..<102 {
                let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                    "purchaseToken": try await client.purchaseToken(user), "inline": APIHarness.Client.inlineContent("item-\(index)", price: 10),
                ])
                #expect(bought.status == .created, "\(bought.text)")
            }
            let headers = Self.cookie(user.session)
            let first = try await client.send(.get, "/web?minSequence=\(harness.api.journal.head)", headers: headers)
            #expect(first.text.components(separatedBy: "<td>An article</td>").count - 1 == 100)
            let older = try #require(first.text.range(of: #"/web\?before=[0-9]+"#, options: .regularExpression).map { String(first.text[$0]) }, "\(first.text)")
            let second = try await client.send(.get, older, headers: headers)
            #expect(second.text.components(separatedBy: "<td>An article</td>").count - 1 == 2)
            #expect(!second.text.contains("Older purchases"))

            let history = try await client.send(.get, "/web/history?currency=USD", headers: headers)
            #expect(history.text.components(separatedBy: "<tr><td>").count - 1 == 100)
            let next = try #require(history.text.range(of: #"/web/history\?currency=USD&amp;before=[0-9]+"#, options: .regularExpression)
                .map { String(history.text[$0]).replacingOccurrences(of: "&amp;", with: "&") }, "\(history.text)")
            let rest = try await client.send(.get, next, headers: headers)
            // 102 purchases and the funding: 103 entries.
            #expect(rest.text.components(separatedBy: "<tr><td>").count - 1 == 3)
        }
    }

    @Test("the history page shows a wallet's balance at a past time, typed in UTC; a time that is none is refused with the field")
    func balanceAtPastTime() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            _ = try await client.fundedUser("gus")
            let funded = harness.clock.now()
            harness.clock.advance(milliseconds: 3_600_000)
            // An hour on, the purchase window has closed: Gus logs in again to buy.
            let user = try await client.loginAs("gus")
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": try await client.purchaseToken(user), "inline": APIHarness.Client.inlineContent("item", price: 250),
            ])
            #expect(bought.status == .created, "\(bought.text)")
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            func typed(_ milliseconds: UInt64) -> String {
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = TimeZone(identifier: "UTC")
                formatter.dateFormat = "yyyy-MM-dd'T'HH:mm"
                return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            }
            let headers = Self.cookie(user.session)
            // Half an hour after the funding, before the purchase; and a minute after the purchase.
            let between = typed(funded + 1_800_000)
            let page = try await client.send(.get, "/web/history?currency=USD&at=\(between.replacingOccurrences(of: ":", with: "%3A"))", headers: headers)
            #expect(page.status == .ok && page.text.contains("At \(between) UTC: 100.00 USD"), "\(page.text)")
            let after = typed(harness.clock.now() + 60_000)
            let later = try await client.send(.get, "/web/history?currency=USD&at=\(after)", headers: headers)
            #expect(later.status == .ok && later.text.contains("At \(after) UTC: 97.50 USD"), "\(later.text)")
            let refused = try await client.send(.get, "/web/history?currency=USD&at=2026-02-30T10%3A00", headers: headers)
            #expect(refused.status == .badRequest && refused.text.contains("A time is not valid") && refused.text.contains("Field: at"), "\(refused.text)")
        }
    }

    @Test("a datetime-local value is read as UTC; anything else is no time")
    func utcTimes() {
        #expect(WebController.utcMilliseconds("2026-12-01T09:30") == 1_796_117_400_000)
        #expect(WebController.utcMilliseconds("2024-02-29T23:59:59") == 1_709_251_199_000)
        #expect(WebController.utcMilliseconds("1970-01-01T00:00") == 0)
        for bad in ["2026-02-30T10:00", "2025-02-29T10:00", "2026-13-01T00:00", "2026-12-01T24:00", "2026-12-01T09:60", "2026-12-01 09:30",
                    "1969-12-31T23:59", "2026-12-1T09:30", "+2026-12-01T09:30", "2026-12-01T09:30:00:00", "2026-12-01T09:3a", ""] {
            #expect(WebController.utcMilliseconds(bad) == nil, "\(bad)")
        }
    }

    @Test("amounts typed in a currency's units become minor units, or are refused with the field")
    func amounts() throws {
        func parse(_ typed: String, _ code: String) -> Int64? {
            let form = WebForm(values: ["amount": typed])
            return try? form.amount("amount", Currency(code: code)!)
        }
        #expect(parse("12.50", "USD") == 1250)
        #expect(parse("12.5", "USD") == 1250)
        #expect(parse("12", "USD") == 1200)
        #expect(parse("0.01", "USD") == 1)
        #expect(parse("1500", "JPY") == 1500)
        #expect(parse("1.234", "KWD") == 1234)
        for bad in ["12.345", "-1", "0", "0.00", "1e3", "12.", ".5", "1,50", "abc", "", "92233720368547758.08", " 1 2"] {
            #expect(parse(bad, "USD") == nil, "\(bad)")
        }
        #expect(parse("1.5", "JPY") == nil)
        #expect(try WebForm(values: ["d": "7"]).seconds(ofDays: "d") == 604_800)
        for bad in ["-1", "1.5", "x", "213503982334602"] {
            #expect(throws: WebRefusal.self, "\(bad)") { try WebForm(values: ["d": bad]).seconds(ofDays: "d") }
        }
        #expect(WebController.format(NSNumber(value: 1250), Currency(code: "USD")) == "12.50")
        #expect(WebController.format(NSNumber(value: -5), Currency(code: "USD")) == "-0.05")
        #expect(WebController.format(NSNumber(value: 1234), Currency(code: "KWD")) == "1.234")
        #expect(WebController.format(NSNumber(value: 1500), Currency(code: "JPY")) == "1500")
    }
}

/// The customer-service console: the admin API's routes as forms.
@Suite("Web console for customer service")
struct ConsoleTests {
    /// The session ID a console's login answer sets: one cookie, `HttpOnly` on the console's
    /// path, holding a random ID and none of the credentials typed.
    static func session(_ login: APIHarness.Reply, cookie name: String, path: String, credentials: [String]) throws -> String {
        let set = login.headers[values: .setCookie]
        #expect(set.count == 1)
        let cookie = try #require(set.first)
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=\(path);"))
        #expect(cookie.contains("Max-Age=28800") && !cookie.contains("Secure"))
        for credential in credentials { #expect(!cookie.contains(credential)) }
        let value = String(try #require(cookie.split(separator: ";").first).dropFirst(name.count + 1))
        #expect(value.wholeMatch(of: /cs_[0-9a-f]{64}/) != nil, "\(value)")
        return value
    }

    static func cookies(_ session: String, _ name: String = ConsoleController.adminCookie) -> HTTPFields {
        [.cookie: "\(name)=\(session)", .contentType: "application/x-www-form-urlencoded"]
    }

    @Test("log in with the admin key, open an account, record and clear a cheque, look the wallet up; wrong keys, bad IDs and forged forms are refused")
    func console() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let wrong = try await WebTests.postLogin(client, "/web/admin", [("representative", "Rita"), ("key", "not the key")]).login
            #expect(wrong.status == .unauthorized && wrong.headers[.setCookie] == nil)
            let login = try await WebTests.postLogin(client, "/web/admin", [("representative", "Rita"), ("key", APIHarness.adminKey)]).login
            #expect(login.status == .seeOther, "\(login.text)")
            let session = try Self.session(login, cookie: ConsoleController.adminCookie, path: "/web/admin", credentials: [APIHarness.adminKey])
            let headers = Self.cookies(session)
            let page = try await client.send(.get, "/web/admin", headers: headers)
            #expect(page.status == .ok && page.text.contains("Open an account for a caller"))
            let csrf = try WebTests.csrf(page.text)
            // Neither the page nor its form token derive from the key: the token is the session's own.
            #expect(!page.text.contains(APIHarness.adminKey))
            #expect(csrf != String(SHA256.hash(Array("tally-console-form:\(APIHarness.adminKey)\nRita".utf8)).description.prefix(32)))

            let head = harness.api.journal.head
            let forged = try await client.send(.post, "/web/admin/open-account", headers: headers,
                                               body: WebTests.form([("login", "dora"), ("password", "a long password"), ("name", "Dora"), ("email", "d@example.org")]))
            #expect(forged.status == .forbidden)
            #expect(harness.api.journal.head == head)

            let opened = try await client.send(.post, "/web/admin/open-account", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("login", "dora"), ("password", "a long password"), ("name", "Dora"), ("email", "d@example.org"),
            ]))
            #expect(opened.status == .ok && opened.text.contains("Open an account for a caller: done."), "\(opened.text)")
            let user = try #require(opened.text.range(of: #"u_[0-9a-f]{24}"#, options: .regularExpression).map { String(opened.text[$0]) })
            // Dora calls later and gives her login name: the console finds her account by it.
            let found = try await client.send(.post, "/web/admin/find-account", headers: headers, body: WebTests.form([("csrf", csrf), ("login", "dora")]))
            #expect(found.status == .ok && found.text.contains(user) && found.text.contains("d@example.org"), "\(found.text)")
            let byEmail = try await client.send(.post, "/web/admin/find-by-email", headers: headers, body: WebTests.form([("csrf", csrf), ("email", "D@Example.org")]))
            #expect(byEmail.status == .ok && byEmail.text.contains(user) && byEmail.text.contains("&quot;dora&quot;"), "\(byEmail.text)")
            let newAddress = try await client.send(.post, "/web/admin/change-details", headers: headers,
                                                   body: WebTests.form([("csrf", csrf), ("user", user), ("name", ""), ("email", "dora@new.example")]))
            #expect(newAddress.status == .ok && newAddress.text.contains("dora@new.example") && newAddress.text.contains("&quot;Dora&quot;"), "\(newAddress.text)")
            // The representative's name is on the event.
            let events = try harness.api.journal.events(from: head + 1, limit: 10)
            #expect(events.contains { String(decoding: $0.payload, as: UTF8.self).contains("\"Rita\"") })

            // Dora opens her USD wallet; customer service records her cheque, pending until cleared.
            let dora = try await client.loginAs("dora", password: "a long password")
            #expect(try await client.user(dora, .post, "/v1/me/wallets", ["currency": "USD"]).status == .created)
            let cheque = try await client.send(.post, "/web/admin/add-funds", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("user", user), ("amount", "20.00"), ("currency", "USD"), ("method", "check"),
            ]))
            #expect(cheque.status == .ok && cheque.text.contains("&quot;pending&quot; : true"), "\(cheque.text)")
            let funding = try #require(cheque.text.range(of: #"f_[0-9a-f]{24}"#, options: .regularExpression).map { String(cheque.text[$0]) })
            // The cheque waits in the queue of pending funds until someone clears it.
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            let waiting = try await client.send(.post, "/web/admin/pending-funds", headers: headers, body: WebTests.form([("csrf", csrf)]))
            #expect(waiting.status == .ok && waiting.text.contains(funding) && waiting.text.contains("&quot;pending&quot;"), "\(waiting.text)")
            let notASequence = try await client.send(.post, "/web/admin/pending-funds", headers: headers, body: WebTests.form([("csrf", csrf), ("after", "1&limit=1")]))
            #expect(notASequence.status == .badRequest && notASequence.text.contains("Not a sequence"), "\(notASequence.text)")
            let cleared = try await client.send(.post, "/web/admin/clear-funds", headers: headers, body: WebTests.form([("csrf", csrf), ("funding", funding)]))
            #expect(cleared.status == .ok && cleared.text.contains("Clear pending funds: done."), "\(cleared.text)")
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            let looked = try await client.send(.post, "/web/admin/user-wallets", headers: headers, body: WebTests.form([("csrf", csrf), ("user", user)]))
            #expect(looked.status == .ok && looked.text.contains("&quot;balance&quot; : 2000"), "\(looked.text)")
            let settledCase = try await client.send(.post, "/web/admin/funding", headers: headers, body: WebTests.form([("csrf", csrf), ("funding", funding)]))
            #expect(settledCase.status == .ok && settledCase.text.contains("&quot;cleared&quot;"), "\(settledCase.text)")
            let dorasFunds = try await client.send(.post, "/web/admin/user-funds", headers: headers, body: WebTests.form([("csrf", csrf), ("user", user)]))
            #expect(dorasFunds.status == .ok && dorasFunds.text.contains(funding) && dorasFunds.text.contains("&quot;cleared&quot;"), "\(dorasFunds.text)")
            let drained = try await client.send(.post, "/web/admin/pending-funds", headers: headers, body: WebTests.form([("csrf", csrf)]))
            #expect(drained.status == .ok && !drained.text.contains(funding), "\(drained.text)")
            // Rita pays 5.00 back by cheque, under her own reference: recorded with her name; the same reference again is refused.
            let payBack = [("csrf", csrf), ("user", user), ("amount", "5.00"), ("currency", "USD"), ("method", "check"), ("payout", "rita-1")]
            let paid = try await client.send(.post, "/web/admin/pay-back", headers: headers, body: WebTests.form(payBack))
            #expect(paid.status == .ok && paid.text.contains("&quot;representative&quot; : &quot;Rita&quot;"), "\(paid.text)")
            let twice = try await client.send(.post, "/web/admin/pay-back", headers: headers, body: WebTests.form(payBack))
            #expect(twice.status == .conflict && twice.text.contains("Refused by ledger rule 53"), "\(twice.text)")
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            let dorasPayouts = try await client.send(.post, "/web/admin/user-payouts", headers: headers, body: WebTests.form([("csrf", csrf), ("user", user)]))
            #expect(dorasPayouts.status == .ok && dorasPayouts.text.contains("rita-1") && dorasPayouts.text.contains("&quot;amount&quot; : 500"), "\(dorasPayouts.text)")
            let onePayout = try await client.send(.post, "/web/admin/payout", headers: headers, body: WebTests.form([("csrf", csrf), ("payout", "rita-1")]))
            #expect(onePayout.status == .ok && onePayout.text.contains("&quot;check&quot;"), "\(onePayout.text)")
            // The pay-back form carries a once-token: posted twice, the money goes back once.
            let consolePage = try await client.send(.get, "/web/admin", headers: headers)
            let payBackForm = try #require(consolePage.text.components(separatedBy: "action=\"/web/admin/pay-back\"").dropFirst().first)
            let once = try WebTests.hiddenToken(payBackForm, WebForm.onceField)
            let onceBody = WebTests.form([("csrf", csrf), ("once", once), ("user", user), ("amount", "1.00"), ("currency", "USD"), ("method", "card")])
            let headBeforeOnce = harness.api.journal.head
            let paidOnce = try await client.send(.post, "/web/admin/pay-back", headers: headers, body: onceBody)
            let paidAgain = try await client.send(.post, "/web/admin/pay-back", headers: headers, body: onceBody)
            #expect(paidOnce.status == .ok && paidAgain.status == .ok && paidAgain.text.contains("done."), "\(paidAgain.text)")
            #expect(harness.api.journal.head == headBeforeOnce + 1)

            // An ID that would leave its path segment is refused before any request is made.
            let before = harness.api.journal.head
            let sneaky = try await client.send(.post, "/web/admin/clear-funds", headers: headers, body: WebTests.form([("csrf", csrf), ("funding", "../../accounts")]))
            #expect(sneaky.status == .badRequest && sneaky.text.contains("Not a valid ID"))
            let unknown = try await client.send(.post, "/web/admin/resolve-dispute", headers: headers,
                                                body: WebTests.form([("csrf", csrf), ("dispute", "d_nope"), ("outcome", "refund")]))
            #expect(unknown.status == .notFound && unknown.text.contains("Refused by ledger rule"), "\(unknown.text)")
            #expect(harness.api.journal.head == before)

            // Operations from the console: register a vendor (its key is shown once, and works),
            // give it another key, read a rights holder's statement, rotate the journal's key.
            let registered = try await client.send(.post, "/web/admin/register-vendor", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("name", "Shop & Co"), ("sites", "https://shop.example/ https://blog.example/"), ("feeBasisPoints", "500"),
                ("thresholdAmount", "10000"), ("currencyThresholds", "JPY=100000 EUR=5000"), ("periodDays", "7"),
            ]))
            #expect(registered.status == .ok && registered.text.contains("done.") && registered.text.contains("&quot;secret&quot;"), "\(registered.text)")
            let vendor = try #require(registered.text.range(of: #"v_[0-9a-f]{24}"#, options: .regularExpression).map { String(registered.text[$0]) })
            let keyID = try #require(registered.text.range(of: #"vk_[0-9a-f]{24}"#, options: .regularExpression).map { String(registered.text[$0]) })
            let secret = try #require(registered.text.range(of: #"[0-9a-f]{64}"#, options: .regularExpression).map { String(registered.text[$0]) })
            // The key signs a purchase by Dora, with a rights holder's 10 %.
            let sold = try await client.vendor(APIHarness.Vendor(id: vendor, keyID: keyID, secret: Hex.decode(secret) ?? []), .post, "/v1/vendor/purchases", [
                "purchaseToken": try await client.purchaseToken(dora), "inline": APIHarness.Client.inlineContent("essay", price: 500),
            ])
            #expect(sold.status == .created, "\(sold.text)")
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            let record = try #require(try harness.api.ledger.read { try $0.vendor(vendor) })
            #expect(record.sites == ["https://shop.example/", "https://blog.example/"] && record.feeBasisPoints == 500)
            #expect(record.settlement == SettlementPolicy(thresholdAmount: 10_000, periodSeconds: 7 * 86_400, currencyThresholds: ["JPY": 100_000, "EUR": 5_000]))
            let badThresholds = try await client.send(.post, "/web/admin/register-vendor", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("name", "Twice"), ("sites", "https://shop.example/"), ("feeBasisPoints", "500"), ("currencyThresholds", "JPY=1 JPY=2"),
            ]))
            #expect(badThresholds.status == .badRequest && badThresholds.text.contains("Field: currencyThresholds"), "\(badThresholds.text)")
            let noSites = try await client.send(.post, "/web/admin/register-vendor", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("name", "Nowhere"), ("sites", "ftp://x"), ("feeBasisPoints", "500"), ("thresholdAmount", "10000"),
            ]))
            #expect(noSites.status == .unprocessableContent && noSites.text.contains("Field: sites"), "\(noSites.text)")
            let renamed = try await client.send(.post, "/web/admin/update-vendor", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("vendor", vendor), ("name", "Shop & Sons"), ("sites", ""), ("feeBasisPoints", "450"),
            ]))
            #expect(renamed.status == .ok && renamed.text.contains("done."), "\(renamed.text)")
            let renamedRecord = try #require(try harness.api.ledger.read { try $0.vendor(vendor) })
            #expect(renamedRecord.name == "Shop & Sons" && renamedRecord.feeBasisPoints == 450 && renamedRecord.sites == record.sites)
            let anotherKey = try await client.send(.post, "/web/admin/vendor-key", headers: headers, body: WebTests.form([("csrf", csrf), ("vendor", vendor)]))
            #expect(anotherKey.status == .ok && anotherKey.text.contains("vk_") && !anotherKey.text.contains(keyID), "\(anotherKey.text)")
            let secondKey = try #require(anotherKey.text.range(of: #"vk_[0-9a-f]{24}"#, options: .regularExpression).map { String(anotherKey.text[$0]) })
            let listedKeys = try await client.send(.post, "/web/admin/vendor-keys", headers: headers, body: WebTests.form([("csrf", csrf), ("vendor", vendor)]))
            #expect(listedKeys.status == .ok && listedKeys.text.contains(keyID) && listedKeys.text.contains(secondKey) && !listedKeys.text.contains(secret))
            let revokedKey = try await client.send(.post, "/web/admin/revoke-vendor-key", headers: headers,
                                                   body: WebTests.form([("csrf", csrf), ("vendor", vendor), ("keyId", secondKey)]))
            #expect(revokedKey.status == .ok && revokedKey.text.contains("&quot;revoked&quot; : true"), "\(revokedKey.text)")
            #expect(try harness.api.credentials.vendorKeys(vendor: vendor).map(\.keyID) == [keyID])
            let statement = try await client.send(.post, "/web/admin/royalties", headers: headers, body: WebTests.form([("csrf", csrf), ("holder", "author-1")]))
            #expect(statement.status == .ok && statement.text.contains("A rights holder&#39;s royalty statement: done."), "\(statement.text)")
            #expect(statement.text.contains("&quot;amount&quot; : 50"), "\(statement.text)")
            // The holder's 50 is paid out from the console, once however often the form is posted.
            let royaltyForm = try #require(try await client.send(.get, "/web/admin", headers: headers).text
                .components(separatedBy: "action=\"/web/admin/pay-royalties\"").dropFirst().first)
            let royaltyBody = WebTests.form([("csrf", csrf), ("once", try WebTests.hiddenToken(royaltyForm, WebForm.onceField)),
                                             ("holder", "author-1"), ("currency", "USD"), ("payout", "")])
            let headBeforeRoyalties = harness.api.journal.head
            let royaltiesPaid = try await client.send(.post, "/web/admin/pay-royalties", headers: headers, body: royaltyBody)
            let royaltiesAgain = try await client.send(.post, "/web/admin/pay-royalties", headers: headers, body: royaltyBody)
            #expect(royaltiesPaid.status == .ok && royaltiesPaid.text.contains("&quot;amount&quot; : 50"), "\(royaltiesPaid.text)")
            #expect(royaltiesAgain.status == .ok, "\(royaltiesAgain.text)")
            #expect(harness.api.journal.head == headBeforeRoyalties + 1)
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            let royaltyPayouts = try await client.send(.post, "/web/admin/royalty-payouts", headers: headers,
                                                       body: WebTests.form([("csrf", csrf), ("holder", "author-1")]))
            #expect(royaltyPayouts.status == .ok && royaltyPayouts.text.contains("&quot;representative&quot; : &quot;Rita&quot;"), "\(royaltyPayouts.text)")
            let holderKey = try await client.send(.post, "/web/admin/holder-key", headers: headers, body: WebTests.form([("csrf", csrf), ("holder", "author-1")]))
            #expect(holderKey.status == .ok && holderKey.text.contains("hk_"), "\(holderKey.text)")
            let holderKeyID = try #require(holderKey.text.range(of: #"hkid_[0-9a-f]{24}"#, options: .regularExpression).map { String(holderKey.text[$0]) })
            let holderKeys = try await client.send(.post, "/web/admin/holder-keys", headers: headers, body: WebTests.form([("csrf", csrf), ("holder", "author-1")]))
            let holderSecret = try #require(holderKey.text.range(of: #"hk_[0-9a-f]{64}"#, options: .regularExpression).map { String(holderKey.text[$0]) })
            #expect(holderKeys.status == .ok && holderKeys.text.contains(holderKeyID) && !holderKeys.text.contains(holderSecret), "\(holderKeys.text)")
            let revokedHolderKey = try await client.send(.post, "/web/admin/revoke-holder-key", headers: headers,
                                                         body: WebTests.form([("csrf", csrf), ("holder", "author-1"), ("keyId", holderKeyID)]))
            #expect(revokedHolderKey.status == .ok && revokedHolderKey.text.contains("&quot;revoked&quot; : true"), "\(revokedHolderKey.text)")
            // A payout Dora asked for is found in the queue and paid from the console.
            let asked = try await client.user(dora, .post, "/v1/me/payout-requests", ["currency": "USD", "amount": 100, "method": "card"])
            let askedID = try #require(asked.json["payout"] as? String, "\(asked.text)")
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            let requestQueue = try await client.send(.post, "/web/admin/payout-requests", headers: headers, body: WebTests.form([("csrf", csrf), ("after", "")]))
            #expect(requestQueue.status == .ok && requestQueue.text.contains(askedID), "\(requestQueue.text)")
            let declineBlank = try await client.send(.post, "/web/admin/decline-request", headers: headers,
                                                     body: WebTests.form([("csrf", csrf), ("payout", askedID), ("reason", "")]))
            #expect(declineBlank.status == .badRequest, "\(declineBlank.text)")
            let paidRequest = try await client.send(.post, "/web/admin/pay-request", headers: headers, body: WebTests.form([("csrf", csrf), ("payout", askedID)]))
            #expect(paidRequest.status == .ok && paidRequest.text.contains("&quot;paid&quot;") && paidRequest.text.contains("Rita"), "\(paidRequest.text)")
            let keysBefore = try harness.api.journal.keyRecords().count
            let rotated = try await client.send(.post, "/web/admin/rotate-key", headers: headers, body: WebTests.form([("csrf", csrf)]))
            #expect(rotated.status == .ok && rotated.text.contains("done."), "\(rotated.text)")
            #expect(try harness.api.journal.keyRecords().count == keysBefore + 1)
            let noLot = try await client.send(.post, "/web/admin/expire-lot", headers: headers, body: WebTests.form([("csrf", csrf), ("lot", "l_nope")]))
            #expect(noLot.status == .notFound, "\(noLot.text)")

            // Erasing Dora needs the word typed; then her logins are gone.
            let unconfirmed = try await client.send(.post, "/web/admin/erase-person", headers: headers,
                                                    body: WebTests.form([("csrf", csrf), ("user", user), ("confirm", "yes")]))
            #expect(unconfirmed.status == .badRequest && unconfirmed.text.contains("Field: confirm"))
            #expect(try harness.api.identity.personalData(of: user) != nil)
            let withMoney = try await client.send(.post, "/web/admin/erase-person", headers: headers,
                                                  body: WebTests.form([("csrf", csrf), ("user", user), ("evenWithMoney", "no"), ("confirm", "ERASE")]))
            #expect(withMoney.status == .conflict && withMoney.text.contains("wallet:\(user):USD"), "\(withMoney.text)")
            #expect(try harness.api.identity.personalData(of: user) != nil)
            let erasedDora = try await client.send(.post, "/web/admin/erase-person", headers: headers,
                                                   body: WebTests.form([("csrf", csrf), ("user", user), ("evenWithMoney", "yes"), ("confirm", "ERASE")]))
            #expect(erasedDora.status == .ok && erasedDora.text.contains("&quot;loginsRemoved&quot; : 1"), "\(erasedDora.text)")
            #expect(try harness.api.identity.personalData(of: user) == nil)

            // Logging out ends the session on the server: the same cookie, replayed, opens nothing.
            let out = try await client.send(.post, "/web/admin/logout", headers: headers, body: WebTests.form([("csrf", csrf)]))
            #expect(out.status == .seeOther && out.headers[values: .setCookie].allSatisfy { $0.contains("Max-Age=0") })
            let replayed = try await client.send(.get, "/web/admin", headers: headers)
            #expect(replayed.status == .ok && replayed.text.contains("Admin key") && !replayed.text.contains("Open an account for a caller"))
            let afterOut = harness.api.journal.head
            let stale = try await client.send(.post, "/web/admin/incentive", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("user", user), ("amount", "1.00"), ("currency", "USD"),
            ]))
            #expect(stale.status == .seeOther && stale.headers[.location] == "/web/admin")
            #expect(harness.api.journal.head == afterOut)
            // A user's session is not an admin key.
            let asUser = try await client.send(.get, "/web/admin", headers: [.cookie: "\(WebController.cookieName)=x"])
            #expect(asUser.status == .ok && asUser.text.contains("Admin key"))
        }
    }
}

/// The consoles' sessions: held by the server, ended by time, logout and capacity.
@Suite("Console sessions")
struct ConsoleSessionTests {
    @Test("a console session ends 8 hours after its login: the cookie then opens the login page and its forms change nothing")
    func expiry() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let login = try await WebTests.postLogin(client, "/web/admin", [("representative", "Rita"), ("key", APIHarness.adminKey)]).login
            let session = try ConsoleTests.session(login, cookie: ConsoleController.adminCookie, path: "/web/admin", credentials: [APIHarness.adminKey])
            let page = try await client.send(.get, "/web/admin", headers: ConsoleTests.cookies(session))
            let csrf = try WebTests.csrf(page.text)
            harness.clock.advance(milliseconds: ConsoleSessions.lifetimeMilliseconds - 60_000)
            #expect(try await client.send(.get, "/web/admin", headers: ConsoleTests.cookies(session)).text.contains("Open an account for a caller"))
            harness.clock.advance(milliseconds: 60_000)
            let expired = try await client.send(.get, "/web/admin", headers: ConsoleTests.cookies(session))
            #expect(expired.status == .ok && expired.text.contains("Admin key") && !expired.text.contains("Open an account for a caller"))
            let head = harness.api.journal.head
            let late = try await client.send(.post, "/web/admin/settle", headers: ConsoleTests.cookies(session),
                                             body: WebTests.form([("csrf", csrf), ("vendor", "v_x"), ("currency", "USD")]))
            #expect(late.status == .seeOther && harness.api.journal.head == head)
            #expect(harness.api.consoleSessions.count == 0)
        }
    }

    @Test("with secureCookies every web cookie is marked Secure: the users' session and both consoles'")
    func secureCookies() async throws {
        let harness = try APIHarness { $0.settings.secureCookies = true }
        try await harness.run { client in
            _ = try await client.fundedUser("sam")
            let (userPage, user) = try await WebTests.postLogin(client, "/web", [("login", "sam"), ("password", "correct horse battery")])
            #expect(userPage.headers[values: .setCookie].allSatisfy { $0.hasSuffix("; Secure") && $0.contains("SameSite=Strict") })
            let admin = try await WebTests.postLogin(client, "/web/admin", [("representative", "Rita"), ("key", APIHarness.adminKey)]).login
            let vendor = try await client.registerVendor()
            let vendorLogin = try await WebTests.postLogin(client, "/web/vendor", [("keyID", vendor.keyID), ("secret", Hex.encode(vendor.secret))]).login
            for answer in [user, admin, vendorLogin] {
                #expect(answer.status == .seeOther, "\(answer.text)")
                let cookies = answer.headers[values: .setCookie]
                #expect(cookies.count == 1 && cookies.allSatisfy { $0.hasSuffix("; Secure") && $0.contains("HttpOnly") }, "\(cookies)")
            }
            let out = try await client.send(.post, "/web/logout", headers: WebTests.formType, body: WebTests.form([]))
            #expect(out.headers[values: .setCookie].allSatisfy { $0.contains("Max-Age=0") && $0.hasSuffix("; Secure") })
        }
    }

    @Test("a login form without its token, with another token, or with a token but no cookie is refused (login CSRF), for users and both consoles")
    func loginForgery() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            _ = try await client.fundedUser("tess")
            for (area, fields) in [("/web", [("login", "tess"), ("password", "correct horse battery")]),
                                   ("/web/admin", [("representative", "Rita"), ("key", APIHarness.adminKey)])] {
                let page = try await client.send(.get, area)
                let (token, cookie) = try WebTests.loginToken(page)
                let other = String(repeating: "0", count: 32)
                let attempts: [(HTTPFields, [(String, String)], String)] = [
                    ([.contentType: "application/x-www-form-urlencoded"], fields, "no token, no cookie"),
                    ([.contentType: "application/x-www-form-urlencoded", .origin: "null"], [(LoginFormToken.field, token)] + fields, "a token without its cookie, from an opaque origin"),
                    ([.contentType: "application/x-www-form-urlencoded", .cookie: cookie], fields, "the cookie without the token"),
                    ([.contentType: "application/x-www-form-urlencoded", .cookie: cookie], [(LoginFormToken.field, other)] + fields, "another token"),
                ]
                for (headers, body, what) in attempts {
                    let refused = try await client.send(.post, area + "/login", headers: headers, body: WebTests.form(body))
                    #expect(refused.status == .forbidden && refused.headers[values: .setCookie].isEmpty, "\(area): \(what): \(refused.status)")
                }
                // The page shown again keeps the same token, so an open page keeps working.
                let again = try await client.send(.get, area, headers: [.cookie: cookie])
                #expect(try WebTests.hiddenToken(again.text, LoginFormToken.field) == token && again.headers[values: .setCookie].isEmpty)
            }
            #expect(harness.api.consoleSessions.count == 0)
        }
    }

    @Test("the table holds at most its capacity: expired sessions go first, then the one that would expire first")
    func capacity() {
        let sessions = ConsoleSessions(capacity: 3)
        let a = sessions.open(.customerService, first: "k", second: "A", now: 1_000)
        let b = sessions.open(.vendor, first: "vk", second: "00", now: 2_000)
        let c = sessions.open(.customerService, first: "k", second: "C", now: 3_000)
        #expect(Set([a, b, c]).count == 3)
        #expect(sessions.session(a, kind: .customerService, now: 3_000)?.second == "A")
        #expect(sessions.session(b, kind: .customerService, now: 3_000) == nil)
        #expect(sessions.session(b, kind: .vendor, now: 3_000)?.first == "vk")
        // Full: the fourth drops the oldest (a), keeps b and c.
        let d = sessions.open(.customerService, first: "k", second: "D", now: 4_000)
        #expect(sessions.count == 3)
        #expect(sessions.session(a, kind: .customerService, now: 4_000) == nil)
        #expect(sessions.session(c, kind: .customerService, now: 4_000)?.second == "C")
        // Later, b and c have expired: the next login drops both, not d.
        let late = 3_000 + ConsoleSessions.lifetimeMilliseconds
        let e = sessions.open(.vendor, first: "vk2", second: "11", now: late)
        #expect(sessions.count == 2)
        #expect(sessions.session(d, kind: .customerService, now: late)?.second == "D")
        #expect(sessions.session(e, kind: .vendor, now: late)?.first == "vk2")
        #expect(sessions.session(d, kind: .customerService, now: late)?.csrf != sessions.session(e, kind: .vendor, now: late)?.csrf)
        sessions.close(d)
        #expect(sessions.session(d, kind: .customerService, now: late) == nil)
    }
}

/// The vendors' console: their API's routes as forms, signed with their key.
@Suite("Web console for vendors")
struct VendorConsoleTests {
    @Test("log in with a signing key, register content, see the settlement and a purchase; a wrong secret is refused")
    func vendorConsole() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let vendor = try await client.registerVendor()
            let secret = Hex.encode(vendor.secret)
            let wrong = try await WebTests.postLogin(client, "/web/vendor", [("keyID", vendor.keyID), ("secret", String(repeating: "ab", count: 32))]).login
            #expect(wrong.status == .unauthorized && wrong.headers[.setCookie] == nil, "\(wrong.text)")
            let login = try await WebTests.postLogin(client, "/web/vendor", [("keyID", vendor.keyID), ("secret", secret)]).login
            #expect(login.status == .seeOther, "\(login.text)")
            let session = try ConsoleTests.session(login, cookie: ConsoleController.vendorCookie, path: "/web/vendor", credentials: [vendor.keyID, secret])
            let headers = ConsoleTests.cookies(session, ConsoleController.vendorCookie)
            let page = try await client.send(.get, "/web/vendor", headers: headers)
            #expect(page.status == .ok && page.text.contains("Register content") && !page.text.contains(secret))
            let csrf = try WebTests.csrf(page.text)
            // A vendor's session is no customer-service session, even under the admin cookie's name.
            let crossed = try await client.send(.get, "/web/admin", headers: ConsoleTests.cookies(session))
            #expect(crossed.status == .ok && crossed.text.contains("Admin key"))

            let registered = try await client.send(.post, "/web/vendor/content", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("content", "essay-1"), ("title", "An essay"), ("price", "1.25"), ("currency", "USD"),
                ("url", "https://shop.example/essays/1"), ("description", ""), ("views", "3"), ("days", ""), ("holder", "author-9"), ("basisPoints", "1500"),
            ]))
            #expect(registered.status == .ok && registered.text.contains("Register content: done."), "\(registered.text)")
            // The catalog holds it: a user buys it by its ID, at the price typed in dollars.
            let user = try await client.fundedUser("erin")
            let bought = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": try await client.purchaseToken(user), "content": "essay-1"])
            #expect(bought.status == .created && bought.json["amount"] as? Int == 125, "\(bought.text)")
            let transaction = try #require(bought.json["transaction"] as? String)
            let status = try await client.send(.post, "/web/vendor/purchase", headers: headers, body: WebTests.form([("csrf", csrf), ("transaction", transaction)]))
            #expect(status.status == .ok && status.text.contains("&quot;status&quot; : &quot;captured&quot;"), "\(status.text)")
            // Found again by the vendor's own reference, typed as it was sent (a space, a slash, an ampersand).
            let referenced = try await client.vendor(vendor, .post, "/v1/vendor/purchases", [
                "purchaseToken": try await client.purchaseToken(user), "content": "essay-1", "vendorData": ["reference": "order 7/a&b"],
            ])
            let referencedID = try #require(referenced.json["transaction"] as? String, "\(referenced.text)")
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            let byReference = try await client.send(.post, "/web/vendor/purchases-by-reference", headers: headers,
                                                    body: WebTests.form([("csrf", csrf), ("reference", "order 7/a&b")]))
            #expect(byReference.status == .ok && byReference.text.contains(referencedID) && !byReference.text.contains(transaction), "\(byReference.text)")
            // The buyer disputes it: the vendor's console lists the dispute under its pseudonym.
            let disputed = try await client.user(user, .post, "/v1/me/disputes", ["transaction": transaction, "reason": "too short"])
            #expect(disputed.status == .created, "\(disputed.text)")
            #expect(await harness.api.projections.waitUntil(sequence: harness.api.journal.head, timeout: .seconds(10)))
            let disputes = try await client.send(.post, "/web/vendor/disputes", headers: headers, body: WebTests.form([("csrf", csrf)]))
            #expect(disputes.status == .ok && disputes.text.contains(transaction) && disputes.text.contains("&quot;open&quot;"), "\(disputes.text)")
            #expect(!disputes.text.contains(user.id) && !disputes.text.contains("too short"))
            // A URL off the vendor's sites is the ledger's refusal, shown with its field.
            let offSite = try await client.send(.post, "/web/vendor/content", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("content", "essay-2"), ("title", "Elsewhere"), ("price", "1.00"), ("currency", "USD"), ("url", "https://other.example/x"),
            ]))
            #expect(offSite.status == .unprocessableContent && offSite.text.contains("Field: url"), "\(offSite.text)")
            // The referral reward, typed in the currency's units and days.
            let policy = try await client.send(.post, "/web/vendor/referral-policy", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("currency", "USD"), ("rewardAmount", "2.00"), ("minimumSpend", "10.00"), ("confirmationDays", "14"),
            ]))
            #expect(policy.status == .ok && policy.text.contains("Your referral reward: done."), "\(policy.text)")
            let referral = try harness.api.ledger.read { try $0.referralPolicy(vendor: vendor.id) }
            #expect(referral == ReferralPolicy(currency: Currency(code: "USD")!, rewardAmount: 200, minimumSpend: 1000, confirmationSeconds: 14 * 86_400))
            // An access grant the customer brings, checked by the vendor.
            let opened = try await client.user(user, .post, "/v1/me/purchases/\(transaction)/access")
            let grant = try #require(opened.json["grant"] as? String, "\(opened.text)")
            let checked = try await client.send(.post, "/web/vendor/access-grant", headers: headers, body: WebTests.form([("csrf", csrf), ("grant", grant)]))
            #expect(checked.status == .ok && checked.text.contains(transaction), "\(checked.text)")
            let forged = try await client.send(.post, "/web/vendor/access-grant", headers: headers, body: WebTests.form([("csrf", csrf), ("grant", "ag_AAAA")]))
            #expect(forged.status == .notFound && forged.text.contains("No such access grant"), "\(forged.text)")

            // Refunds: the disputed purchase is customer service's to decide; another is refunded,
            // once however often its form is posted.
            let refundForm = try #require(page.text.components(separatedBy: "action=\"/web/vendor/refund\"").dropFirst().first)
            let once = try WebTests.hiddenToken(refundForm, WebForm.onceField)
            let inDispute = try await client.send(.post, "/web/vendor/refund", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("once", once), ("transaction", transaction), ("reason", "sorry"),
            ]))
            #expect(inDispute.status == .unprocessableContent && inDispute.text.contains("customer service"), "\(inDispute.text)")
            let another = try await client.vendor(vendor, .post, "/v1/vendor/purchases", ["purchaseToken": try await client.purchaseToken(user), "content": "essay-1"])
            let anotherID = try #require(another.json["transaction"] as? String)
            // Part of the price first, in minor units; a typed amount that is not one is refused.
            let oncePart = try WebTests.hiddenToken(
                try #require(try await client.send(.get, "/web/vendor", headers: headers).text
                    .components(separatedBy: "action=\"/web/vendor/refund\"").dropFirst().first), WebForm.onceField)
            #expect(refundForm.contains("name=\"amount\""))
            let notMinorUnits = try await client.send(.post, "/web/vendor/refund", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("once", oncePart), ("transaction", anotherID), ("amount", "2.50"), ("reason", "late"),
            ]))
            #expect(notMinorUnits.status == .badRequest && notMinorUnits.text.contains("An amount is not valid"), "\(notMinorUnits.text)")
            let part = try await client.send(.post, "/web/vendor/refund", headers: headers, body: WebTests.form([
                ("csrf", csrf), ("once", oncePart), ("transaction", anotherID), ("amount", "25"), ("reason", "late"),
            ]))
            #expect(part.status == .ok && part.text.contains("&quot;refunded&quot; : 25"), "\(part.text)")
            #expect(try harness.api.ledger.read { try $0.transaction(anotherID) }?.refunded == 25)
            let onceAgain = try WebTests.hiddenToken(
                try #require(try await client.send(.get, "/web/vendor", headers: headers).text
                    .components(separatedBy: "action=\"/web/vendor/refund\"").dropFirst().first), WebForm.onceField)
            let refundBody = WebTests.form([("csrf", csrf), ("once", onceAgain), ("transaction", anotherID), ("reason", "wrong essay")])
            let headBeforeRefund = harness.api.journal.head
            let refunded = try await client.send(.post, "/web/vendor/refund", headers: headers, body: refundBody)
            let refundedAgain = try await client.send(.post, "/web/vendor/refund", headers: headers, body: refundBody)
            #expect(refunded.status == .ok && refunded.text.contains("&quot;refunded&quot;"), "\(refunded.text)")
            #expect(refundedAgain.status == .ok && refundedAgain.text.contains("done."), "\(refundedAgain.text)")
            #expect(harness.api.journal.head == headBeforeRefund + 1)
            #expect(try harness.api.ledger.read { try $0.transaction(anotherID) }?.status == .refunded)
        }
    }
}
