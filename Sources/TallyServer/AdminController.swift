import Foundation
import Hummingbird
import Journal
import Ledger
import Projections
import Synchronization

struct VendorRegistrationBody: Codable, Sendable {
    var name: String
    var sites: [String]
    var feeBasisPoints: Int64
    var settlement: SettlementPolicyBody
}

/// `PATCH /v1/admin/vendors/{vendor}`: the fields to change; each absent one is kept.
struct VendorUpdateBody: Codable, Sendable {
    var name: String?
    var sites: [String]?
    var feeBasisPoints: Int64?
    var settlement: SettlementPolicyBody?
}

/// `POST /v1/admin/users/{user}/erase`: `evenWithMoney` erases a person whose account still
/// holds (or owes) money, which is otherwise refused.
struct EraseBody: Codable, Sendable {
    var evenWithMoney: Bool?
}

struct PersonErased: Codable, Sendable {
    var user: String
    var loginsRemoved: Int
    var sessionsEnded: Int
}

struct VendorCreated: Codable, Sendable {
    var vendor: String
    var keyId: String
    /// The signing secret (hex), shown once.
    var secret: String
    var sequence: UInt64
}

struct VendorKeyCreated: Codable, Sendable {
    var vendor: String
    var keyId: String
    var secret: String
}

/// The account a login name belongs to, for customer service (`GET /v1/admin/accounts?login=`).
struct LoginAccountView: Codable, Sendable {
    var login: String
    var user: String
    /// Set when the login is a member's rather than the account holder's.
    var member: String?
    /// The account holder's name and e-mail from the identity store (absent once erased).
    var name: String?
    var email: String?
}

/// `GET /v1/admin/people?email=`: the accounts whose holder gave that e-mail address.
struct PeopleFound: Codable, Sendable {
    struct Person: Codable, Sendable {
        var user: String
        /// The holder's login name, name and e-mail, from the identity store.
        var login: String
        var name: String
        var email: String
    }
    var accounts: [Person]
}

/// A rights holder's read key, as issued (`token` only then) and as listed.
struct HolderKeyView: Codable, Sendable {
    var keyId: String
    var holder: String
    var createdAtMilliseconds: UInt64
    var expiresAtMilliseconds: UInt64?
    var token: String?

    init(_ key: CredentialStore.HolderKey, token: String? = nil) {
        keyId = key.keyID
        holder = key.holder
        createdAtMilliseconds = key.createdAtMilliseconds
        expiresAtMilliseconds = key.expiresAtMilliseconds
        self.token = token
    }
}

/// `POST /v1/admin/holders/{holder}/keys`: no body, `{}`, or how many days the key opens.
struct HolderKeyBody: Codable, Sendable {
    var expiresInDays: UInt64?
    static let daysMax: UInt64 = 3_650
}

struct HolderKeyList: Codable, Sendable {
    var holder: String
    var keys: [HolderKeyView]
}

struct HolderKeyRevoked: Codable, Sendable {
    var holder: String
    var keyId: String
    var revoked: Bool
}

/// A vendor's signing keys: IDs and creation times, never the secrets.
struct VendorKeyList: Codable, Sendable {
    struct Key: Codable, Sendable {
        var keyId: String
        var createdAtMilliseconds: UInt64
    }
    var vendor: String
    var keys: [Key]

    init(vendor: String, _ keys: [(keyID: String, createdAtMilliseconds: UInt64)]) {
        self.vendor = vendor
        self.keys = keys.map { Key(keyId: $0.keyID, createdAtMilliseconds: $0.createdAtMilliseconds) }
    }
}

struct VendorKeyRevoked: Codable, Sendable {
    var vendor: String
    var keyId: String
    var revoked: Bool
}

struct CreditLineBody: Codable, Sendable {
    var user: String
    var currency: Currency
    var limit: Int64
}

struct AdminIncentiveBody: Codable, Sendable {
    var user: String
    var currency: Currency
    var amount: Int64
    var expiresAtMilliseconds: UInt64?
    var vendors: [String]?
}

struct AdminFundsBody: Codable, Sendable {
    var user: String
    var currency: Currency
    var amount: Int64
    var method: FundingMethod
    var throughVendor: String?
}

/// `POST /v1/admin/payouts`: tokens paid back out of a user's wallet. `payout` is the caller's
/// own ID for it (the server makes one when absent): sent again after a lost answer, the same ID
/// is refused (409 `ledger/payout-exists`) rather than paying twice.
struct AdminPayoutBody: Codable, Sendable {
    var payout: String?
    var user: String
    var currency: Currency
    var amount: Int64
    var method: FundingMethod
    var representative: String
}

