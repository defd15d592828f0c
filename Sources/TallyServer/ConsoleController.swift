import Foundation
import HTTPTypes
import Hummingbird
import Ledger
import TallyCrypto

/// The customer-service console (mission claims 35, 36 and 40): one page of forms at
/// `/web/admin`, each one of the admin API's routes, with the answer shown below it. A
/// representative logs in with the admin key and their name, which the console records on the
/// events that name one (accounts opened, disputes resolved).
///
/// Like the users' pages, each form is called in process (``InProcessAPI``) with the admin key
/// as its bearer, so every rule and refusal is the API's. The key travels in an `HttpOnly`,
/// `SameSite=Strict` cookie limited to `/web/admin`, each form carries a token derived from it,
/// and a post from another `Origin` is refused.
struct ConsoleController {
    let inProcess: InProcessAPI

    static let keyCookie = "tally_admin"
    static let representativeCookie = "tally_representative"

    /// A field of an action's form.
    enum Input: Sendable {
        case text(String, label: String)
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
        /// The API path (with IDs from the form as path segments) and JSON body.
        let request: @Sendable (WebForm, _ representative: String) throws -> (path: String, body: [String: Any]?)
    }

    static func id(_ form: WebForm, _ name: String) throws -> String {
        let typed = try form.text(name)
        guard let segment = InProcessAPI.segment(typed) else {
            throw WebRefusal(title: "Not a valid ID", detail: "\(typed) holds characters no ID has", field: name)
        }
        return segment
    }

    static let methods = FundingMethod.allCases.map { ($0.rawValue, WebController.methodName($0)) }

    static let actions: [Action] = [
        Action(name: "user-wallets", title: "A user's wallets", inputs: [.text("user", label: "User ID")], method: .get) { form, _ in
            ("/v1/admin/users/\(try id(form, "user"))/wallets", nil)
        },
        Action(name: "user-purchases", title: "A user's purchases", inputs: [.text("user", label: "User ID")], method: .get) { form, _ in
            ("/v1/admin/users/\(try id(form, "user"))/purchases", nil)
        },
        Action(name: "open-account", title: "Open an account for a caller",
               inputs: [.text("login", label: "Login"), .text("password", label: "First password"), .text("name", label: "Name"),
                        .text("email", label: "E-mail")], method: .post) { form, representative in
            ("/v1/admin/accounts", ["login": try form.text("login"), "password": try form.text("password"), "name": try form.text("name"),
                                    "email": try form.text("email"), "representative": representative])
        },
        Action(name: "add-funds", title: "Record funds (a mailed cheque, a phone order, an issue)",
               inputs: [.text("user", label: "User ID"), .amount("amount", label: "Amount"), .currency,
                        .choice("method", label: "Method", options: methods)], method: .post) { form, _ in
            let currency = try form.currency("currency")
            return ("/v1/admin/funds", ["user": try id(form, "user"), "currency": currency.code, "amount": try form.amount("amount", currency),
                                        "method": try form.text("method")])
        },
        Action(name: "clear-funds", title: "Clear pending funds", inputs: [.text("funding", label: "Funding ID")], method: .post) { form, _ in
            ("/v1/admin/funds/\(try id(form, "funding"))/clear", [:])
        },
        Action(name: "fail-funds", title: "Fail pending funds", inputs: [.text("funding", label: "Funding ID")], method: .post) { form, _ in
            ("/v1/admin/funds/\(try id(form, "funding"))/fail", [:])
        },
        Action(name: "credit-line", title: "Approve a credit line",
               inputs: [.text("user", label: "User ID"), .amount("limit", label: "Limit"), .currency], method: .post) { form, _ in
            let currency = try form.currency("currency")
            return ("/v1/admin/credit-lines", ["user": try id(form, "user"), "currency": currency.code, "limit": try form.amount("limit", currency)])
        },
        Action(name: "incentive", title: "Issue incentive tokens",
               inputs: [.text("user", label: "User ID"), .amount("amount", label: "Amount"), .currency], method: .post) { form, _ in
            let currency = try form.currency("currency")
            return ("/v1/admin/incentives", ["user": try id(form, "user"), "currency": currency.code, "amount": try form.amount("amount", currency)])
        },
        Action(name: "resolve-dispute", title: "Resolve a dispute",
               inputs: [.text("dispute", label: "Dispute ID"), .choice("outcome", label: "Outcome", options: [("refund", "Refund the user"), ("reject", "Reject")])],
               method: .post) { form, representative in
            ("/v1/admin/disputes/\(try id(form, "dispute"))/resolve", ["refund": try form.text("outcome") == "refund", "representative": representative])
        },
        Action(name: "vendor-settlement", title: "A vendor's settlement", inputs: [.text("vendor", label: "Vendor ID")], method: .get) { form, _ in
            ("/v1/admin/vendors/\(try id(form, "vendor"))/settlement", nil)
        },
        Action(name: "settle", title: "Settle a vendor now", inputs: [.text("vendor", label: "Vendor ID"), .currency], method: .post) { form, _ in
            ("/v1/admin/settlements", ["vendor": try id(form, "vendor"), "currency": try form.currency("currency").code])
        },
    ]

