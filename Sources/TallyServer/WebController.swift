import Foundation
import HTTPTypes
import Hummingbird
import Ledger
import TallyCrypto

/// The web interface for users (mission claims 35, 36 and 40): log in, see every wallet and the
/// purchases across vendors, add funds by method and currency, open a wallet, set and remove
/// spending limits, transfer tokens, dispute a purchase, open purchased content. Pages are
/// rendered on the server as plain HTML forms: no script runs in the browser.
///
/// Every action is the JSON API's own route, called in process with the session the page's
/// cookie holds: the same validation, rules and refusals as `/v1`, and the same journal events.
/// A refusal is shown on the page with its problem's title, detail and field.
///
/// The session travels in an `HttpOnly`, `SameSite=Strict` cookie limited to `/web`; every form
/// also carries a token derived from the session (`csrf`), so a form posted from another site is
/// refused even by a browser that ignores `SameSite`. Pages forbid framing and scripts
/// (`Content-Security-Policy`) and are never cached.
struct WebController {
    let api: TallyAPI
    /// The `/v1` routes, answered in process.
    let inProcess: InProcessAPI

    /// `forwarding`: the page's request, whose `X-Forwarded-For` the call carries, so that the
    /// login throttle counts a password sent from behind a trusted proxy under its client.
    func call(
        _ method: HTTPRequest.Method, _ path: String, session: String? = nil, body: [String: Any]? = nil, idempotencyKey: String? = nil,
        forwarding request: Request? = nil, context: TallyContext
    ) async throws -> InProcessAPI.Answer {
        try await inProcess.call(
            method, path, as: session.map { .bearer($0) } ?? .anonymous, body: body, idempotencyKey: idempotencyKey,
            forwardedFor: request.map { $0.headers[values: ClientAddress.forwardedFor] } ?? [], context: context)
    }

    static let cookieName = "tally_session"

    func addRoutes(to router: Router<TallyContext>) {
        router.get("web") { request, context in try await home(request, context) }
        router.get("web/tally.css") { _, _ in Self.stylesheet() }
        router.post("web/login") { request, context in try await login(request, context) }
        router.post("web/logout") { request, context in try await logout(request, context) }
        router.post("web/wallets") { request, context in
            try await act(request, context, "/v1/me/wallets") { ["currency": try $0.currency("currency").code] }
        }
        router.post("web/funds") { request, context in
            try await act(request, context, "/v1/me/funds", once: true) { form in
                let currency = try form.currency("currency")
                return ["currency": currency.code, "amount": try form.amount("amount", currency), "method": try form.text("method")]
            }
        }
        router.post("web/limits") { request, context in
            try await act(request, context, "/v1/me/limits") { form in
                let currency = try form.currency("currency")
                var body: [String: Any] = ["kind": try form.text("kind"), "currency": currency.code, "amount": try form.amount("amount", currency)]
                if let vendor = form.optional("vendor") { body["vendor"] = vendor }
                return body
            }
        }
        router.post("web/limits/remove") { request, context in
            try await act(request, context, "/v1/me/limits/remove") { form in
                let currency = try form.currency("currency")
                var body: [String: Any] = ["kind": try form.text("kind"), "currency": currency.code, "amount": try form.minorUnits("amount")]
                if let vendor = form.optional("vendor") { body["vendor"] = vendor }
                return body
            }
        }
        router.post("web/transfers") { request, context in
            try await act(request, context, "/v1/me/transfers", once: true) { form in
                let currency = try form.currency("currency")
                return ["toLogin": try form.text("toLogin"), "currency": currency.code, "amount": try form.amount("amount", currency)]
            }
        }
        router.post("web/payout-requests") { request, context in
            try await act(request, context, "/v1/me/payout-requests", once: true) { form in
                let currency = try form.currency("currency")
                return ["currency": currency.code, "amount": try form.amount("amount", currency), "method": try form.text("method")]
            }
        }
        router.post("web/disputes") { request, context in
            try await act(request, context, "/v1/me/disputes") { ["transaction": try $0.text("transaction"), "reason": try $0.text("reason")] }
        }
        router.post("web/password") { request, context in
            try await act(request, context, "/v1/me/password") {
                ["login": try $0.text("login"), "currentPassword": try $0.text("currentPassword"), "newPassword": try $0.text("newPassword")]
            }
        }
        router.post("web/details") { request, context in
            try await act(request, context, method: .patch, done: "details") { ("/v1/me", $0.filled("name", "email")) }
        }
        router.post("web/members") { request, context in
            try await act(request, context, "/v1/me/members") { ["login": try $0.text("login"), "password": try $0.text("password")] }
        }
        router.post("web/members/remove") { request, context in
            try await act(request, context, method: .delete, done: "member-removed") { form in
                guard let member = InProcessAPI.segment(try form.text("member")) else {
                    throw WebRefusal(title: "No such member", detail: nil, field: "member")
                }
                return ("/v1/me/members/\(member)", nil)
            }
        }
        router.post("web/access") { request, context in try await access(request, context) }
        router.post("web/purchase-token") { request, context in try await purchaseToken(request, context) }
        router.get("web/history") { request, context in try await history(request, context) }
        router.get("web/cases/:list") { request, context in try await olderCases(request, context) }
    }

    // MARK: Pages

