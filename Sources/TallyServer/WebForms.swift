import Foundation
import Hummingbird
import Ledger
import TallyCrypto

/// A refusal shown on a page: the problem's title, detail and field.
struct WebRefusal: Error {
    let title: String
    let detail: String?
    let field: String?

    init(title: String, detail: String?, field: String?) {
        self.title = title
        self.detail = detail
        self.field = field
    }

    /// From an API problem document.
    init(_ json: Any?) {
        let problem = json as? [String: Any] ?? [:]
        title = problem["title"] as? String ?? "The request was refused"
        detail = problem["detail"] as? String
        field = problem["field"] as? String
    }
}

/// A posted HTML form (`application/x-www-form-urlencoded`), at most 16 KiB.
struct WebForm {
    private var values: [String: String] = [:]

    init(values: [String: String]) {
        self.values = values
    }

    /// The form's fields. The request's `Origin`, when a browser sends one, must be this
    /// server's own: a form posted from another site is refused (so is a login forced on a
    /// visitor from elsewhere).
    init(_ request: Request) async throws {
        if let origin = request.headers.value(of: .origin), origin != "null" {
            guard let url = URL(string: origin), let host = url.host,
                  request.head.authority == host + (url.port.map { ":\($0)" } ?? "")
            else { throw WebController.forgedForm }
        }
        let bytes = try await RequestBodies.bytes(request, limit: 16 * 1024, mediaType: "application/x-www-form-urlencoded")
        let text = String(decoding: bytes, as: UTF8.self)
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) ?? "" : ""
            if values[name] == nil { values[name] = value }
        }
    }

    private static func decode(_ part: Substring) -> String? {
        part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The hidden field that makes a money-moving form's post once-only (``HTML/onceToken()``).
    static let onceField = "once"

    /// The Idempotency-Key of a form rendered with a once-token: a double click, or a browser
    /// sending the form again, gets the first answer instead of moving the money twice. Nil for
    /// a form without one (a form of an older page).
    func idempotencyKey() throws -> String? {
        guard let token = optional(Self.onceField) else { return nil }
        guard token.utf8.count == 32, token.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw WebRefusal(title: "The form is damaged", detail: "reload the page and fill it in again", field: Self.onceField)
        }
        return "web-" + token
    }

    func optional(_ name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    /// The fields among `names` the form fills, as a JSON body's members (blank ones are left
    /// out: a change that keeps what is not typed).
    func filled(_ names: String...) -> [String: Any] {
        var body: [String: Any] = [:]
        for name in names { if let value = optional(name) { body[name] = value } }
        return body
    }

    func text(_ name: String) throws -> String {
        guard let value = optional(name) else { throw WebRefusal(title: "A field is missing", detail: "\(name) is required", field: name) }
        return value
    }

    func currency(_ name: String) throws -> Currency {
        let code = try text(name)
        guard let currency = Currency(code: code) else {
            throw WebRefusal(title: "Unknown currency", detail: "\(code) is not a supported currency", field: name)
        }
        return currency
    }

    /// An amount typed in the currency's units ("12.50"), as minor units: at most as many
    /// decimals as the currency has, positive, and within 64 bits.
    func amount(_ name: String, _ currency: Currency) throws -> Int64 {
        let typed = try text(name)
        let refusal = WebRefusal(
            title: "An amount is not valid",
            detail: "\(typed) is not a positive amount in \(currency.code) with at most \(currency.minorUnits) decimals", field: name)
        let parts = typed.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0], fraction = parts.count > 1 ? parts[1] : ""
        guard !whole.isEmpty, whole.utf8.allSatisfy({ (48...57).contains($0) }), fraction.utf8.allSatisfy({ (48...57).contains($0) }),
              fraction.count <= currency.minorUnits, parts.count == 1 || !fraction.isEmpty
        else { throw refusal }
        var result: Int64 = 0
        for digit in (whole + fraction + String(repeating: "0", count: currency.minorUnits - fraction.count)).utf8 {
            let (times, overflowA) = result.multipliedReportingOverflow(by: 10)
            let (plus, overflowB) = times.addingReportingOverflow(Int64(digit - 48))
            guard !overflowA, !overflowB else { throw refusal }
            result = plus
        }
        guard result > 0 else { throw refusal }
        return result
    }

    /// An amount already in minor units (a hidden field the page wrote).
    func minorUnits(_ name: String) throws -> Int64 {
        guard let value = Int64(try text(name)) else { throw WebRefusal(title: "An amount is not valid", detail: nil, field: name) }
        return value
    }

    /// The words of field `name` (a list typed separated by spaces, commas or new lines);
    /// empty when the field is.
    func words(_ name: String) -> [String] {
        (optional(name) ?? "").split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "\r" }).map(String.init)
    }

    /// A whole number of days typed in field `name`, in seconds.
    func seconds(ofDays name: String) throws -> UInt64 {
        let typed = try text(name)
        guard let days = UInt64(typed), case let (seconds, overflow) = days.multipliedReportingOverflow(by: 86_400), !overflow else {
            throw WebRefusal(title: "A number of days is not valid", detail: "\(typed) is not a whole number of days", field: name)
        }
        return seconds
    }
}