/// The answer to an accepted payout.
struct PayoutMade: Codable, Sendable {
    var payout: String
    var user: String
    var currency: String
    var amount: Int64
    var method: String
    var representative: String
    var sequence: UInt64
}

/// `POST /v1/admin/holders/{holder}/payouts`: a rights holder's royalties in `currency` paid
/// out, its whole payable (the ledger says how much). `payout` as for a user's payout.
struct RoyaltyPayoutBody: Codable, Sendable {
    var payout: String?
    var currency: Currency
    var representative: String
}

/// The answer to an accepted royalty payout.
struct RoyaltyPayoutMade: Codable, Sendable {
    var payout: String
    var holder: String
    var currency: String
    var amount: Int64
    var representative: String
    var sequence: UInt64
}

/// `POST /v1/admin/payout-requests/{payout}/pay` (`reason` not allowed) and `…/decline`.
struct PayoutDecisionBody: Codable, Sendable {
    var representative: String
    var reason: String?
}

/// The answer to a payout request paid or declined.
struct PayoutDecision: Codable, Sendable {
    var payout: String
    var user: String
    var currency: String
    var amount: Int64
    var method: String
    var status: String
    var representative: String
    var reason: String?
    var sequence: UInt64
}

struct ResolveBody: Codable, Sendable {
    var refund: Bool
    var representative: String
}

struct SettleBody: Codable, Sendable {
    var vendor: String
    var currency: Currency
    var force: Bool?
}

struct SettlementView: Codable, Sendable {
    var vendor: String
    var currency: String
    var amount: Int64
    var trigger: String
    var coversFromSequence: UInt64
    var coversThroughSequence: UInt64
    var sequence: UInt64
}

struct KeyRotated: Codable, Sendable {
    var keyId: String
}

struct RebuildStarted: Codable, Sendable {
    var status: String
}

/// `/v1/admin/…`: customer service and operations, with the admin key.
struct AdminController: Sendable {
    let api: TallyAPI
    let rebuilding = RebuildFlag()