    func home(_ request: Request, _ context: TallyContext) async throws -> Response {
        guard let session = Self.session(request) else { return loginPage(request, notice: nil, status: .ok) }
        let query = request.uri.queryParameters
        let minSequence = query.get("minSequence").flatMap { UInt64($0) }
        return try await dashboard(
            session: session, context: context, notice: query.get("done").map { .done(Self.doneText($0)) }, minSequence: minSequence,
            before: query.get("before").flatMap { UInt64($0) })
    }

    enum Notice {
        case done(String)
        case refused(WebRefusal)
    }

    /// The account's page; `minSequence` (the sequence of the write just made) makes the reads
    /// wait until the read models reflect it, and `before` shows the purchases older than a
    /// page's last.
    func dashboard(
        session: String, context: TallyContext, notice: Notice?, status: HTTPResponse.Status = .ok, minSequence: UInt64? = nil,
        before: UInt64? = nil
    ) async throws -> Response {
        let me = try await call(.get, "/v1/me", session: session, context: context)
        guard me.status == 200, let profile = me.json as? [String: Any] else {
            // The session ended (expired, logged out elsewhere): log in again.
            var html = HTML()
            html.raw("<header><h1>Tally</h1></header>")
            html.notice(.refused(WebRefusal(title: "Your session has ended; log in again", detail: nil, field: nil)))
            html.raw("<p><a href=\"/web\">Log in</a></p>")
            return page(html, status: .unauthorized, clearCookie: true)
        }
        let wait = minSequence.map { "minSequence=\($0)" }
        let wallets = try await call(.get, "/v1/me/wallets" + (wait.map { "?" + $0 } ?? ""), session: session, context: context)
        let purchases = try await call(
            .get, "/v1/me/purchases?limit=100" + (wait.map { "&" + $0 } ?? "") + (before.map { "&before=\($0)" } ?? ""), session: session, context: context)
        var cases: [(list: CaseList, page: CasePage)] = []
        for list in CaseList.allCases {
            cases.append((list, try await casePage(list, session: session, context: context, query: wait)))
        }
        let account = (wallets.json as? [String: Any])?["data"] as? [String: Any] ?? [:]
        let listed = (purchases.json as? [String: Any])?["data"] as? [String: Any]
        let list = listed?["purchases"] as? [[String: Any]] ?? []
        var html = HTML()
        let name = profile["name"] as? String ?? (profile["user"] as? String ?? "")
        html.raw("<header><h1>Tally</h1><p>Signed in as ")
        html.text(name)
        if let member = profile["member"] as? String { html.raw(" (member "); html.text(member); html.raw(")") }
        html.raw("</p>")
        html.form(action: "/web/logout", csrf: Self.csrf(session)) { $0.raw("<button>Log out</button>") }
        html.form(action: "/web/purchase-token", csrf: Self.csrf(session)) { $0.raw("<button>Get a purchase token for a vendor's site</button>") }
        html.raw("</header>")
        html.notice(notice)
        renderWallets(&html, account["wallets"] as? [[String: Any]] ?? [], csrf: Self.csrf(session))
        for (list, page) in cases { renderCaseList(&html, list, page) }
        renderPurchases(&html, list, csrf: Self.csrf(session), older: (listed?["nextBefore"] as? NSNumber).map { "/web?before=\($0.uint64Value)" })
        renderLimits(&html, account["spendingLimits"] as? [[String: Any]] ?? [], csrf: Self.csrf(session))
        renderTransfer(&html, csrf: Self.csrf(session))
        if profile["member"] == nil { renderPayoutRequest(&html, csrf: Self.csrf(session)) }
        renderMembers(&html, profile["members"] as? [String] ?? [], isHolder: profile["member"] == nil, csrf: Self.csrf(session))
        if profile["member"] == nil { renderDetails(&html, csrf: Self.csrf(session)) }
        renderPassword(&html, csrf: Self.csrf(session))
        return page(html, status: status)
    }

    private func renderWallets(_ html: inout HTML, _ wallets: [[String: Any]], csrf: String) {
        html.raw("<section><h2>Wallets</h2><table><tr><th>Currency</th><th>Balance</th><th>Held</th><th>Pending</th><th>Incentives</th><th>Paying out</th><th>Credit line</th><th></th></tr>")
        for wallet in wallets {
            let code = wallet["currency"] as? String ?? ""
            let currency = Currency(code: code)
            html.raw("<tr><td>"); html.text(code); html.raw("</td>")
            for key in ["balance", "held", "pending", "incentives", "outgoing"] {
                html.raw("<td class=\"n\">"); html.text(Self.format(wallet[key], currency)); html.raw("</td>")
            }
            html.raw("<td class=\"n\">"); html.text(Self.format(wallet["creditInUse"], currency) + " of " + Self.format(wallet["creditLimit"], currency))
            html.raw("</td><td><a href=\"/web/history?currency=")
            html.text(code)
            html.raw("\">History</a></td></tr>")
        }
        html.raw("</table>")
        if wallets.isEmpty { html.raw("<p>No wallet yet: open one below.</p>") }
        html.form(action: "/web/funds", csrf: csrf) { form in
            form.onceToken()
            form.raw("<h3>Add funds</h3>")
            form.field("amount", label: "Amount", placeholder: "12.50")
            form.currencySelect()
            form.select("method", label: "Paid by", options: FundingMethod.allCases.filter { $0 != .providerIssue }.map { ($0.rawValue, Self.methodName($0)) })
            form.raw("<button>Add funds</button><p class=\"hint\">Cheques, money orders, purchase orders, phone, ISP, utility and mailed bills stay pending until customer service clears them.</p>")
        }
        html.form(action: "/web/wallets", csrf: csrf) { form in
            form.raw("<h3>Open a wallet</h3>")
            form.currencySelect()
            form.raw("<button>Open</button>")
        }
        html.raw("</section>")
    }

