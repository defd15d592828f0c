import Foundation
import HTTPTypes
import Hummingbird
import Ledger
import TallyCrypto

/// The consoles (mission claims 35, 36 and 40): one page of forms, each one of the API's
/// routes, with the answer shown below it.
///
/// - **Customer service** at `/web/admin`: a representative logs in with the admin key and
///   their name, which the console records on the events that name one (accounts opened,
///   disputes resolved).
/// - **Vendors** at `/web/vendor`: a vendor logs in with a signing key's ID and secret, and
///   each form's request is signed with them as the vendor's own client would sign it (a fresh
///   nonce, and an idempotency key for every write).
///
/// Like the users' pages, each form is called in process (``InProcessAPI``), so every rule and
/// refusal is the API's. The credentials stay on the server (``ConsoleSessions``): the browser
/// holds a random session ID in an `HttpOnly`, `SameSite=Strict` cookie limited to the
/// console's path, for 8 hours at most; each form carries the session's random token, and a
/// post from another `Origin` is refused.
struct ConsoleController {
    enum Kind {
        case customerService, vendor
    }

    let kind: Kind
    let api: TallyAPI
    let inProcess: InProcessAPI

    /// Each console's cookie: the ID of its session (``ConsoleSessions``).
    static let adminCookie = "tally_admin_session"
    static let vendorCookie = "tally_vendor_session"

    var base: String { kind == .customerService ? "/web/admin" : "/web/vendor" }
    var heading: String { kind == .customerService ? "Tally customer service" : "Tally for vendors" }
    var cookieName: String { kind == .customerService ? Self.adminCookie : Self.vendorCookie }
    var actions: [Action] { kind == .customerService ? Self.actions : Self.vendorActions }

    /// A field of an action's form.
    enum Input: Sendable {
        case text(String, label: String)
        case optional(String, label: String)
        case amount(String, label: String)
        case currency
        case choice(String, label: String, options: [(String, String)])
    }

    /// One action: its form, and the request it makes.
    struct Action: Sendable {
        let name: String
        let title: String
        let inputs: [Input]
        let method: HTTPRequest.Method
        /// The action moves money: its form carries a once-token, sent as the Idempotency-Key,
        /// so that posting it twice does not move the money twice.
        var once = false
        /// The API path (with IDs from the form as path segments) and JSON body.
        let request: @Sendable (WebForm, _ representative: String) throws -> (path: String, body: [String: Any]?)

        /// Shows one thing (an account's list, a case, a vendor's settlement) named by the ID
        /// the form asks for, which the path carries.
        static func lookup(_ name: String, _ title: String, id field: String, label: String,
                           _ path: @escaping @Sendable (String) -> String) -> Action {
            Action(name: name, title: title, inputs: [.text(field, label: label)], method: .get) { form, _ in
                (path(try ConsoleController.id(form, field)), nil)
            }
        }
    }

    static func id(_ form: WebForm, _ name: String) throws -> String {
        let typed = try form.text(name)
        guard let segment = InProcessAPI.segment(typed) else {
            throw WebRefusal(title: "Not a valid ID", detail: "\(typed) holds characters no ID has", field: name)
        }
        return segment
    }

    /// A queue page's query: `?after=<sequence>` when the form gives one, in plain digits.
    static func queueCursor(_ form: WebForm) throws -> String {
        guard let typed = form.optional("after") else { return "" }
        guard typed.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let after = UInt64(typed) else {
            throw WebRefusal(title: "Not a sequence", detail: "\(typed) is not a journal sequence in plain digits", field: "after")
        }
        return "?after=\(after)"
    }

    static let methods = FundingMethod.allCases.map { ($0.rawValue, WebController.methodName($0)) }
    /// The ways money can go back (not `providerIssue`, which is no way money travels).
    static let payoutMethods = FundingMethod.allCases.filter { $0 != .providerIssue }.map { ($0.rawValue, WebController.methodName($0)) }