    func addRoutes(to router: Router<TallyContext>) {
        let admin = router.group("v1/admin")
        admin.post("accounts") { request, _ in try await openAccount(request) }
        admin.get("accounts") { request, _ in try await accountOfLogin(request) }
        admin.get("people") { request, _ in try await peopleByEmail(request) }
        admin.post("vendors") { request, _ in try await registerVendor(request) }
        admin.post("password-resets") { request, _ in try await resetPassword(request) }
        admin.post("users/:user/erase") { request, context in try await erase(request, context) }
        admin.patch("users/:user") { request, context in try await changeDetails(request, context) }
        admin.patch("vendors/:vendor") { request, context in try await updateVendor(request, context) }
        admin.post("vendors/:vendor/keys") { request, context in try await newVendorKey(request, context) }
        admin.get("vendors/:vendor/keys") { request, context in try await vendorKeys(request, context) }
        admin.delete("vendors/:vendor/keys/:keyId") { request, context in try await revokeVendorKey(request, context) }
        admin.get("vendors/:vendor/settlement") { request, context in try await vendorSettlement(request, context) }
        admin.post("credit-lines") { request, _ in try await creditLine(request) }
        admin.post("funds") { request, _ in try await addFunds(request) }
        admin.get("funds") { request, _ in try await queue(request) { try $0.pendingFundings(after: $1, limit: $2) } }
        admin.get("funds/:funding") { request, context in try await caseRecord(request, context, "funding") { try $0.funding($1) } }
        admin.get("disputes") { request, _ in try await queue(request) { try $0.openDisputes(after: $1, limit: $2) } }
        admin.get("disputes/:dispute") { request, context in try await caseRecord(request, context, "dispute") { try $0.dispute($1) } }
        admin.post("payouts") { request, _ in try await returnFunds(request) }
        admin.get("payout-requests") { request, _ in try await queue(request) { try $0.requestedPayouts(after: $1, limit: $2) } }
        admin.get("payout-requests/:payout") { request, context in try await caseRecord(request, context, "payout") { try $0.payoutRequest($1) } }
        admin.post("payout-requests/:payout/pay") { request, context in try await decidePayout(request, context, pay: true) }
        admin.post("payout-requests/:payout/decline") { request, context in try await decidePayout(request, context, pay: false) }
        admin.get("users/:user/payout-requests") { request, context in
            try await userList(request, context) { try $0.payoutRequests(user: $1, before: $2, limit: $3) }
        }
        admin.get("payouts/:payout") { request, context in try await caseRecord(request, context, "payout") { try $0.payout($1) } }
        admin.post("funds/:funding/clear") { request, context in try await settleFunds(request, context, clear: true) }
        admin.post("funds/:funding/fail") { request, context in try await settleFunds(request, context, clear: false) }
        admin.post("incentives") { request, _ in try await issueIncentive(request) }
        admin.post("incentives/:lot/expire") { request, context in try await simple(request) { .expireIncentive(lot: try context.parameters.require("lot")) } }
        admin.post("holds/:transaction/expire") { request, context in try await simple(request) { .expireHold(transaction: try context.parameters.require("transaction")) } }
        admin.post("referrals/:user/reward") { request, context in try await simple(request) { .rewardReferral(user: try context.parameters.require("user")) } }
        admin.post("disputes/:dispute/resolve") { request, context in try await resolve(request, context) }
        admin.post("settlements") { request, _ in try await settle(request) }
        admin.get("users/:user/wallets") { request, context in try await userWallets(request, context) }
        admin.get("users/:user/purchases") { request, context in try await userPurchases(request, context) }
        admin.get("users/:user/funds") { request, context in
            try await userList(request, context) {
                try $0.fundings(user: $1, before: $2, limit: $3, status: try UserController.fundingStatus(request))
            }
        }
        admin.get("users/:user/disputes") { request, context in try await userList(request, context) { try $0.disputes(user: $1, before: $2, limit: $3) } }
        admin.get("users/:user/payouts") { request, context in try await userList(request, context) { try $0.payouts(user: $1, before: $2, limit: $3) } }
        admin.get("holders/:holder/royalties") { request, context in try await royalties(request, context) }
        admin.post("holders/:holder/payouts") { request, context in try await payRoyalties(request, context) }
        admin.post("holders/:holder/keys") { request, context in try await newHolderKey(request, context) }
        admin.get("holders/:holder/keys") { request, context in
            try api.requireAdmin(request)
            let holder = try context.parameters.require("holder")
            return try JSONResponse.make(HolderKeyList(holder: holder, keys: try api.credentials.holderKeys(holder: holder).map { HolderKeyView($0) }))
        }
        admin.delete("holders/:holder/keys/:keyId") { request, context in
            try api.requireAdmin(request)
            let holder = try context.parameters.require("holder")
            let keyID = try context.parameters.require("keyId")
            guard try api.credentials.revokeHolderKey(keyID, holder: holder) else { throw APIError.notFound("rights holder's read key") }
            api.logger.notice("rights holder's read key revoked", metadata: ["holder": "\(holder)", "keyId": "\(keyID)"])
            return try JSONResponse.make(HolderKeyRevoked(holder: holder, keyId: keyID, revoked: true))
        }
        admin.get("holders/:holder/payouts") { request, context in try await royaltyPayouts(request, context) }
        admin.post("journal/rotate-key") { request, _ in try await rotateKey(request) }
        admin.post("projections/rebuild") { request, _ in try await rebuild(request) }
    }

    func body<T: Codable>(_ type: T.Type, _ request: Request) async throws -> T {
        try api.requireAdmin(request)
        return try RequestBodies.decode(type, from: try await RequestBodies.bytes(request))
    }

    func openAccount(_ request: Request) async throws -> Response {
        let body = try await body(AdminAccountBody.self, request)
        if try api.credentials.login(name: body.login) != nil {
            throw APIError(.conflict, "login-taken", "That login name is taken", field: "login")
        }
        let created = try await UserController.openAccount(
            api: api, login: body.login, password: body.password, name: body.name, email: body.email,
            channel: .customerService, referringVendor: nil, representative: body.representative)
        return try JSONResponse.make(created, status: .created)
    }

    func registerVendor(_ request: Request) async throws -> Response {
        let body = try await body(VendorRegistrationBody.self, request)
        let vendor = TallyAPI.newID("v_")
        let result = try await api.execute(.registerVendor(
            vendor: vendor, name: body.name, sites: body.sites, feeBasisPoints: body.feeBasisPoints,
            settlement: body.settlement.policy))
        let key = try api.credentials.createVendorKey(vendor: vendor, now: api.now)
        return try JSONResponse.make(
            VendorCreated(vendor: vendor, keyId: key.keyID, secret: key.secret, sequence: result.sequences?.lowerBound ?? 0), status: .created)
    }

    /// A vendor named in a route's path: an unknown one is 404 (not the ledger's 422, which is
    /// for a vendor named in a body).
    func requireVendor(_ vendor: String) throws {
        guard try api.ledger.read({ try $0.vendor(vendor) }) != nil else { throw APIError.notFound("vendor") }
    }

    func newVendorKey(_ request: Request, _ context: TallyContext) async throws -> Response {
        try api.requireAdmin(request)
        let vendor = try context.parameters.require("vendor")
        try requireVendor(vendor)
        let key = try api.credentials.createVendorKey(vendor: vendor, now: api.now)
        return try JSONResponse.make(VendorKeyCreated(vendor: vendor, keyId: key.keyID, secret: key.secret), status: .created)
    }