    /// The account's business with customer service, each list newest first, 100 at a time
    /// with a link to the older ones: its offline funds not yet cleared, its disputes (open or
    /// decided), the payouts it asked for (as each stands) and the money paid back to it.
    enum CaseList: String, CaseIterable {
        case pendingFunds = "pending-funds", disputes, payoutRequests = "payout-requests", payouts

        /// The API route of the list's first page (`&before=` pages on).
        var path: String {
            switch self {
            case .pendingFunds: return "/v1/me/funds?status=pending&limit=100"
            case .disputes: return "/v1/me/disputes?limit=100"
            case .payoutRequests: return "/v1/me/payout-requests?limit=100"
            case .payouts: return "/v1/me/payouts?limit=100"
            }
        }

        var itemsKey: String {
            switch self {
            case .pendingFunds: return "fundings"
            case .disputes: return "disputes"
            case .payoutRequests: return "requests"
            case .payouts: return "payouts"
            }
        }
    }

    struct CasePage {
        var rows: [[String: Any]]
        /// The page of older ones, when there are any.
        var older: String?
    }

    /// One page of a list (`query` adds `minSequence=` or `before=`).
    func casePage(_ list: CaseList, session: String, context: TallyContext, query: String?) async throws -> CasePage {
        let answer = try await call(.get, list.path + (query.map { "&" + $0 } ?? ""), session: session, context: context)
        let data = (answer.json as? [String: Any])?["data"] as? [String: Any]
        return CasePage(rows: data?[list.itemsKey] as? [[String: Any]] ?? [],
                        older: (data?["nextBefore"] as? NSNumber).map { "/web/cases/\(list.rawValue)?before=\($0.uint64Value)" })
    }

    /// A page of older cases of one list, with a link to the next older page.
    func olderCases(_ request: Request, _ context: TallyContext) async throws -> Response {
        guard let session = Self.session(request) else { return Self.redirect("/web", cookie: nil) }
        guard let list = context.parameters.get("list").flatMap(CaseList.init(rawValue:)),
              let before = request.uri.queryParameters.get("before").flatMap({ UInt64($0) })
        else {
            return try await dashboard(session: session, context: context, notice: .refused(WebRefusal(title: "No such list", detail: nil, field: nil)),
                                       status: .notFound)
        }
        var html = HTML()
        html.raw("<header><h1>Tally</h1><p><a href=\"/web\">Back</a></p></header>")
        let page = try await casePage(list, session: session, context: context, query: "before=\(before)")
        if page.rows.isEmpty { html.raw("<p>Nothing older.</p>") }
        renderCaseList(&html, list, page)
        return self.page(html, status: .ok)
    }

    /// One list's table (nothing when it is empty), and the link to older ones.
    private func renderCaseList(_ html: inout HTML, _ list: CaseList, _ page: CasePage) {
        switch list {
        case .pendingFunds:
            moneyTable(&html, "Funds waiting to clear", columns: ("Added", "Paid by"), time: "addedAtMilliseconds", page.rows)
        case .payouts:
            moneyTable(&html, "Paid back to you", columns: ("When", "Sent by"), time: "returnedAtMilliseconds", page.rows)
        case .disputes:
            renderDisputes(&html, page.rows)
        case .payoutRequests:
            renderPayoutRequests(&html, page.rows)
        }
        if let older = page.older { html.raw("<p><a href=\"\(older)\">Older</a></p>") }
    }

    private func renderDisputes(_ html: inout HTML, _ disputes: [[String: Any]]) {
        if !disputes.isEmpty {
            html.raw("<section><h2>Your disputes</h2><table><tr><th>Opened</th><th>Transaction</th><th>Reason</th><th>Status</th><th>Disputed</th><th>Refunded</th></tr>")
            for dispute in disputes {
                let code = dispute["currency"] as? String ?? ""
                html.raw("<tr><td>"); html.text(Self.utcText(dispute["openedAtMilliseconds"]))
                html.raw("</td><td>"); html.text(dispute["transaction"] as? String ?? "")
                html.raw("</td><td>"); html.text(dispute["reason"] as? String ?? "")
                html.raw("</td><td>"); html.text(dispute["status"] as? String ?? "")
                html.raw("</td><td class=\"n\">"); html.text(Self.format(dispute["disputed"], Currency(code: code)) + " " + code)
                html.raw("</td><td class=\"n\">")
                if dispute["refunded"] != nil { html.text(Self.format(dispute["refunded"], Currency(code: code)) + " " + code) }
                html.raw("</td></tr>")
            }
            html.raw("</table></section>")
        }
    }