/// A login form's token, doubled in a cookie (a double submit). A login posted from another
/// site is refused by its `Origin`, but a page can hide its origin (a sandboxed frame sends
/// `Origin: null`); it still cannot send this `SameSite=Strict` cookie, so it cannot log a
/// visitor in under an account of its choosing (login CSRF). Each area (`/web`, and each
/// console) has its own cookie, kept for a day, so a page left open keeps working.
struct LoginFormToken {
    static let field = "login_form"
    let cookie: String
    let path: String

    static let users = LoginFormToken(cookie: "tally_login_form", path: "/web")

    /// The token a login page carries: the request's own when its cookie holds one, else a new
    /// one and the `Set-Cookie` that stores it.
    func issue(_ request: Request, api: TallyAPI) -> (token: String, setCookie: String?) {
        if let existing = WebController.cookie(cookie, in: request), Self.wellFormed(existing) { return (existing, nil) }
        let token = Hex.encode(SecureRandom.bytes(16))
        return (token, api.cookie(cookie, token, path: path, maxAge: 86_400))
    }

    /// Refuses a login form whose token is missing or is not its cookie's.
    func check(_ form: WebForm, _ request: Request) throws {
        guard let posted = form.optional(Self.field), let stored = WebController.cookie(cookie, in: request),
              Self.wellFormed(stored), posted == stored
        else { throw WebController.forgedForm }
    }

    private static func wellFormed(_ token: String) -> Bool {
        token.utf8.count == 32 && token.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// HTML written with every value escaped.
struct HTML {
    private(set) var text = ""

    mutating func raw(_ markup: String) { text += markup }

    mutating func text(_ value: String) {
        for character in value.unicodeScalars {
            switch character {
            case "&": text += "&amp;"
            case "<": text += "&lt;"
            case ">": text += "&gt;"
            case "\"": text += "&quot;"
            case "'": text += "&#39;"
            default: text.unicodeScalars.append(character)
            }
        }
    }

    mutating func form(action: String, csrf: String?, inline: Bool = false, _ body: (inout HTML) -> Void) {
        raw("<form method=\"post\" action=\"\(action)\"\(inline ? " class=\"inline\"" : "")>")
        if let csrf { hidden("csrf", csrf) }
        body(&self)
        raw("</form>")
    }

    /// A fresh random token for a form whose post moves money (``WebForm/idempotencyKey()``).
    mutating func onceToken() {
        hidden(WebForm.onceField, Hex.encode(SecureRandom.bytes(16)))
    }

    mutating func hidden(_ name: String, _ value: String) {
        raw("<input type=\"hidden\" name=\"\(name)\" value=\"")
        text(value)
        raw("\">")
    }

    mutating func field(_ name: String, label: String, placeholder: String, type: String = "text", required: Bool = true) {
        raw("<label>")
        text(label)
        raw(" <input name=\"\(name)\" type=\"\(type)\" placeholder=\"")
        text(placeholder)
        raw("\"\(required ? " required" : "")></label>")
    }

    mutating func select(_ name: String, label: String, options: [(value: String, label: String)], selected: String? = nil) {
        raw("<label>")
        text(label)
        raw(" <select name=\"\(name)\">")
        for option in options {
            raw("<option value=\"")
            text(option.value)
            raw(option.value == selected ? "\" selected>" : "\">")
            text(option.label)
            raw("</option>")
        }
        raw("</select></label>")
    }

    mutating func currencySelect() {
        select("currency", label: "Currency", options: Currency.iso4217.keys.sorted().map { ($0, $0) }, selected: "USD")
    }

    mutating func notice(_ notice: WebController.Notice?) {
        switch notice {
        case .done(let message):
            raw("<p class=\"done\" role=\"status\">")
            text(message)
            raw("</p>")
        case .refused(let refusal):
            raw("<div class=\"refused\" role=\"alert\"><p><strong>")
            text(refusal.title)
            raw("</strong></p>")
            if let detail = refusal.detail { raw("<p>"); text(detail); raw("</p>") }
            if let field = refusal.field { raw("<p>Field: "); text(field); raw("</p>") }
            raw("</div>")
        case nil:
            break
        }
    }
}