    static let actions: [Action] = [
        Action(name: "find-account", title: "Find a caller's account by login name", inputs: [.text("login", label: "Login name")],
               method: .get) { form, _ in
            ("/v1/admin/accounts?login=" + InProcessAPI.queryValue(try form.text("login")), nil)
        },
        Action(name: "find-by-email", title: "Find a caller's accounts by e-mail address (a forgotten login name)",
               inputs: [.text("email", label: "E-mail address")], method: .get) { form, _ in
            ("/v1/admin/people?email=" + InProcessAPI.queryValue(try form.text("email")), nil)
        },
        Action(name: "change-details", title: "Change a caller's name or e-mail address (blank fields are kept)",
               inputs: [.text("user", label: "User ID"), .optional("name", label: "New name"), .optional("email", label: "New e-mail address")],
               method: .patch) { form, _ in
            ("/v1/admin/users/\(try id(form, "user"))", form.filled("name", "email"))
        },
        .lookup("user-wallets", "A user's wallets", id: "user", label: "User ID") { "/v1/admin/users/\($0)/wallets" },
        .lookup("user-purchases", "A user's purchases", id: "user", label: "User ID") { "/v1/admin/users/\($0)/purchases" },
        .lookup("user-funds", "A user's fundings (a cheque's status)", id: "user", label: "User ID") { "/v1/admin/users/\($0)/funds" },
        .lookup("user-disputes", "A user's disputes", id: "user", label: "User ID") { "/v1/admin/users/\($0)/disputes" },
        .lookup("user-payouts", "Money paid back to a user", id: "user", label: "User ID") { "/v1/admin/users/\($0)/payouts" },
        Action(name: "open-account", title: "Open an account for a caller",
               inputs: [.text("login", label: "Login"), .text("password", label: "First password"), .text("name", label: "Name"),
                        .text("email", label: "E-mail")], method: .post) { form, representative in
            ("/v1/admin/accounts", ["login": try form.text("login"), "password": try form.text("password"), "name": try form.text("name"),
                                    "email": try form.text("email"), "representative": representative])
        },
        Action(name: "reset-password", title: "Set a caller's password (their other sessions end)",
               inputs: [.text("login", label: "Login name"), .text("newPassword", label: "New password")], method: .post) { form, _ in
            ("/v1/admin/password-resets", ["login": try form.text("login"), "newPassword": try form.text("newPassword")])
        },
        Action(name: "erase-person", title: "Erase a person (name, e-mail and logins; their money stays under the account ID)",
               inputs: [.text("user", label: "User ID"),
                        .choice("evenWithMoney", label: "If the account still holds money", options: [("no", "Refuse"), ("yes", "Erase anyway")]),
                        .text("confirm", label: "Type ERASE to confirm")], method: .post) { form, _ in
            guard try form.text("confirm") == "ERASE" else {
                throw WebRefusal(title: "Not confirmed", detail: "type ERASE to erase this person", field: "confirm")
            }
            return ("/v1/admin/users/\(try id(form, "user"))/erase", ["evenWithMoney": form.optional("evenWithMoney") == "yes"])
        },
        Action(name: "add-funds", title: "Record funds (a mailed cheque, a phone order, an issue)",
               inputs: [.text("user", label: "User ID"), .amount("amount", label: "Amount"), .currency,
                        .choice("method", label: "Method", options: methods)], method: .post, once: true) { form, _ in
            let currency = try form.currency("currency")
            return ("/v1/admin/funds", ["user": try id(form, "user"), "currency": currency.code, "amount": try form.amount("amount", currency),
                                        "method": try form.text("method")])
        },
        Action(name: "pending-funds", title: "Funds waiting to be cleared or failed (oldest first)",
               inputs: [.optional("after", label: "After sequence (nextAfter of the page before)")], method: .get) { form, _ in
            ("/v1/admin/funds" + (try queueCursor(form)), nil)
        },
        .lookup("funding", "One funding", id: "funding", label: "Funding ID") { "/v1/admin/funds/\($0)" },
        Action(name: "clear-funds", title: "Clear pending funds", inputs: [.text("funding", label: "Funding ID")], method: .post) { form, _ in
            ("/v1/admin/funds/\(try id(form, "funding"))/clear", [:])
        },
        Action(name: "fail-funds", title: "Fail pending funds", inputs: [.text("funding", label: "Funding ID")], method: .post) { form, _ in
            ("/v1/admin/funds/\(try id(form, "funding"))/fail", [:])
        },
        Action(name: "pay-back", title: "Pay a user's tokens back (once the money is sent; the wallet's own balance only)",
               inputs: [.text("user", label: "User ID"), .amount("amount", label: "Amount"), .currency,
                        .choice("method", label: "Sent by", options: payoutMethods),
                        .optional("payout", label: "Payout ID (your reference; a second payout with it is refused)")],
               method: .post, once: true) { form, representative in
            let currency = try form.currency("currency")
            var body: [String: Any] = ["user": try id(form, "user"), "currency": currency.code, "amount": try form.amount("amount", currency),
                                       "method": try form.text("method"), "representative": representative]
            if form.optional("payout") != nil { body["payout"] = try id(form, "payout") }
            return ("/v1/admin/payouts", body)
        },
        .lookup("payout", "One payout", id: "payout", label: "Payout ID") { "/v1/admin/payouts/\($0)" },
        Action(name: "payout-requests", title: "Payouts users asked for, waiting to be paid or declined (oldest first)",
               inputs: [.optional("after", label: "After sequence (nextAfter of the page before)")], method: .get) { form, _ in
            ("/v1/admin/payout-requests" + (try queueCursor(form)), nil)
        },
        .lookup("payout-request", "One payout request", id: "payout", label: "Payout ID") { "/v1/admin/payout-requests/\($0)" },
        Action(name: "pay-request", title: "Pay a payout request (once the money is sent by the method the user asked for)",
               inputs: [.text("payout", label: "Payout ID")], method: .post) { form, representative in
            ("/v1/admin/payout-requests/\(try id(form, "payout"))/pay", ["representative": representative])
        },
        Action(name: "decline-request", title: "Decline a payout request (the amount goes back to the wallet)",
               inputs: [.text("payout", label: "Payout ID"), .text("reason", label: "Why (the user sees it)")], method: .post) { form, representative in
            ("/v1/admin/payout-requests/\(try id(form, "payout"))/decline", ["representative": representative, "reason": try form.text("reason")])
        },
        .lookup("user-payout-requests", "A user's payout requests", id: "user", label: "User ID") { "/v1/admin/users/\($0)/payout-requests" },
        Action(name: "credit-line", title: "Approve a credit line",
               inputs: [.text("user", label: "User ID"), .amount("limit", label: "Limit"), .currency], method: .post) { form, _ in
            let currency = try form.currency("currency")
            return ("/v1/admin/credit-lines", ["user": try id(form, "user"), "currency": currency.code, "limit": try form.amount("limit", currency)])
        },
        Action(name: "incentive", title: "Issue incentive tokens",
               inputs: [.text("user", label: "User ID"), .amount("amount", label: "Amount"), .currency], method: .post, once: true) { form, _ in
            let currency = try form.currency("currency")
            return ("/v1/admin/incentives", ["user": try id(form, "user"), "currency": currency.code, "amount": try form.amount("amount", currency)])
        },
        Action(name: "open-disputes", title: "Disputes waiting to be resolved (oldest first)",
               inputs: [.optional("after", label: "After sequence (nextAfter of the page before)")], method: .get) { form, _ in
            ("/v1/admin/disputes" + (try queueCursor(form)), nil)
        },
        .lookup("dispute", "One dispute", id: "dispute", label: "Dispute ID") { "/v1/admin/disputes/\($0)" },
        Action(name: "resolve-dispute", title: "Resolve a dispute",
               inputs: [.text("dispute", label: "Dispute ID"), .choice("outcome", label: "Outcome", options: [("refund", "Refund the user"), ("reject", "Reject")])],
               method: .post) { form, representative in
            ("/v1/admin/disputes/\(try id(form, "dispute"))/resolve", ["refund": try form.text("outcome") == "refund", "representative": representative])
        },
        .lookup("vendor-settlement", "A vendor's settlement", id: "vendor", label: "Vendor ID") { "/v1/admin/vendors/\($0)/settlement" },
        Action(name: "settle", title: "Settle a vendor now", inputs: [.text("vendor", label: "Vendor ID"), .currency], method: .post) { form, _ in
            ("/v1/admin/settlements", ["vendor": try id(form, "vendor"), "currency": try form.currency("currency").code])
        },
        Action(name: "register-vendor", title: "Register a vendor (its first signing key is shown once)",
               inputs: [.text("name", label: "Name"), .text("sites", label: "Sites it sells from (URL prefixes, separated by spaces)"),
                        .text("feeBasisPoints", label: "Provider fee (basis points)"),
                        .optional("thresholdAmount", label: "Settle at (minor units, any currency)"),
                        .optional("currencyThresholds", label: "Settle at, by currency (JPY=100000 EUR=5000)"),
                        .optional("periodDays", label: "Settle every (days)")],
               method: .post) { form, _ in
            var settlement: [String: Any] = [:]
            if form.optional("thresholdAmount") != nil { settlement["thresholdAmount"] = try form.minorUnits("thresholdAmount") }
            if form.optional("currencyThresholds") != nil {
                var thresholds: [String: Int64] = [:]
                for pair in form.words("currencyThresholds") {
                    let parts = pair.split(separator: "=", omittingEmptySubsequences: false)
                    guard parts.count == 2, let amount = Int64(parts[1]), thresholds[String(parts[0])] == nil else {
                        throw WebRefusal(title: "Thresholds are not valid", detail: "\(pair) is not CUR=minor units, or names its currency twice",
                                         field: "currencyThresholds")
                    }
                    thresholds[String(parts[0])] = amount
                }
                settlement["currencyThresholds"] = thresholds
            }
            if form.optional("periodDays") != nil { settlement["periodSeconds"] = try form.seconds(ofDays: "periodDays") }
            return ("/v1/admin/vendors", ["name": try form.text("name"), "sites": form.words("sites"), "feeBasisPoints": try form.minorUnits("feeBasisPoints"),
                                          "settlement": settlement])
        },
        Action(name: "update-vendor", title: "Change a vendor (blank fields are kept)",
               inputs: [.text("vendor", label: "Vendor ID"), .optional("name", label: "Name"),
                        .optional("sites", label: "Sites (URL prefixes, separated by spaces; replaces them all)"),
                        .optional("feeBasisPoints", label: "Provider fee (basis points)")],
               method: .patch) { form, _ in
            var body: [String: Any] = [:]
            if let name = form.optional("name") { body["name"] = name }
            if form.optional("sites") != nil { body["sites"] = form.words("sites") }
            if form.optional("feeBasisPoints") != nil { body["feeBasisPoints"] = try form.minorUnits("feeBasisPoints") }
            return ("/v1/admin/vendors/\(try id(form, "vendor"))", body)
        },
        Action(name: "vendor-key", title: "Give a vendor another signing key (shown once)", inputs: [.text("vendor", label: "Vendor ID")],
               method: .post) { form, _ in
            ("/v1/admin/vendors/\(try id(form, "vendor"))/keys", [:])
        },
        .lookup("vendor-keys", "A vendor's signing keys", id: "vendor", label: "Vendor ID") { "/v1/admin/vendors/\($0)/keys" },
        Action(name: "revoke-vendor-key", title: "Revoke a vendor's signing key (its signatures are refused from now on)",
               inputs: [.text("vendor", label: "Vendor ID"), .text("keyId", label: "Key ID")], method: .delete) { form, _ in
            ("/v1/admin/vendors/\(try id(form, "vendor"))/keys/\(try id(form, "keyId"))", nil)
        },
        .lookup("royalties", "A rights holder's royalty statement", id: "holder", label: "Rights holder") { "/v1/admin/holders/\($0)/royalties" },
        Action(name: "pay-royalties", title: "Pay a rights holder its royalties (once the money is sent; all it is owed in the currency)",
               inputs: [.text("holder", label: "Rights holder"), .currency,
                        .optional("payout", label: "Payout ID (your reference; a second payout with it is refused)")],
               method: .post, once: true) { form, representative in
            var body: [String: Any] = ["currency": try form.currency("currency").code, "representative": representative]
            if form.optional("payout") != nil { body["payout"] = try id(form, "payout") }
            return ("/v1/admin/holders/\(try id(form, "holder"))/payouts", body)
        },
        .lookup("royalty-payouts", "A rights holder's royalty payouts", id: "holder", label: "Rights holder") { "/v1/admin/holders/\($0)/payouts" },
        Action(name: "holder-key", title: "Give a rights holder a read key for its own statement (shown once)",
               inputs: [.text("holder", label: "Rights holder"), .optional("expiresInDays", label: "Opens for how many days (empty: until revoked)")],
               method: .post) { form, _ in
            var body: [String: Any] = [:]
            if form.optional("expiresInDays") != nil { body["expiresInDays"] = try form.seconds(ofDays: "expiresInDays") / 86_400 }
            return ("/v1/admin/holders/\(try id(form, "holder"))/keys", body)
        },
        .lookup("holder-keys", "A rights holder's read keys", id: "holder", label: "Rights holder") { "/v1/admin/holders/\($0)/keys" },
        Action(name: "revoke-holder-key", title: "Revoke a rights holder's read key",
               inputs: [.text("holder", label: "Rights holder"), .text("keyId", label: "Key ID")], method: .delete) { form, _ in
            ("/v1/admin/holders/\(try id(form, "holder"))/keys/\(try id(form, "keyId"))", nil)
        },
        Action(name: "expire-lot", title: "Expire an incentive lot", inputs: [.text("lot", label: "Lot ID")], method: .post) { form, _ in
            ("/v1/admin/incentives/\(try id(form, "lot"))/expire", [:])
        },
        Action(name: "expire-hold", title: "Release an expired hold", inputs: [.text("transaction", label: "Transaction")], method: .post) { form, _ in
            ("/v1/admin/holds/\(try id(form, "transaction"))/expire", [:])
        },
        Action(name: "referral-reward", title: "Reward a referral now", inputs: [.text("user", label: "User ID")], method: .post) { form, _ in
            ("/v1/admin/referrals/\(try id(form, "user"))/reward", [:])
        },
        Action(name: "rotate-key", title: "Rotate the journal's signing key", inputs: [], method: .post) { _, _ in
            ("/v1/admin/journal/rotate-key", [:])
        },
        Action(name: "rebuild", title: "Rebuild the read models (progress on /ready)", inputs: [], method: .post) { _, _ in
            ("/v1/admin/projections/rebuild", [:])
        },
    ]