    private func renderPayoutRequests(_ html: inout HTML, _ requests: [[String: Any]]) {
        if !requests.isEmpty {
            html.raw("<section><h2>Payouts you asked for</h2><table><tr><th>Asked</th><th>By</th><th>Amount</th><th>Status</th><th>Why declined</th></tr>")
            for request in requests {
                let code = request["currency"] as? String ?? ""
                html.raw("<tr><td>"); html.text(Self.utcText(request["requestedAtMilliseconds"]))
                html.raw("</td><td>"); html.text((request["method"] as? String).flatMap(FundingMethod.init(rawValue:)).map(Self.methodName) ?? "")
                html.raw("</td><td class=\"n\">"); html.text(Self.format(request["amount"], Currency(code: code)) + " " + code)
                html.raw("</td><td>"); html.text(request["status"] as? String ?? "")
                html.raw("</td><td>"); html.text(request["reason"] as? String ?? "")
                html.raw("</td></tr>")
            }
            html.raw("</table></section>")
        }
    }

    /// A table of money moved by a method (funds waiting to clear, payouts): when, how, how much.
    /// Nothing when there are no rows.
    private func moneyTable(_ html: inout HTML, _ title: String, columns: (time: String, method: String), time: String, _ rows: [[String: Any]]) {
        guard !rows.isEmpty else { return }
        html.raw("<section><h2>"); html.text(title)
        html.raw("</h2><table><tr><th>"); html.text(columns.time); html.raw("</th><th>"); html.text(columns.method)
        html.raw("</th><th>Amount</th></tr>")
        for row in rows {
            let code = row["currency"] as? String ?? ""
            html.raw("<tr><td>"); html.text(Self.utcText(row[time]))
            html.raw("</td><td>"); html.text((row["method"] as? String).flatMap(FundingMethod.init(rawValue:)).map(Self.methodName) ?? "")
            html.raw("</td><td class=\"n\">"); html.text(Self.format(row["amount"], Currency(code: code)) + " " + code)
            html.raw("</td></tr>")
        }
        html.raw("</table></section>")
    }

    private func renderPurchases(_ html: inout HTML, _ purchases: [[String: Any]], csrf: String, older: String?) {
        html.raw("<section><h2>Purchases, across every vendor</h2>")
        guard !purchases.isEmpty else {
            html.raw("<p>No purchases yet.</p></section>")
            return
        }
        html.raw("<table><tr><th>Title</th><th>Vendor</th><th>Price</th><th>Status</th><th>Access left</th><th></th></tr>")
        for purchase in purchases {
            let transaction = purchase["transaction"] as? String ?? ""
            let status = purchase["status"] as? String ?? ""
            html.raw("<tr><td>"); html.text(purchase["title"] as? String ?? "")
            html.raw("</td><td>"); html.text(purchase["vendor"] as? String ?? "")
            html.raw("</td><td class=\"n\">")
            html.text(Self.format(purchase["price"], (purchase["currency"] as? String).flatMap { Currency(code: $0) }) + " " + (purchase["currency"] as? String ?? ""))
            html.raw("</td><td>"); html.text(status)
            html.raw("</td><td>"); html.text(Self.remaining(purchase["remaining"] as? [String: Any]))
            html.raw("</td><td>")
            if status == "captured" || status == "disputed" {
                html.form(action: "/web/access", csrf: csrf, inline: true) { form in
                    form.hidden("transaction", transaction)
                    form.raw("<button>Open</button>")
                }
            }
            if status == "captured" {
                html.form(action: "/web/disputes", csrf: csrf, inline: true) { form in
                    form.hidden("transaction", transaction)
                    form.field("reason", label: "Reason", placeholder: "why")
                    form.raw("<button>Dispute</button>")
                }
            }
            html.raw("</td></tr>")
        }
        html.raw("</table>")
        if let older { html.raw("<p><a href=\"\(older)\">Older purchases</a></p>") }
        html.raw("</section>")
    }

    private func renderLimits(_ html: inout HTML, _ limits: [[String: Any]], csrf: String) {
        html.raw("<section><h2>Spending limits</h2>")
        if limits.isEmpty { html.raw("<p>None set.</p>") }
        for limit in limits {
            let code = limit["currency"] as? String ?? ""
            html.form(action: "/web/limits/remove", csrf: csrf, inline: true) { form in
                form.raw("<p>")
                form.text("\(Self.limitName(limit["kind"] as? String ?? "")): \(Self.format(limit["amount"], Currency(code: code))) \(code)")
                if let vendor = limit["vendor"] as? String { form.text(" at " + vendor) }
                form.hidden("kind", limit["kind"] as? String ?? "")
                form.hidden("currency", code)
                form.hidden("amount", "\(limit["amount"] as? Int64 ?? (limit["amount"] as? NSNumber)?.int64Value ?? 0)")
                if let vendor = limit["vendor"] as? String { form.hidden("vendor", vendor) }
                form.raw(" <button>Remove</button></p>")
            }
        }
        html.form(action: "/web/limits", csrf: csrf) { form in
            form.raw("<h3>Set a limit</h3>")
            form.select("kind", label: "Kind", options: [("perTransaction", "Per purchase"), ("perDay", "Per day"), ("perWeek", "Per week"),
                                                           ("perMonth", "Per month"), ("perVendorMonth", "Per vendor, per month")])
            form.field("amount", label: "Amount", placeholder: "5.00")
            form.currencySelect()
            form.field("vendor", label: "Vendor (per-vendor limit)", placeholder: "v_…", required: false)
            form.raw("<button>Set limit</button>")
        }
        html.raw("</section>")
    }

