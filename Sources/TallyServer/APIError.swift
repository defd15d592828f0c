import Foundation
import Hummingbird
import Journal
import Ledger

/// An error the API answers with a problem document.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    /// The stable rule slug (the problem `type` is `ProblemDocument.typeBase + rule`).
    public var rule: String
    public var title: String
    public var detail: String?
    public var field: String?
    public var headroom: Int64?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ rule: String, _ title: String, detail: String? = nil, field: String? = nil) {
        self.status = status
        self.rule = rule
        self.title = title
        self.detail = detail
        self.field = field
    }

    public var problem: ProblemDocument {
        ProblemDocument(rule: rule, title: title, status: status, detail: detail, field: field, headroom: headroom)
    }

    static func badField(_ field: String, _ detail: String) -> APIError {
        APIError(.badRequest, "invalid-field", "A field of the request is not valid", detail: detail, field: field)
    }

    static let unauthenticated = APIError(.unauthorized, "unauthenticated", "Credentials are missing or not valid")
    static let forbidden = APIError(.forbidden, "forbidden", "These credentials may not do this")
    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not-found", "No such \(what)") }

    /// A ledger rejection: the rule's name is its slug under `ledger/`, so every rule has its own
    /// stable type. Unknown things are 404, things that exist already 409, the rest 422.
    init(_ rejection: LedgerRejection) {
        let name = rejection.rule.name
        let status: HTTPResponse.Status
        switch rejection.rule {
        case .unknownTransaction, .unknownDispute, .unknownFunding, .unknownContent, .unknownIncentive, .unknownLimit, .unknownPayout:
            status = .notFound
        case .accountExists, .walletExists, .memberExists, .vendorExists, .contentExists, .disputeExists, .incentiveExists, .payoutExists:
            status = .conflict
        default:
            status = .unprocessableContent
        }
        self.init(status, "ledger/" + Self.kebab(name), "Refused by ledger rule \(rejection.rule.rawValue) (\(name))", detail: rejection.message)
        headroom = rejection.headroom
    }

    /// A ledger rejection as the route at `path` answers it, naming `field` (the request's field
    /// the rule concerns, if any): as a vendor may see it on a vendor's route, else in full.
    init(_ rejection: LedgerRejection, field: String?, path: String) {
        self = path.hasPrefix("/v1/vendor/") ? APIError(vendorFacing: rejection) : APIError(rejection)
        self.field = field
    }

    /// A ledger rejection as a vendor may see it: the rule (its type) stays, but the customer's
    /// own state does not. The ledger's words name the user's and members' IDs and, for funds,
    /// the user's balance (its headroom); a vendor knows the customer only by its pseudonym,
    /// so those rules get a sentence of their own, the balance is never told, and any user or
    /// member ID left in the others is replaced. A spending limit's headroom stays: the limit
    /// is the customer's own rule for this spending, and the site can say what still fits.
    init(vendorFacing rejection: LedgerRejection) {
        self.init(rejection)
        switch rejection.rule {
        case .insufficientFunds:
            headroom = nil
            detail = "the customer's funds in this currency do not cover the price"
        case .referralNotQualified:
            headroom = nil
            detail = detail.map(Self.withoutPersonIDs)
        case .exceedsPerTransactionLimit, .exceedsDailyLimit, .exceedsWeeklyLimit, .exceedsMonthlyLimit, .exceedsVendorLimit:
            detail = "the purchase is over a spending limit the customer has set"
        case .walletNotOpen:
            detail = "the customer has no wallet in this currency"
        case .unknownMember:
            detail = "the purchase token's member is no longer a member of the customer's account"
        default:
            detail = detail.map(Self.withoutPersonIDs)
        }
    }

    /// `text` with every server-made user and member ID (`u_` or `m_` and 24 hex digits)
    /// replaced by "the customer" or "a member".
    static func withoutPersonIDs(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let range = rest.firstRange(of: /\b([um])_[0-9a-f]{24}\b/) {
            out += rest[..<range.lowerBound]
            out += rest[range].hasPrefix("u") ? "the customer" : "a member"
            rest = rest[range.upperBound...]
        }
        return out + rest
    }

    static func kebab(_ camel: String) -> String {
        var out = ""
        for character in camel {
            if character.isUppercase {
                out += "-" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }
}

/// A ledger refusal and the request field it concerns, if any (``TallyAPI/execute(_:idempotencyKey:field:)``).
struct FieldedRejection: Error {
    let rejection: LedgerRejection
    let field: String?
}

/// Turns every error thrown by a route into a problem document, so no client ever sees a
/// stack trace, an empty 500 or Hummingbird's own error format.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.problem.response(headers: error.headers)
        } catch let refusal as FieldedRejection {
            // Vendors know a customer only by a pseudonym: the ledger's words are not for them.
            return APIError(refusal.rejection, field: refusal.field, path: request.uri.path).problem.response()
        } catch let rejection as LedgerRejection {
            return APIError(rejection, field: nil, path: request.uri.path).problem.response()
        } catch let error as JournalError {
            switch error {
            case .overloaded(let seconds):
                return ProblemDocument(rule: "overloaded", title: "The journal is busy; nothing was written; retry later", status: .serviceUnavailable)
                    .response(headers: [.retryAfter: "\(seconds)"])
            case .storageFull(let seconds):
                return ProblemDocument(rule: "storage-full", title: "The disk is full; nothing was written", status: .serviceUnavailable)
                    .response(headers: [.retryAfter: "\(seconds)"])
            case .writerFailed, .closed:
                return ProblemDocument(rule: "journal-stopped", title: "The journal has stopped", status: .serviceUnavailable).response()
            default:
                context.logger.error("journal error", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
                return ProblemDocument(rule: "internal", title: "Internal error", status: .internalServerError).response()
            }
        } catch let error as HTTPError {
            let status = error.status
            let rule: String
            switch status {
            case .notFound: rule = "not-found"
            case .methodNotAllowed: rule = "method-not-allowed"
            case .contentTooLarge: rule = "body-too-large"
            default: rule = "http-\(status.code)"
            }
            return ProblemDocument(rule: rule, title: status.reasonPhrase, status: status, detail: error.body).response()
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return ProblemDocument(rule: "internal", title: "Internal error", status: .internalServerError).response()
        }
    }
}