    static let vendorActions: [Action] = [
        Action(name: "settlement", title: "Your settlement", inputs: [], method: .get) { _, _ in ("/v1/vendor/settlement", nil) },
        Action(name: "history", title: "Your history", inputs: [], method: .get) { _, _ in ("/v1/vendor/history", nil) },
        Action(name: "disputes", title: "Disputes of your sales", inputs: [], method: .get) { _, _ in ("/v1/vendor/disputes", nil) },
        Action(name: "keys", title: "Your signing keys", inputs: [], method: .get) { _, _ in ("/v1/vendor/keys", nil) },
        Action(name: "content", title: "Register content",
               inputs: [.text("content", label: "Content ID"), .text("title", label: "Title"), .amount("price", label: "Price"), .currency,
                        .text("url", label: "URL (on one of your sites)"), .optional("description", label: "Short description"),
                        .optional("views", label: "Views"), .optional("days", label: "Days"),
                        .optional("holder", label: "Rights holder"), .optional("basisPoints", label: "Their share (basis points)")],
               method: .post) { form, _ in
            let currency = try form.currency("currency")
            var body: [String: Any] = ["content": try id(form, "content"), "title": try form.text("title"), "price": try form.amount("price", currency),
                                       "currency": currency.code, "url": try form.text("url")]
            if let description = form.optional("description") { body["description"] = description }
            var access: [String: Any] = [:]
            if form.optional("views") != nil { access["views"] = try form.minorUnits("views") }
            if form.optional("days") != nil { access["days"] = try form.minorUnits("days") }
            if !access.isEmpty { body["access"] = access }
            if let holder = form.optional("holder") {
                body["royalties"] = [["holder": holder, "basisPoints": try form.minorUnits("basisPoints")]]
            }
            return ("/v1/vendor/content", body)
        },
        Action(name: "referral-policy", title: "Your referral reward",
               inputs: [.currency, .amount("rewardAmount", label: "Reward"), .amount("minimumSpend", label: "Once the user has spent"),
                        .text("confirmationDays", label: "And kept it for (days)")], method: .put) { form, _ in
            let currency = try form.currency("currency")
            return ("/v1/vendor/referral-policy", ["currency": currency.code, "rewardAmount": try form.amount("rewardAmount", currency),
                                                   "minimumSpend": try form.amount("minimumSpend", currency),
                                                   "confirmationSeconds": try form.seconds(ofDays: "confirmationDays")])
        },
        .lookup("access-grant", "Check an access grant a customer brings", id: "grant", label: "Grant") { "/v1/vendor/access-grants/\($0)" },
        .lookup("purchase", "A purchase's status", id: "transaction", label: "Transaction") { "/v1/vendor/purchases/\($0)" },
        Action(name: "purchases-by-reference", title: "Your purchases sent with a reference (newest first)",
               inputs: [.text("reference", label: "Your reference")], method: .get) { form, _ in
            ("/v1/vendor/purchases?reference=" + InProcessAPI.queryValue(try form.text("reference")), nil)
        },
        Action(name: "capture", title: "Capture a held purchase", inputs: [.text("transaction", label: "Transaction")], method: .post) { form, _ in
            ("/v1/vendor/authorizations/\(try id(form, "transaction"))/capture", nil)
        },
        Action(name: "void", title: "Void a held purchase", inputs: [.text("transaction", label: "Transaction")], method: .post) { form, _ in
            ("/v1/vendor/authorizations/\(try id(form, "transaction"))/void", nil)
        },
        Action(name: "refund", title: "Refund a captured purchase (all or part of its price goes back to the customer)",
               inputs: [.text("transaction", label: "Transaction"),
                        .optional("amount", label: "Amount in minor units (empty: all that is still paid)"),
                        .optional("reason", label: "Reason")], method: .post,
               once: true) { form, _ in
            var body: [String: Any] = ["reason": form.optional("reason") ?? ""]
            if form.optional("amount") != nil { body["amount"] = try form.minorUnits("amount") }
            return ("/v1/vendor/purchases/\(try id(form, "transaction"))/refund", body)
        },
        Action(name: "incentive", title: "Give a customer incentive tokens",
               inputs: [.text("customer", label: "Customer (pseudonym)"), .amount("amount", label: "Amount"), .currency], method: .post,
               once: true) { form, _ in
            let currency = try form.currency("currency")
            return ("/v1/vendor/incentives", ["customer": try id(form, "customer"), "currency": currency.code, "amount": try form.amount("amount", currency)])
        },
    ]