    private func renderMembers(_ html: inout HTML, _ members: [String], isHolder: Bool, csrf: String) {
        html.raw("<section><h2>Members</h2><p>Members share this account's wallets, each with a login of their own.</p>")
        for member in members {
            html.form(action: "/web/members/remove", csrf: csrf, inline: true) { form in
                form.raw("<p>")
                form.text(member)
                form.hidden("member", member)
                if isHolder { form.raw(" <button>Remove</button>") }
                form.raw("</p>")
            }
        }
        if isHolder {
            html.form(action: "/web/members", csrf: csrf) { form in
                form.raw("<h3>Add a member</h3>")
                form.field("login", label: "Their login name", placeholder: "login")
                form.field("password", label: "Their first password", placeholder: "", type: "password")
                form.raw("<button>Add member</button>")
            }
        }
        html.raw("</section>")
    }

    /// The holder's name and e-mail address (a member's page has no such form).
    private func renderDetails(_ html: inout HTML, csrf: String) {
        html.raw("<section><h2>Your name and e-mail address</h2>")
        html.form(action: "/web/details", csrf: csrf) { form in
            form.field("name", label: "New name (blank keeps it)", placeholder: "", required: false)
            form.field("email", label: "New e-mail address (blank keeps it)", placeholder: "name@example.org", type: "email", required: false)
            form.raw("<button>Change</button>")
        }
        html.raw("</section>")
    }

    private func renderPassword(_ html: inout HTML, csrf: String) {
        html.raw("<section><h2>Change your password</h2>")
        html.form(action: "/web/password", csrf: csrf) { form in
            form.field("login", label: "Login name", placeholder: "login")
            form.field("currentPassword", label: "Current password", placeholder: "", type: "password")
            form.field("newPassword", label: "New password (10 characters or more)", placeholder: "", type: "password")
            form.raw("<button>Change</button>")
        }
        html.raw("</section>")
    }

    /// The holder asks for tokens back out of Tally (customer service sends them).
    private func renderPayoutRequest(_ html: inout HTML, csrf: String) {
        html.raw("<section><h2>Ask for tokens back</h2>")
        html.form(action: "/web/payout-requests", csrf: csrf) { form in
            form.onceToken()
            form.field("amount", label: "Amount", placeholder: "10.00")
            form.currencySelect()
            form.select("method", label: "Send it by", options: FundingMethod.allCases.filter { $0 != .providerIssue }.map { ($0.rawValue, Self.methodName($0)) })
            form.raw("<button>Ask</button><p class=\"hint\">The amount is set aside from your wallet at once; customer service sends it, or gives it back with a reason.</p>")
        }
        html.raw("</section>")
    }

    private func renderTransfer(_ html: inout HTML, csrf: String) {
        html.raw("<section><h2>Transfer tokens</h2>")
        html.form(action: "/web/transfers", csrf: csrf) { form in
            form.onceToken()
            form.field("toLogin", label: "To (login name)", placeholder: "login")
            form.field("amount", label: "Amount", placeholder: "1.00")
            form.currencySelect()
            form.raw("<button>Transfer</button>")
        }
        html.raw("</section>")
    }

    func loginForm(notice: Notice?, token: String) -> HTML {
        var html = HTML()
        html.raw("<header><h1>Tally</h1><p>One login for every vendor site.</p></header>")
        html.notice(notice)
        html.form(action: "/web/login", csrf: nil) { form in
            form.hidden(LoginFormToken.field, token)
            form.field("login", label: "Login name", placeholder: "login")
            form.field("password", label: "Password", placeholder: "", type: "password")
            form.raw("<button>Log in</button>")
        }
        return html
    }

    // MARK: Actions

    func login(_ request: Request, _ context: TallyContext) async throws -> Response {
        let form = try await WebForm(request)
        try LoginFormToken.users.check(form, request)
        let answer = try await call(.post, "/v1/login", body: ["login": form.optional("login") ?? "", "password": form.optional("password") ?? ""],
                                    forwarding: request, context: context)
        guard answer.status == 200, let session = (answer.json as? [String: Any])?["session"] as? String else {
            return loginPage(request, notice: .refused(WebRefusal(answer.json)), status: HTTPResponse.Status(code: answer.status))
        }
        let expires = ((answer.json as? [String: Any])?["expiresAtMilliseconds"] as? NSNumber)?.uint64Value ?? 0
        let now = api.now
        let maxAge = expires > now ? (expires - now) / 1000 : 0
        return Self.redirect("/web", cookie: api.cookie(Self.cookieName, session, path: "/web", maxAge: maxAge))
    }

    func logout(_ request: Request, _ context: TallyContext) async throws -> Response {
        let form = try await WebForm(request)
        if let session = Self.session(request) {
            guard form.optional("csrf") == Self.csrf(session) else { throw Self.forgedForm }
            _ = try await call(.post, "/v1/logout", session: session, context: context)
        }
        return Self.redirect("/web", cookie: api.cookie(Self.cookieName, "", path: "/web", maxAge: 0))
    }