    /// A read key for a rights holder, to read its own royalty statement and payouts
    /// (`/v1/holder/…`): the key is in this answer only. The holder need not have been credited
    /// yet (a new author may be given a key before the first sale).
    func newHolderKey(_ request: Request, _ context: TallyContext) async throws -> Response {
        try api.requireAdmin(request)
        let bytes = try await RequestBodies.bytes(request)
        let body = bytes.isEmpty ? HolderKeyBody() : try RequestBodies.decode(HolderKeyBody.self, from: bytes)
        let holder = try context.parameters.require("holder")
        guard Ledger.isIdentifier(holder) else {
            throw APIError.badField("holder", "a rights holder's ID is 1 to 64 of A-Z a-z 0-9 . _ -")
        }
        if let days = body.expiresInDays, !(1...HolderKeyBody.daysMax).contains(days) {
            throw APIError.badField("expiresInDays", "a read key opens for 1 to \(HolderKeyBody.daysMax) days")
        }
        let now = api.now
        let (key, token) = try api.credentials.createHolderKey(
            holder: holder, now: now, expiresAtMilliseconds: body.expiresInDays.map { now + $0 * 86_400_000 })
        api.logger.notice("rights holder's read key issued", metadata: ["holder": "\(holder)", "keyId": "\(key.keyID)"])
        return try JSONResponse.make(HolderKeyView(key, token: token), status: .created)
    }

    /// The account behind a login name: a caller gives customer service their login, not the
    /// account's opaque ID that every other admin route takes. Logged by account ID only.
    func accountOfLogin(_ request: Request) async throws -> Response {
        try api.requireAdmin(request)
        guard let name = try request.query("login"), !name.isEmpty else {
            throw APIError.badField("login", "login (the login name to look up) is required")
        }
        guard let login = try api.credentials.login(name: name) else {
            throw APIError(.notFound, "not-found", "No such login", field: "login")
        }
        let person = try api.identity.personalData(of: login.user)
        api.logger.info("account looked up by login", metadata: ["user": "\(login.user)"])
        return try JSONResponse.make(LoginAccountView(login: name, user: login.user, member: login.member, name: person?.name, email: person?.email))
    }

    /// The accounts whose holder gave an e-mail address (compared in any case): a caller who
    /// forgot their login name. Several accounts may share an address; none is a 404.
    func peopleByEmail(_ request: Request) async throws -> Response {
        try api.requireAdmin(request)
        guard let email = try request.query("email"), !email.isEmpty else {
            throw APIError.badField("email", "email (the e-mail address to look up) is required")
        }
        let people = try api.identity.users(withEmail: email).compactMap { user -> PeopleFound.Person? in
            guard let person = try api.identity.personalData(of: user) else { return nil }
            return PeopleFound.Person(user: user, login: person.loginName, name: person.name, email: person.email)
        }
        guard !people.isEmpty else { throw APIError(.notFound, "not-found", "No account has that e-mail address", field: "email") }
        api.logger.info("accounts looked up by e-mail", metadata: ["users": "\(people.map(\.user).joined(separator: ","))"])
        return try JSONResponse.make(PeopleFound(accounts: people))
    }

    /// A caller's name or e-mail address changed by customer service (a caller who can no
    /// longer read the address they gave). Answers with what the account now holds.
    func changeDetails(_ request: Request, _ context: TallyContext) async throws -> Response {
        let body = try await body(DetailsBody.self, request)
        let user = try context.parameters.require("user")
        let person = try UserController.changeDetails(api: api, user: user, body)
        return try JSONResponse.make(PeopleFound.Person(user: user, login: person.loginName, name: person.name, email: person.email))
    }

    /// Sets a login's password for a caller who lost it (customer service has checked who they
    /// are), and ends every session of that login, with its purchase tokens.
    func resetPassword(_ request: Request) async throws -> Response {
        let body = try await body(PasswordResetBody.self, request)
        try UserController.validateNewPassword(body.newPassword)
        guard let login = try api.credentials.login(name: body.login) else {
            throw APIError(.notFound, "not-found", "No such login", field: "login")
        }
        let hash = try await api.hashPassword(body.newPassword)
        guard let ended = try api.credentials.changePassword(name: body.login, user: login.user, member: login.member, hash: hash, keepingToken: nil)
        else { throw APIError(.conflict, "login-changed", "The login changed meanwhile; nothing was changed", field: "login") }
        api.logger.notice("password reset by customer service", metadata: ["user": "\(login.user)", "sessionsEnded": "\(ended)"])
        return try JSONResponse.make(PasswordChanged(user: login.user, member: login.member, sessionsEnded: ended))
    }