    func addRoutes(to router: Router<TallyContext>) {
        let path = String(base.dropFirst())
        router.get(RouterPath(path)) { request, _ in
            guard let (_, session) = session(request) else { return loginPage(request, refusal: nil, status: .ok) }
            return console(session, outcome: nil)
        }
        router.post(RouterPath(path + "/login")) { request, context in try await login(request, context) }
        router.post(RouterPath(path + "/logout")) { request, _ in
            let form = try await WebForm(request)
            if let (id, session) = session(request) {
                guard form.optional("csrf") == session.csrf else { throw WebController.forgedForm }
                api.consoleSessions.close(id)
            }
            return WebController.redirect(base, cookie: api.cookie(cookieName, "", path: base, maxAge: 0))
        }
        router.post(RouterPath(path + "/:action")) { request, context in try await act(request, context) }
    }

    /// The admin key and the representative's name, or the vendor's key ID and secret.
    typealias Credentials = (first: String, second: String)

    func caller(_ credentials: Credentials) -> InProcessAPI.Caller {
        switch kind {
        case .customerService:
            return .bearer(credentials.first)
        case .vendor:
            return .vendor(keyID: credentials.first, secret: Hex.decode(credentials.second) ?? [], nowSeconds: api.now / 1000)
        }
    }

    func login(_ request: Request, _ context: TallyContext) async throws -> Response {
        let form = try await WebForm(request)
        try loginToken.check(form, request)
        let first = form.optional(kind == .customerService ? "key" : "keyID") ?? ""
        guard let second = form.optional(kind == .customerService ? "representative" : "secret") else {
            let missing = kind == .customerService ? "representative" : "secret"
            return loginPage(request, refusal: WebRefusal(title: "A field is missing", detail: "\(missing) is required", field: missing), status: .badRequest)
        }
        let credentials = (first, second)
        // A read tells wrong credentials (401 or 403) from right ones (for the admin key, a
        // lookup of a user who does not exist: 404).
        let probe = kind == .customerService
            ? try await inProcess.call(.get, "/v1/admin/users/u_console-login-check/wallets", as: caller(credentials), body: nil, context: context)
            : try await inProcess.call(.get, "/v1/vendor/settlement", as: caller(credentials), body: nil, context: context)
        guard probe.status != 401, probe.status != 403 else {
            return loginPage(request, refusal: WebRefusal(probe.json), status: HTTPResponse.Status(code: probe.status))
        }
        let id = api.consoleSessions.open(kind, first: first, second: second, now: api.now)
        return WebController.redirect(base, cookie: api.cookie(cookieName, id, path: base, maxAge: ConsoleSessions.lifetimeMilliseconds / 1000))
    }