    /// Runs the form's action through `path` (a POST of the JSON `body`) and shows the outcome
    /// on the dashboard.
    func act(
        _ request: Request, _ context: TallyContext, _ path: String, once: Bool = false, body: @escaping (WebForm) throws -> [String: Any]
    ) async throws -> Response {
        try await act(request, context, method: .post, done: String(path.split(separator: "/").last ?? ""), once: once) { form in (path, try body(form)) }
    }

    /// Runs the form's action (`request` gives the API path and JSON body) and shows the
    /// outcome on the dashboard, with the notice `done` names. A form that moves money is
    /// rendered with a once-token (`once`), which the request carries as its Idempotency-Key.
    func act(
        _ request: Request, _ context: TallyContext, method: HTTPRequest.Method, done: String, once: Bool = false,
        _ make: (WebForm) throws -> (path: String, body: [String: Any]?)
    ) async throws -> Response {
        guard let (session, form) = try await posted(request) else { return Self.redirect("/web", cookie: nil) }
        let (path, json): (String, [String: Any]?)
        let key: String?
        do {
            (path, json) = try make(form)
            key = once ? try form.idempotencyKey() : nil
        } catch let refusal as WebRefusal {
            return try await dashboard(session: session, context: context, notice: .refused(refusal), status: .badRequest)
        }
        let answer = try await call(method, path, session: session, body: json, idempotencyKey: key, forwarding: request, context: context)
        guard (200..<300).contains(answer.status) else {
            return try await dashboard(session: session, context: context, notice: .refused(WebRefusal(answer.json)),
                                       status: HTTPResponse.Status(code: answer.status))
        }
        let sequence = ((answer.json as? [String: Any])?["sequence"] as? NSNumber)?.uint64Value ?? 0
        // The next page waits for the read models to reach the write (`minSequence`).
        return Self.redirect("/web?done=\(done)&minSequence=\(sequence)", cookie: nil)
    }

    /// An access grant for purchased content, shown with the link that opens it at the vendor.
    func access(_ request: Request, _ context: TallyContext) async throws -> Response {
        guard let (session, form) = try await posted(request) else { return Self.redirect("/web", cookie: nil) }
        guard let transaction = InProcessAPI.segment(try form.text("transaction")) else {
            return try await dashboard(session: session, context: context, notice: .refused(WebRefusal(title: "No such purchase", detail: nil, field: "transaction")), status: .notFound)
        }
        let answer = try await call(.post, "/v1/me/purchases/\(transaction)/access", session: session, context: context)
        guard answer.status == 201, let grant = answer.json as? [String: Any], let url = grant["url"] as? String, let token = grant["grant"] as? String else {
            return try await dashboard(session: session, context: context, notice: .refused(WebRefusal(answer.json)), status: HTTPResponse.Status(code: answer.status))
        }
        var html = HTML()
        html.raw("<header><h1>Tally</h1></header><section><h2>Your access</h2><p>Open the content at the vendor's site; the site checks this grant with Tally, and it is good for a few minutes.</p><p><a rel=\"noreferrer\" href=\"")
        html.text(Self.withGrant(url, token))
        html.raw("\">Open ")
        html.text(url)
        html.raw("</a></p><p class=\"hint\">Grant: <code>")
        html.text(token)
        html.raw("</code></p><p><a href=\"/web\">Back</a></p></section>")
        return page(html, status: .created)
    }

    /// The session and form of a post from one of the user's pages (nil without a session);
    /// a form without the session's token is refused.
    func posted(_ request: Request) async throws -> (session: String, form: WebForm)? {
        guard let session = Self.session(request) else { return nil }
        let form = try await WebForm(request)
        guard form.optional("csrf") == Self.csrf(session) else { throw Self.forgedForm }
        return (session, form)
    }

    /// A purchase token to paste into a vendor's site: the user's identity, encrypted, good only
    /// inside the purchase window after login.
    func purchaseToken(_ request: Request, _ context: TallyContext) async throws -> Response {
        guard let (session, _) = try await posted(request) else { return Self.redirect("/web", cookie: nil) }
        let answer = try await call(.post, "/v1/me/purchase-token", session: session, context: context)
        guard answer.status == 201, let token = (answer.json as? [String: Any])?["purchaseToken"] as? String else {
            return try await dashboard(session: session, context: context, notice: .refused(WebRefusal(answer.json)), status: HTTPResponse.Status(code: answer.status))
        }
        var html = HTML()
        html.raw("<header><h1>Tally</h1></header><section><h2>Your purchase token</h2><p>Give it to the vendor's site to pay there; it tells the site nothing about you, and works only until your purchase window closes.</p><p><code>")
        html.text(token)
        html.raw("</code></p><p><a href=\"/web\">Back</a></p></section>")
        return page(html, status: .created)
    }