    /// Erases a person (the right to be forgotten): their per-user key is destroyed, so their
    /// name and e-mail can never be read again (nor from a backup), and every login of their
    /// account is removed, its sessions and purchase tokens ended. The journal, which holds no
    /// personal data, is not touched: the account's money stays in the ledger under its opaque
    /// ID. An account whose wallets still hold, hold back or owe money is refused (409
    /// `account-holds-money`, naming them) unless `evenWithMoney`: return the money first, as
    /// nobody could log in to spend it afterwards. Erasing again changes nothing.
    func erase(_ request: Request, _ context: TallyContext) async throws -> Response {
        try api.requireAdmin(request)
        let bytes = try await RequestBodies.bytes(request)
        let body = bytes.isEmpty ? EraseBody() : try RequestBodies.decode(EraseBody.self, from: bytes)
        let user = try context.parameters.require("user")
        let money = try api.ledger.read { state -> [String]? in
            guard let record = try state.user(user) else { return nil }
            var held: [String] = []
            for currency in record.wallets {
                for account in [LedgerAccount.wallet(user: user, currency: currency), .holds(user: user, currency: currency),
                                .pending(user: user, currency: currency), .outgoing(user: user, currency: currency)] {
                    let balance = try state.balance(account)
                    if balance != 0 { held.append("\(account.name) \(balance)") }
                }
            }
            return held
        }
        guard let money else { throw APIError.notFound("user") }
        if !money.isEmpty && body.evenWithMoney != true {
            throw APIError(.conflict, "account-holds-money",
                           "The account still holds or owes money; pay it back first (POST /v1/admin/payouts), or erase evenWithMoney",
                           detail: money.joined(separator: ", "))
        }
        try api.identity.erase(user: user)
        let removed = try api.credentials.removeAccountLogins(user: user)
        api.logger.notice("person erased", metadata: ["user": "\(user)", "logins": "\(removed.logins)", "sessions": "\(removed.sessions)"])
        return try JSONResponse.make(PersonErased(user: user, loginsRemoved: removed.logins, sessionsEnded: removed.sessions))
    }

    /// Changes a vendor's name, sites, fee or settlement policy, from this event on.
    func updateVendor(_ request: Request, _ context: TallyContext) async throws -> Response {
        let body = try await body(VendorUpdateBody.self, request)
        let vendor = try context.parameters.require("vendor")
        try requireVendor(vendor)
        let result = try await api.execute(.updateVendor(
            vendor: vendor, name: body.name, sites: body.sites, feeBasisPoints: body.feeBasisPoints, settlement: body.settlement?.policy))
        return try JSONResponse.make(SequenceView(sequence: result.sequences?.lowerBound ?? 0))
    }

    func vendorKeys(_ request: Request, _ context: TallyContext) async throws -> Response {
        try api.requireAdmin(request)
        let vendor = try context.parameters.require("vendor")
        try requireVendor(vendor)
        return try JSONResponse.make(VendorKeyList(vendor: vendor, try api.credentials.vendorKeys(vendor: vendor)))
    }

    /// Revokes one of a vendor's signing keys (a leaked secret, a retired integration): its
    /// signatures are refused from now on. The vendor's other keys, and its money, are
    /// untouched; revoking the last key leaves the vendor unable to call the API until
    /// customer service gives it a new one.
    func revokeVendorKey(_ request: Request, _ context: TallyContext) async throws -> Response {
        try api.requireAdmin(request)
        let vendor = try context.parameters.require("vendor")
        let keyID = try context.parameters.require("keyId")
        guard try api.credentials.revokeVendorKey(keyID, vendor: vendor) else { throw APIError.notFound("vendor signing key") }
        api.logger.notice("vendor signing key revoked", metadata: ["vendor": "\(vendor)", "keyId": "\(keyID)"])
        return try JSONResponse.make(VendorKeyRevoked(vendor: vendor, keyId: keyID, revoked: true))
    }

    func vendorSettlement(_ request: Request, _ context: TallyContext) async throws -> Response {
        try api.requireAdmin(request)
        let vendor = try context.parameters.require("vendor")
        return try await api.snapshot(request, missing: "vendor") { try $0.vendorSettlement(vendor: vendor) }
    }

    func creditLine(_ request: Request) async throws -> Response {
        let body = try await body(CreditLineBody.self, request)
        let result = try await api.execute(.approveCreditLine(user: body.user, currency: body.currency, limit: body.limit))
        return try JSONResponse.make(SequenceView(sequence: result.sequences?.lowerBound ?? 0), status: .created)
    }