    func act(_ request: Request, _ context: TallyContext) async throws -> Response {
        guard let (_, session) = session(request) else { return WebController.redirect(base, cookie: nil) }
        let form = try await WebForm(request)
        guard form.optional("csrf") == session.csrf else { throw WebController.forgedForm }
        let credentials: Credentials = (session.first, session.second)
        let name = try context.parameters.require("action")
        guard let action = actions.first(where: { $0.name == name }) else { throw APIError.notFound("console action") }
        let (path, body): (String, [String: Any]?)
        let key: String?
        do {
            (path, body) = try action.request(form, credentials.second)
            key = action.once ? try form.idempotencyKey() : nil
        } catch let refusal as WebRefusal {
            return console(session, outcome: (action, .refused(refusal), nil), status: .badRequest)
        }
        let answer = try await inProcess.call(action.method, path, as: caller(credentials), body: body, idempotencyKey: key, context: context)
        let shown = answer.json.flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) }
            .map { String(decoding: $0, as: UTF8.self) }
        guard (200..<300).contains(answer.status) else {
            return console(session, outcome: (action, .refused(WebRefusal(answer.json)), nil), status: HTTPResponse.Status(code: answer.status))
        }
        return console(session, outcome: (action, .done("\(action.title): done."), shown))
    }

    // MARK: Pages

    /// The login form's token (``LoginFormToken``): a cookie of the console's own.
    var loginToken: LoginFormToken {
        LoginFormToken(cookie: kind == .customerService ? "tally_admin_login_form" : "tally_vendor_login_form", path: base)
    }

    func loginPage(_ request: Request, refusal: WebRefusal?, status: HTTPResponse.Status) -> Response {
        let (token, setCookie) = loginToken.issue(request, api: api)
        var html = HTML()
        html.raw("<header><h1>")
        html.text(heading)
        html.raw("</h1></header>")
        html.notice(refusal.map { .refused($0) })
        html.form(action: base + "/login", csrf: nil) { form in
            form.hidden(LoginFormToken.field, token)
            switch kind {
            case .customerService:
                form.field("representative", label: "Your name", placeholder: "name")
                form.field("key", label: "Admin key", placeholder: "", type: "password")
            case .vendor:
                form.field("keyID", label: "Signing key ID", placeholder: "vk_…")
                form.field("secret", label: "Secret", placeholder: "", type: "password")
            }
            form.raw("<button>Log in</button>")
        }
        return WebController.htmlPage(html, status: status, setCookies: setCookie.map { [$0] } ?? [])
    }

    func console(
        _ session: ConsoleSessions.Session, outcome: (action: Action, notice: WebController.Notice, json: String?)?, status: HTTPResponse.Status = .ok
    ) -> Response {
        var html = HTML()
        html.raw("<header><h1>")
        html.text(heading)
        html.raw("</h1><p>")
        html.text(kind == .customerService ? session.second : session.first)
        html.raw("</p>")
        html.form(action: base + "/logout", csrf: session.csrf) { $0.raw("<button>Log out</button>") }
        html.raw("</header>")
        if let outcome {
            html.raw("<section><h2>")
            html.text(outcome.action.title)
            html.raw("</h2>")
            html.notice(outcome.notice)
            if let json = outcome.json { html.raw("<pre>"); html.text(json); html.raw("</pre>") }
            html.raw("</section>")
        }
        for action in actions {
            html.form(action: "\(base)/\(action.name)", csrf: session.csrf) { form in
                if action.once { form.onceToken() }
                form.raw("<h3>")
                form.text(action.title)
                form.raw("</h3>")
                for input in action.inputs {
                    switch input {
                    case .text(let name, let label): form.field(name, label: label, placeholder: "")
                    case .optional(let name, let label): form.field(name, label: label, placeholder: "", required: false)
                    case .amount(let name, let label): form.field(name, label: label, placeholder: "12.50")
                    case .currency: form.currencySelect()
                    case .choice(let name, let label, let options): form.select(name, label: label, options: options)
                    }
                }
                form.raw("<button>\(action.method == .get ? "Show" : "Do it")</button>")
            }
        }
        return WebController.htmlPage(html, status: status, setCookies: [])
    }

    // MARK: Cookies

    /// The live session the request's cookie names, with its ID.
    func session(_ request: Request) -> (id: String, session: ConsoleSessions.Session)? {
        guard let id = WebController.cookie(cookieName, in: request),
              let session = api.consoleSessions.session(id, kind: kind, now: api.now)
        else { return nil }
        return (id, session)
    }
}