    /// A wallet's history, newest first (the last 100 entries).
    func history(_ request: Request, _ context: TallyContext) async throws -> Response {
        guard let session = Self.session(request) else { return Self.redirect("/web", cookie: nil) }
        let code = request.uri.queryParameters.get("currency") ?? ""
        guard let currency = Currency(code: code) else {
            return try await dashboard(session: session, context: context, notice: .refused(WebRefusal(title: "Unknown currency", detail: nil, field: "currency")), status: .badRequest)
        }
        let before = request.uri.queryParameters.get("before").flatMap { UInt64($0) }
        let answer = try await call(
            .get, "/v1/me/history/\(currency.code)?limit=100" + (before.map { "&before=\($0)" } ?? ""), session: session, context: context)
        guard answer.status == 200 else {
            return try await dashboard(session: session, context: context, notice: .refused(WebRefusal(answer.json)), status: HTTPResponse.Status(code: answer.status))
        }
        let listed = (answer.json as? [String: Any])?["data"] as? [String: Any]
        let entries = listed?["entries"] as? [[String: Any]] ?? []
        var html = HTML()
        html.raw("<header><h1>Tally</h1><p><a href=\"/web\">Back</a></p></header>")
        // The balance as of a past moment (`GET /v1/me/balances/{currency}?atTime=`).
        var status = HTTPResponse.Status.ok
        html.raw("<section><h2>Balance at a past time</h2>")
        if let typed = request.uri.queryParameters.get("at").map({ String($0) }), !typed.isEmpty {
            if let time = Self.utcMilliseconds(typed) {
                let balance = try await call(.get, "/v1/me/balances/\(currency.code)?atTime=\(time)", session: session, context: context)
                if balance.status == 200, let found = balance.json as? [String: Any] {
                    html.raw("<p class=\"done\" role=\"status\">")
                    html.text("At \(typed) UTC: \(Self.format(found["balance"], currency)) \(currency.code) (as of event \((found["asOfSequence"] as? NSNumber)?.uint64Value ?? 0)).")
                    html.raw("</p>")
                } else {
                    status = HTTPResponse.Status(code: balance.status)
                    html.notice(.refused(WebRefusal(balance.json)))
                }
            } else {
                status = .badRequest
                html.notice(.refused(WebRefusal(title: "A time is not valid", detail: "\(typed) is not a date and time (YYYY-MM-DDTHH:MM, UTC)", field: "at")))
            }
        }
        html.raw("<form method=\"get\" action=\"/web/history\">")
        html.hidden("currency", currency.code)
        html.field("at", label: "Date and time (UTC)", placeholder: "2026-12-01T09:30", type: "datetime-local")
        html.raw("<button>Show</button></form></section><section><h2>")
        html.text(currency.code + " history")
        html.raw("</h2><table><tr><th>When</th><th>What</th><th>With</th><th>Amount</th><th>Held</th></tr>")
        for entry in entries {
            html.raw("<tr><td>")
            html.text(Self.utcText(entry["timeMilliseconds"]))
            html.raw("</td><td>"); html.text(entry["eventType"] as? String ?? "")
            html.raw("</td><td>"); html.text(entry["counterparty"] as? String ?? "")
            html.raw("</td><td class=\"n\">"); html.text(Self.format(entry["amount"], currency))
            html.raw("</td><td class=\"n\">"); html.text(Self.format(entry["held"], currency))
            html.raw("</td></tr>")
        }
        html.raw("</table>")
        if entries.isEmpty { html.raw("<p>Nothing yet.</p>") }
        if let next = listed?["nextBefore"] as? NSNumber {
            html.raw("<p><a href=\"/web/history?currency=\(currency.code)&amp;before=\(next.uint64Value)\">Older entries</a></p>")
        }
        html.raw("</section>")
        return page(html, status: status)
    }