    /// Funds recorded by customer service (a mailed check, a phone order, a provider issue).
    func addFunds(_ request: Request) async throws -> Response {
        let body = try await body(AdminFundsBody.self, request)
        let (key, scope) = (try api.optionalIdempotencyKey(request), IdempotencyScope.customerService)
        return try await api.idempotently(scope: scope, key: key) {
            let funding = TallyAPI.requestID("f_", scope: scope, key: key)
            let result = try await api.execute(
                .addFunds(funding: funding, user: body.user, currency: body.currency, amount: body.amount, method: body.method,
                          throughVendor: body.throughVendor),
                idempotencyKey: key, scope: scope)
            return try JSONResponse.make(
                FundsView(funding: funding, currency: body.currency, amount: body.amount, method: body.method, result: result),
                status: .created, headers: TallyAPI.replayHeaders(result))
        }
    }

    /// Tokens paid back out of a user's wallet (a redemption, or emptying an account before its
    /// holder is erased), recorded once the money has been sent by `method`.
    func returnFunds(_ request: Request) async throws -> Response {
        let body = try await body(AdminPayoutBody.self, request)
        let (key, scope) = (try api.optionalIdempotencyKey(request), IdempotencyScope.customerService)
        return try await api.idempotently(scope: scope, key: key) {
            let payout = body.payout ?? TallyAPI.requestID("p_", scope: scope, key: key)
            let result = try await api.execute(
                .returnFunds(payout: payout, user: body.user, currency: body.currency, amount: body.amount, method: body.method,
                             representative: body.representative),
                idempotencyKey: key, scope: scope)
            if !result.replayed {
                api.logger.notice("payout", metadata: ["payout": "\(payout)", "user": "\(body.user)", "representative": "\(body.representative)"])
            }
            return try JSONResponse.make(
                PayoutMade(payout: payout, user: body.user, currency: body.currency.code, amount: body.amount, method: body.method.rawValue,
                           representative: body.representative, sequence: result.sequences?.lowerBound ?? 0),
                status: .created, headers: TallyAPI.replayHeaders(result))
        }
    }

    /// A rights holder's royalties paid out, recorded once the money has been sent: the whole
    /// payable in the currency (the ledger says how much). With nothing earned since the last
    /// payout it is a 422 `ledger/nothing-to-settle`; a payout ID used before, a 409.
    func payRoyalties(_ request: Request, _ context: TallyContext) async throws -> Response {
        let body = try await body(RoyaltyPayoutBody.self, request)
        let holder = try context.parameters.require("holder")
        let (key, scope) = (try api.optionalIdempotencyKey(request), IdempotencyScope.customerService)
        return try await api.idempotently(scope: scope, key: key) {
            let payout = body.payout ?? TallyAPI.requestID("p_", scope: scope, key: key)
            let result = try await api.execute(
                .payRoyalties(payout: payout, holder: holder, currency: body.currency, representative: body.representative),
                idempotencyKey: key, scope: scope)
            guard case .royaltiesPaid(let paid)? = result.events.first else {
                throw APIError(.internalServerError, "internal", "No royalty payout event")
            }
            if !result.replayed {
                api.logger.notice("royalty payout", metadata: [
                    "payout": "\(payout)", "holder": "\(holder)", "amount": "\(paid.amount)", "representative": "\(body.representative)",
                ])
            }
            return try JSONResponse.make(
                RoyaltyPayoutMade(payout: payout, holder: holder, currency: body.currency.code, amount: paid.amount,
                                  representative: body.representative, sequence: result.sequences?.lowerBound ?? 0),
                status: .created, headers: TallyAPI.replayHeaders(result))
        }
    }

    /// A rights holder's royalty payouts, newest first; 404 for a holder never credited a royalty.
    func royaltyPayouts(_ request: Request, _ context: TallyContext) async throws -> Response {
        try api.requireAdmin(request)
        let holder = try context.parameters.require("holder")
        let (before, limit) = try UserController.page(request)
        return try await api.snapshot(request, missing: "rights holder") { reader in
            try reader.royaltyTotals(holder: holder) == nil ? nil : try reader.royaltyPayouts(holder: holder, before: before, limit: limit)
        }
    }