    func addRoutes(to router: Router<TallyContext>) {
        router.get("web/admin") { request, _ in
            guard let (key, representative) = Self.credentials(request) else { return Self.loginPage(refusal: nil, status: .ok) }
            return Self.console(key: key, representative: representative, outcome: nil)
        }
        router.post("web/admin/login") { request, context in try await login(request, context) }
        router.post("web/admin/logout") { request, _ in
            let form = try await WebForm(request)
            if let (key, _) = Self.credentials(request), form.optional("csrf") != Self.csrf(key) { throw WebController.forgedForm }
            var response = WebController.redirect("/web/admin", cookie: Self.clear(Self.keyCookie))
            response.headers.append(HTTPField(name: .setCookie, value: Self.clear(Self.representativeCookie)))
            return response
        }
        router.post("web/admin/:action") { request, context in try await act(request, context) }
    }

    func login(_ request: Request, _ context: TallyContext) async throws -> Response {
        let form = try await WebForm(request)
        let key = form.optional("key") ?? ""
        guard let representative = form.optional("representative") else {
            return Self.loginPage(refusal: WebRefusal(title: "A field is missing", detail: "your name is recorded on what you do", field: "representative"),
                                  status: .badRequest)
        }
        // Any admin route tells a wrong key (401 or 403) from the right one (here 404: no such user).
        let probe = try await inProcess.call(.get, "/v1/admin/users/u_console-login-check/wallets", bearer: key, body: nil, context: context)
        guard probe.status != 401, probe.status != 403 else {
            return Self.loginPage(refusal: WebRefusal(probe.json), status: HTTPResponse.Status(code: probe.status))
        }
        let encoded = representative.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        var response = WebController.redirect("/web/admin", cookie: "\(Self.keyCookie)=\(key); Path=/web/admin; HttpOnly; SameSite=Strict; Max-Age=28800")
        response.headers.append(HTTPField(
            name: .setCookie, value: "\(Self.representativeCookie)=\(encoded); Path=/web/admin; HttpOnly; SameSite=Strict; Max-Age=28800"))
        return response
    }

    func act(_ request: Request, _ context: TallyContext) async throws -> Response {
        guard let (key, representative) = Self.credentials(request) else { return WebController.redirect("/web/admin", cookie: nil) }
        let form = try await WebForm(request)
        guard form.optional("csrf") == Self.csrf(key) else { throw WebController.forgedForm }
        let name = try context.parameters.require("action")
        guard let action = Self.actions.first(where: { $0.name == name }) else { throw APIError.notFound("console action") }
        let (path, body): (String, [String: Any]?)
        do {
            (path, body) = try action.request(form, representative)
        } catch let refusal as WebRefusal {
            return Self.console(key: key, representative: representative, outcome: (action, .refused(refusal), nil), status: .badRequest)
        }
        let answer = try await inProcess.call(action.method, path, bearer: key, body: body, context: context)
        let shown = answer.json.flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) }
            .map { String(decoding: $0, as: UTF8.self) }
        guard (200..<300).contains(answer.status) else {
            return Self.console(key: key, representative: representative, outcome: (action, .refused(WebRefusal(answer.json)), nil),
                                status: HTTPResponse.Status(code: answer.status))
        }
        return Self.console(key: key, representative: representative, outcome: (action, .done("\(action.title): done."), shown))
    }

    // MARK: Pages

    static func loginPage(refusal: WebRefusal?, status: HTTPResponse.Status) -> Response {
        var html = HTML()
        html.raw("<header><h1>Tally customer service</h1></header>")
        html.notice(refusal.map { .refused($0) })
        html.form(action: "/web/admin/login", csrf: nil) { form in
            form.field("representative", label: "Your name", placeholder: "name")
            form.field("key", label: "Admin key", placeholder: "", type: "password")
            form.raw("<button>Log in</button>")
        }
        return WebController.htmlPage(html, status: status, setCookie: nil)
    }

    static func console(
        key: String, representative: String, outcome: (action: Action, notice: WebController.Notice, json: String?)?,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        var html = HTML()
        html.raw("<header><h1>Tally customer service</h1><p>")
        html.text(representative)
        html.raw("</p>")
        html.form(action: "/web/admin/logout", csrf: csrf(key)) { $0.raw("<button>Log out</button>") }
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
            html.form(action: "/web/admin/\(action.name)", csrf: csrf(key)) { form in
                form.raw("<h3>")
                form.text(action.title)
                form.raw("</h3>")
                for input in action.inputs {
                    switch input {
                    case .text(let name, let label): form.field(name, label: label, placeholder: "")
                    case .amount(let name, let label): form.field(name, label: label, placeholder: "12.50")
                    case .currency: form.currencySelect()
                    case .choice(let name, let label, let options): form.select(name, label: label, options: options)
                    }
                }
                form.raw("<button>\(action.method == .get ? "Show" : "Do it")</button>")
            }
        }
        return WebController.htmlPage(html, status: status, setCookie: nil)
    }

    // MARK: Cookies

    static func credentials(_ request: Request) -> (key: String, representative: String)? {
        guard let key = WebController.cookie(keyCookie, in: request),
              let representative = WebController.cookie(representativeCookie, in: request)?.removingPercentEncoding
        else { return nil }
        return (key, representative)
    }

    static func csrf(_ key: String) -> String {
        String(SHA256.hash(Array(("tally-console-form:" + key).utf8)).description.prefix(32))
    }

    static func clear(_ name: String) -> String { "\(name)=; Path=/web/admin; HttpOnly; SameSite=Strict; Max-Age=0" }
}