    /// A `datetime-local` value (`2026-12-01T09:30`, seconds optional) read as UTC, in
    /// milliseconds since 1970; nil when it is not one, or before 1970.
    static func utcMilliseconds(_ typed: String) -> UInt64? {
        let parts = typed.split(separator: "T", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        let clock = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        let digits: (Substring, Int) -> Int? = { text, count in
            text.count == count && text.utf8.allSatisfy { (48...57).contains($0) } ? Int(text) : nil
        }
        guard date.count == 3, (2...3).contains(clock.count),
              let year = digits(date[0], 4), let month = digits(date[1], 2), let day = digits(date[2], 2),
              let hour = digits(clock[0], 2), let minute = digits(clock[1], 2),
              let second = clock.count == 3 ? digits(clock[2], 2) : 0,
              year >= 1970, (1...12).contains(month), (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        // A day past its month's end (2026-02-30) is not a date: the calendar would roll it over.
        guard let days = calendar.range(of: .day, in: .month, for: calendar.date(from: DateComponents(year: year, month: month))!),
              days.contains(day), let moment = calendar.date(from: components)
        else { return nil }
        return UInt64(moment.timeIntervalSince1970) * 1000
    }

    /// The content's URL with the grant added as `tally_grant`; only http(s) URLs (registered by
    /// the vendor) are linked.
    static func withGrant(_ url: String, _ grant: String) -> String {
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else { return "/web" }
        let separator = url.contains("?") ? "&" : "?"
        let encoded = grant.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return url + separator + "tally_grant=" + encoded
    }

    // MARK: Sessions, forms and pages

    static func session(_ request: Request) -> String? { cookie(cookieName, in: request) }

    /// The value of cookie `name`, when the request carries a non-empty one.
    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.trimmingCharacters(in: .whitespaces)
                if pair.hasPrefix(name + "=") {
                    let value = String(pair.dropFirst(name.count + 1))
                    return value.isEmpty ? nil : value
                }
            }
        }
        return nil
    }

    /// The token each form carries: a digest of the session, which another site cannot read.
    static func csrf(_ session: String) -> String {
        String(SHA256.hash(Array(("tally-web-form:" + session).utf8)).description.prefix(32))
    }

    static let forgedForm = APIError(.forbidden, "form-not-from-tally", "This form was not sent from Tally's own page; reload the page and try again")

    static func redirect(_ location: String, cookie: String?) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: .seeOther, headers: headers)
    }

    func page(_ body: HTML, status: HTTPResponse.Status, clearCookie: Bool = false) -> Response {
        Self.htmlPage(body, status: status, setCookies: clearCookie ? [api.cookie(Self.cookieName, "", path: "/web", maxAge: 0)] : [])
    }

    /// The login page, with its form's token (``LoginFormToken``).
    func loginPage(_ request: Request, notice: Notice?, status: HTTPResponse.Status, clearCookie: Bool = false) -> Response {
        let (token, setCookie) = LoginFormToken.users.issue(request, api: api)
        var cookies = clearCookie ? [api.cookie(Self.cookieName, "", path: "/web", maxAge: 0)] : []
        if let setCookie { cookies.append(setCookie) }
        return Self.htmlPage(loginForm(notice: notice, token: token), status: status, setCookies: cookies)
    }

    /// A whole page around `body`, with the headers every page has.
    static func htmlPage(_ body: HTML, status: HTTPResponse.Status, setCookies: [String]) -> Response {
        var document = HTML()
        document.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Tally</title><link rel=\"stylesheet\" href=\"/web/tally.css\"></head><body>")
        document.raw(body.text)
        document.raw("</body></html>")
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            HTTPField.Name("X-Frame-Options")!: "DENY", HTTPField.Name("Referrer-Policy")!: "no-referrer", .xContentTypeOptions: "nosniff",
        ]
        for cookie in setCookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: document.text)))
    }

    static func stylesheet() -> Response {
        let css = """
            body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#222}
            header{display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap}table{border-collapse:collapse;width:100%}
            th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #ddd}td.n{text-align:right;font-variant-numeric:tabular-nums}
            form{margin:.5rem 0}form.inline{display:inline}label{margin-right:.5rem}.hint{color:#666;font-size:.9em}
            .done{background:#e6f4e6;padding:.5rem}.refused{background:#fbe9e9;padding:.5rem}section{margin:1.5rem 0}
            """
        return Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: css)))
    }

    // MARK: Formatting

    /// Minor units as the currency writes them (12.50 for 1250 cents).
    static func format(_ value: Any?, _ currency: Currency?) -> String {
        guard let number = value as? NSNumber else { return "" }
        let amount = number.int64Value
        let digits = currency?.minorUnits ?? 0
        guard digits > 0 else { return String(amount) }
        let magnitude = amount.magnitude
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        let fraction = String(magnitude % scale)
        return (amount < 0 ? "-" : "") + String(magnitude / scale) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    /// Milliseconds since 1970 as an ISO 8601 UTC time; empty when not a number.
    static func utcText(_ value: Any?) -> String {
        guard let milliseconds = value as? NSNumber else { return "" }
        return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds.uint64Value) / 1000))
    }

    static func remaining(_ remaining: [String: Any]?) -> String {
        guard let remaining else { return "unlimited" }
        var parts: [String] = []
        if let views = remaining["views"] as? NSNumber { parts.append("\(views) views") }
        if let hours = remaining["hours"] as? NSNumber { parts.append("\(hours) hours") }
        if let days = remaining["days"] as? NSNumber { parts.append("\(days) days") }
        if remaining["expiresAtMilliseconds"] is NSNumber { parts.append("until " + utcText(remaining["expiresAtMilliseconds"])) }
        return parts.isEmpty ? "unlimited" : parts.joined(separator: ", ")
    }

    static func methodName(_ method: FundingMethod) -> String {
        switch method {
        case .card: "Card"
        case .electronicCheck: "Electronic check"
        case .electronicCurrency: "Electronic currency"
        case .bankDebit: "Bank debit"
        case .check: "Cheque (pending)"
        case .moneyOrder: "Money order (pending)"
        case .purchaseOrder: "Purchase order (pending)"
        case .phone: "Phone (pending)"
        case .isp: "Your ISP's bill (pending)"
        case .utility: "A utility bill (pending)"
        case .mailedBill: "A mailed bill (pending)"
        case .providerIssue: "Issued by the provider"
        }
    }

    static func limitName(_ kind: String) -> String {
        ["perTransaction": "Per purchase", "perDay": "Per day", "perWeek": "Per week", "perMonth": "Per month",
         "perVendorMonth": "Per vendor, per month"][kind] ?? kind
    }

    static func doneText(_ action: String) -> String {
        ["funds": "Funds added.", "wallets": "Wallet opened.", "limits": "Limit set.", "remove": "Limit removed.",
         "transfers": "Tokens transferred.", "disputes": "Dispute opened.", "members": "Member added.",
         "member-removed": "Member removed.", "password": "Password changed; your other sessions are logged out.",
         "details": "Your details are changed.", "payout-requests": "Payout asked for; customer service will send it."][action] ?? "Done."
    }
}