    /// A user's payout request paid (once the money has been sent by the method asked for) or
    /// declined with a reason (the amount goes back to the wallet). Decided once: again is a
    /// 422 `ledger/payout-not-pending`.
    func decidePayout(_ request: Request, _ context: TallyContext, pay: Bool) async throws -> Response {
        let body = try await body(PayoutDecisionBody.self, request)
        let payout = try context.parameters.require("payout")
        if pay, body.reason != nil { throw APIError.badField("reason", "a payout that is paid takes no reason") }
        let command: LedgerCommand = pay
            ? .completePayout(payout: payout, representative: body.representative)
            : .declinePayout(payout: payout, representative: body.representative, reason: body.reason ?? "")
        let result = try await api.execute(command)
        let first = result.sequences?.lowerBound ?? 0
        let decision: PayoutDecision
        switch result.events.first {
        case .fundsReturned(let paid)?:
            decision = PayoutDecision(payout: payout, user: paid.user, currency: paid.currency.code, amount: paid.amount, method: paid.method.rawValue,
                                      status: "paid", representative: paid.representative, reason: nil, sequence: first)
        case .payoutDeclined(let declined)?:
            decision = PayoutDecision(payout: payout, user: declined.user, currency: declined.currency.code, amount: declined.amount, method: declined.method.rawValue,
                                      status: "declined", representative: declined.representative, reason: declined.reason, sequence: first)
        default:
            throw APIError(.internalServerError, "internal", "No payout decision event")
        }
        api.logger.notice("payout request decided", metadata: [
            "payout": "\(payout)", "status": "\(decision.status)", "representative": "\(body.representative)",
        ])
        return try JSONResponse.make(decision)
    }

    func settleFunds(_ request: Request, _ context: TallyContext, clear: Bool) async throws -> Response {
        try await simple(request) {
            let funding = try context.parameters.require("funding")
            return clear ? .clearFunds(funding: funding) : .failFunds(funding: funding)
        }
    }

    /// A command with no body: executes it and answers with the sequence of its first event.
    func simple(_ request: Request, _ command: () throws -> LedgerCommand) async throws -> Response {
        try api.requireAdmin(request)
        let bytes = try await RequestBodies.bytes(request)
        if !bytes.isEmpty { _ = try RequestBodies.decode(EmptyBody.self, from: bytes) }
        let result = try await api.execute(try command())
        return try JSONResponse.make(SequenceView(sequence: result.sequences?.lowerBound ?? 0))
    }

    func issueIncentive(_ request: Request) async throws -> Response {
        let body = try await body(AdminIncentiveBody.self, request)
        let (key, scope) = (try api.optionalIdempotencyKey(request), IdempotencyScope.customerService)
        return try await api.idempotently(scope: scope, key: key) {
            let lot = TallyAPI.requestID("lot_", scope: scope, key: key)
            let result = try await api.execute(
                .issueIncentive(lot: lot, user: body.user, currency: body.currency, amount: body.amount, issuer: nil,
                                expiresAtMilliseconds: body.expiresAtMilliseconds, vendors: body.vendors),
                idempotencyKey: key, scope: scope)
            return try JSONResponse.make(
                IncentiveView(
                    lot: lot, customer: nil, user: body.user, currency: body.currency.code, amount: body.amount, issuer: "provider",
                    expiresAtMilliseconds: body.expiresAtMilliseconds, vendors: body.vendors, sequence: result.sequences?.lowerBound ?? 0),
                status: .created, headers: TallyAPI.replayHeaders(result))
        }
    }

    func resolve(_ request: Request, _ context: TallyContext) async throws -> Response {
        let body = try await body(ResolveBody.self, request)
        let dispute = try context.parameters.require("dispute")
        let result = try await api.execute(.resolveDispute(dispute: dispute, refund: body.refund, representative: body.representative))
        guard case .disputeResolved(let resolved)? = result.events.first(where: { if case .disputeResolved = $0 { return true } else { return false } }) else {
            throw APIError(.internalServerError, "internal", "No resolution event")
        }
        // What the dispute held in the vendor's reserve since it opened (returned to the vendor's
        // payable when rejected, part of the refund otherwise), and what it disputed (a record
        // from before partial refunds existed disputed the whole price).
        let (record, price) = try api.ledger.read { state in
            (try state.dispute(dispute), try state.transaction(resolved.transaction)?.terms.price ?? 0)
        }
        return try JSONResponse.make(DisputeView(
            dispute: dispute, transaction: resolved.transaction, status: resolved.outcome.rawValue,
            disputed: record?.disputed ?? price, reserved: record?.reserved ?? 0, refunded: resolved.refunded,
            sequence: result.sequences?.lowerBound ?? 0))
    }

    func settle(_ request: Request) async throws -> Response {
        let body = try await body(SettleBody.self, request)
        let result = try await api.execute(.settle(vendor: body.vendor, currency: body.currency, force: body.force ?? true))
        guard case .vendorSettled(let settled)? = result.events.first else { throw APIError(.internalServerError, "internal", "No settlement event") }
        return try JSONResponse.make(
            SettlementView(
                vendor: settled.vendor, currency: settled.currency.code, amount: settled.amount, trigger: settled.trigger.rawValue,
                coversFromSequence: settled.coversFromSequence, coversThroughSequence: settled.coversThroughSequence,
                sequence: result.sequences?.lowerBound ?? 0),
            status: .created)
    }

    func userWallets(_ request: Request, _ context: TallyContext) async throws -> Response {
        try api.requireAdmin(request)
        let user = try context.parameters.require("user")
        return try await api.snapshot(request, missing: "account") { try $0.wallets(user: user) }
    }

    func userPurchases(_ request: Request, _ context: TallyContext) async throws -> Response {
        try api.requireAdmin(request)
        let user = try context.parameters.require("user")
        let (before, limit) = try UserController.page(request)
        return try await api.snapshot(request, missing: "account") { try PurchaseSummary.page($0, user: user, before: before, limit: limit) }
    }

    /// One of a user's lists (fundings, disputes), newest first, as the user sees it (a caller
    /// asking after a cheque); an unknown account is a 404, as for its wallets.
    func userList<Page: Codable & Sendable>(
        _ request: Request, _ context: TallyContext, _ read: (ProjectionReader, String, UInt64?, Int) throws -> Page
    ) async throws -> Response {
        try api.requireAdmin(request)
        let user = try context.parameters.require("user")
        let (before, limit) = try UserController.page(request)
        return try await api.snapshot(request, missing: "account") { reader in
            try reader.wallets(user: user) == nil ? nil : try read(reader, user, before, limit)
        }
    }

    /// A work queue (offline funds to clear or fail, disputes to resolve), oldest first.
    func queue<Page: Codable & Sendable>(_ request: Request, _ read: (ProjectionReader, UInt64?, Int) throws -> Page) async throws -> Response {
        try api.requireAdmin(request)
        let (after, limit) = try Self.queuePage(request)
        return try await api.snapshot(request, missing: "queue") { try read($0, after, limit) }
    }

    /// One case (a funding, a dispute, a payout) named by the path's `parameter`; 404 when none.
    func caseRecord<Record: Codable & Sendable>(
        _ request: Request, _ context: TallyContext, _ parameter: String, _ read: (ProjectionReader, String) throws -> Record?
    ) async throws -> Response {
        try api.requireAdmin(request)
        let id = try context.parameters.require(parameter)
        return try await api.snapshot(request, missing: parameter) { try read($0, id) }
    }

    /// A queue's page: entries after the sequence `after` (from the first when absent), at most `limit`.
    static func queuePage(_ request: Request) throws -> (after: UInt64?, limit: Int) {
        let after = try request.queryUInt("after")
        let limit = Int(try request.queryUInt("limit", min: 1, max: 500) ?? 50)
        return (after, limit)
    }

    func royalties(_ request: Request, _ context: TallyContext) async throws -> Response {
        try api.requireAdmin(request)
        let holder = try context.parameters.require("holder")
        let before = try request.queryUInt("before")
        let limit = Int(try request.queryUInt("limit", min: 1, max: 1000) ?? 100)
        return try await api.snapshot(request, missing: "rights holder") { try $0.royaltyStatementPage(holder: holder, before: before, limit: limit) }
    }

    func rotateKey(_ request: Request) async throws -> Response {
        try api.requireAdmin(request)
        let key = try await api.journal.rotateSigningKey()
        return try JSONResponse.make(KeyRotated(keyId: "\(key)"), status: .created)
    }

    /// Rebuilds every read model beside the live one (which keeps serving) and swaps it in.
    /// Answers 202 at once; `/ready` reports progress and failure.
    func rebuild(_ request: Request) async throws -> Response {
        try api.requireAdmin(request)
        guard rebuilding.begin() else {
            throw APIError(.conflict, "rebuild-running", "A rebuild is already running")
        }
        let projections = api.projections
        let flag = rebuilding
        let logger = api.logger
        // On a thread of its own: a rebuild folds for seconds to minutes, and on the concurrency
        // pool (one thread per core) it would hold a thread that every request needs.
        startThread(named: "tally.rebuild") {
            defer { flag.end() }
            do {
                try projections.rebuild(progress: nil)
                logger.info("projection rebuild finished")
            } catch {
                logger.error("projection rebuild failed", metadata: ["error": "\(error)"])
            }
        }
        return try JSONResponse.make(RebuildStarted(status: "started"), status: .accepted)
    }
}

/// Whether a projection rebuild is running (one at a time).
final class RebuildFlag: Sendable {
    let running = Mutex(false)
    func begin() -> Bool { running.withLock { if $0 { return false }; $0 = true; return true } }
    func end() { running.withLock { $0 = false } }
    var isRunning: Bool { running.withLock { $0 } }
}
