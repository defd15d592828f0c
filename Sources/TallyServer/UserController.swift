import Foundation
import Hummingbird
import Journal
import Ledger
import Projections
import TallyCrypto

/// Signup and login (anonymous), and `/v1/me/…`: what a logged-in user (or a member of their
/// account) does. Reads come from the projections and carry the sequence they reflect.
struct UserController: Sendable {
    let api: TallyAPI

    func addRoutes(to router: Router<TallyContext>) {
        router.post("v1/signup") { request, _ in try await signup(request) }
        router.post("v1/login") { request, context in try await login(request, context) }
        router.post("v1/logout") { request, _ in try await logout(request) }
        let me = router.group("v1/me")
        me.get { request, _ in try await profile(request) }
        me.patch { request, _ in try await updateDetails(request) }
        me.get("wallets") { request, _ in try await wallets(request) }
        me.post("wallets") { request, _ in try await openWallet(request) }
        me.post("funds") { request, _ in try await addFunds(request) }
        // The status is read once the caller is known (a stranger gets 401, not a 400).
        me.get("funds") { request, _ in
            try await ownList(request) { try $0.fundings(user: $1, before: $2, limit: $3, status: try Self.fundingStatus(request)) }
        }
        me.get("payouts") { request, _ in try await ownList(request) { try $0.payouts(user: $1, before: $2, limit: $3) } }
        me.post("payout-requests") { request, _ in try await requestPayout(request) }
        me.get("payout-requests") { request, _ in try await ownList(request) { try $0.payoutRequests(user: $1, before: $2, limit: $3) } }
        me.get("purchases") { request, _ in try await purchases(request) }
        me.post("purchases/:transaction/access") { request, context in try await access(request, context) }
        me.get("history/:currency") { request, context in try await history(request, context) }
        me.get("balances/:currency") { request, context in try await balance(request, context) }
        me.post("limits") { request, _ in try await setLimit(request, remove: false) }
        me.post("limits/remove") { request, _ in try await setLimit(request, remove: true) }
        me.post("transfers") { request, _ in try await transfer(request) }
        me.post("disputes") { request, _ in try await dispute(request) }
        me.get("disputes") { request, _ in try await ownList(request) { try $0.disputes(user: $1, before: $2, limit: $3) } }
        me.post("members") { request, _ in try await addMember(request) }
        me.delete("members/:member") { request, context in try await removeMember(request, context) }
        me.post("purchase-token") { request, _ in try await purchaseToken(request) }
        me.post("password") { request, context in try await changePassword(request, context) }
    }

    /// The rule every new password meets, named by the request's `field`.
    static func validatePassword(_ password: String, field: String) throws {
        guard (10...256).contains(password.utf8.count) else {
            throw APIError.badField(field, "\(field) must be 10 to 256 bytes")
        }
    }

    static func validateNewPassword(_ password: String) throws {
        try validatePassword(password, field: "newPassword")
    }

    /// Changes the password of the session's own login, checked with its name and current
    /// password (throttled like a login), and ends its other sessions: whoever else was logged
    /// in with the old password is logged out, and their purchase tokens buy nothing more.
    func changePassword(_ request: Request, _ context: TallyContext) async throws -> Response {
        let session = try api.authenticateUser(request)
        let body = try RequestBodies.decode(PasswordChangeBody.self, from: try await RequestBodies.bytes(request))
        try Self.validateNewPassword(body.newPassword)
        let refused = APIError(.forbidden, "password-check-failed", "The login name or current password is wrong; nothing was changed",
                               field: "currentPassword")
        _ = try await checkPassword(name: body.login, body.currentPassword, client: context.client(of: request, trusting: api.settings.trustedProxies), refused: refused) {
            $0.user == session.user && $0.member == session.member
        }
        let hash = try await api.hashPassword(body.newPassword)
        guard let ended = try api.credentials.changePassword(
            name: body.login, user: session.user, member: session.member, hash: hash, keepingToken: request.bearerToken)
        else { throw refused }
        return try JSONResponse.make(PasswordChanged(user: session.user, member: session.member, sessionsEnded: ended))
    }

    // MARK: Accounts and sessions

    static func validateLogin(_ login: String, password: String) throws {
        guard (3...128).contains(login.utf8.count), !login.contains(where: { $0.isWhitespace || $0.isNewline }),
              !TextRules.containsControlCharacter(login)
        else {
            throw APIError.badField("login", "login must be 3 to 128 characters without spaces or control characters")
        }
        try validatePassword(password, field: "password")
    }

    /// Opens an account (ledger), stores the person (identity store) and the login
    /// (credentials). The login is claimed first so two signups cannot take one name.
    static func openAccount(
        api: TallyAPI, login: String, password: String, name: String, email: String, channel: AccountChannel,
        referringVendor: String?, representative: String?
    ) async throws -> AccountCreated {
        try validateLogin(login, password: password)
        try validateName(name)
        try validateEmail(email)
        let user = TallyAPI.newID("u_")
        let hash = try await api.hashPassword(password)
        let result = try await claimingLogin(api: api, name: login, .init(user: user, member: nil, passwordHash: hash)) {
            try await api.execute(.openAccount(user: user, channel: channel, referringVendor: referringVendor, representative: representative))
        }
        try api.identity.store(PersonalData(name: name, email: email, loginName: login), for: user)
        return AccountCreated(user: user, sequence: result.sequences?.lowerBound ?? 0)
    }

    /// Claims a login name, then runs the ledger command that gives it an account or member.
    /// The name is claimed first, so of two requests racing for one name exactly one gets it;
    /// if the ledger then refuses, the name is given back.
    static func claimingLogin(
        api: TallyAPI, name: String, _ login: CredentialStore.Login, _ command: () async throws -> LedgerResult
    ) async throws -> LedgerResult {
        guard try api.credentials.createLogin(name: name, login) else {
            throw APIError(.conflict, "login-taken", "That login name is taken", field: "login")
        }
        do {
            return try await command()
        } catch {
            try? api.credentials.deleteLogin(name: name)
            throw error
        }
    }

    func signup(_ request: Request) async throws -> Response {
        let body = try RequestBodies.decode(SignupBody.self, from: try await RequestBodies.bytes(request))
        if try api.credentials.login(name: body.login) != nil {
            throw APIError(.conflict, "login-taken", "That login name is taken", field: "login")
        }
        let created = try await Self.openAccount(
            api: api, login: body.login, password: body.password, name: body.name, email: body.email,
            channel: body.referringVendor == nil ? .providerSite : .vendorLink, referringVendor: body.referringVendor, representative: nil)
        return try JSONResponse.make(created, status: .created)
    }

    func login(_ request: Request, _ context: TallyContext) async throws -> Response {
        let body = try RequestBodies.decode(LoginBody.self, from: try await RequestBodies.bytes(request))
        let login = try await checkPassword(
            name: body.login, body.password, client: context.client(of: request, trusting: api.settings.trustedProxies), refused: APIError(.unauthorized, "login-failed", "Login name or password is wrong"))
        let now = api.now
        let session = CredentialStore.Session(
            user: login.user, member: login.member, loginAtMilliseconds: now, expiresAtMilliseconds: now + api.settings.sessionMilliseconds)
        let token = try api.credentials.createSession(session)
        return try JSONResponse.make(SessionView(
            session: token, user: login.user, member: login.member, expiresAtMilliseconds: session.expiresAtMilliseconds,
            purchaseWindowEndsAtMilliseconds: now + api.settings.purchaseWindowMilliseconds))
    }

    /// The login `name` when `password` is its password and `accepts` it, else `refused`; as a
    /// login checks it: throttled per name and client (429 `login-throttled`, see
    /// ``LoginThrottle``), every failure counted, and a name that is none (or not accepted)
    /// costing the time of a real check, so that it is not told apart from a wrong password.
    func checkPassword(
        name: String, _ password: String, client: String, refused: APIError, accepts: (CredentialStore.Login) -> Bool = { _ in true }
    ) async throws -> CredentialStore.Login {
        let throttleKey = String(decoding: api.credentials.loginIndex(name), as: UTF8.self)
        if let wait = api.loginThrottle.wait(throttleKey, client: client, now: api.now) {
            var error = APIError(.tooManyRequests, "login-throttled", "Too many failed logins for this name; try again later",
                                 detail: "\(wait.failures) failures within \(LoginThrottle.windowMilliseconds / 60_000) minutes"
                                    + (wait.fromEverywhere ? ", from many clients" : " from this client"))
            error.headers = [.retryAfter: "\((wait.milliseconds + 999) / 1000)"]
            throw error
        }
        guard password.utf8.count <= 256, let login = try api.credentials.login(name: name), accepts(login) else {
            _ = try await api.verifyPassword(password, stored: Self.decoyHash(api))
            api.loginThrottle.failed(throttleKey, client: client, now: api.now)
            throw refused
        }
        guard try await api.verifyPassword(password, stored: login.passwordHash) else {
            api.loginThrottle.failed(throttleKey, client: client, now: api.now)
            throw refused
        }
        api.loginThrottle.succeeded(throttleKey, client: client)
        return login
    }

    static func decoyHash(_ api: TallyAPI) -> String {
        let n = UInt64(1) << api.settings.scryptLog2N
        return "scrypt$\(n)$8$1$00000000000000000000000000000000$" + String(repeating: "0", count: 64)
    }

    func logout(_ request: Request) async throws -> Response {
        _ = try api.authenticateUser(request)
        try api.credentials.endSession(token: request.bearerToken!)
        return Response(status: .noContent)
    }

    /// The account holder only (not a member) may manage members.
    func holder(_ session: CredentialStore.Session) throws -> String {
        guard session.member == nil else {
            throw APIError(.forbidden, "holder-only", "Only the account holder may do this, not a member")
        }
        return session.user
    }

    static func validateName(_ name: String) throws {
        guard (1...200).contains(name.count), !TextRules.containsControlCharacter(name) else {
            throw APIError.badField("name", "name must be 1 to 200 characters without control characters")
        }
    }

    static func validateEmail(_ email: String) throws {
        guard (3...254).contains(email.utf8.count), email.contains("@"), !email.contains(where: { $0.isWhitespace }),
              !TextRules.containsControlCharacter(email)
        else { throw APIError.badField("email", "email must be an e-mail address") }
    }

    func profile(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        return try JSONResponse.make(try me(session))
    }

    /// The session's account, with `person` when the caller has just read it.
    private func me(_ session: CredentialStore.Session, person known: PersonalData? = nil) throws -> MeView {
        guard let record = try api.ledger.read({ try $0.user(session.user) }) else { throw APIError.notFound("account") }
        let person = try known ?? api.identity.personalData(of: session.user)
        return MeView(
            user: session.user, member: session.member, name: person?.name, email: person?.email, channel: record.channel.rawValue,
            members: record.members.filter { $0.value }.keys.sorted(), wallets: record.wallets.map(\.code))
    }

    /// `PATCH /v1/me`: the holder changes the name or e-mail address kept for the account (in
    /// the identity store, sealed with the holder's key; customer service finds the account by
    /// the new address from then on, not by the old). Members may not.
    func updateDetails(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        let user = try holder(session)
        let body = try RequestBodies.decode(DetailsBody.self, from: try await RequestBodies.bytes(request))
        return try JSONResponse.make(try me(session, person: try Self.changeDetails(api: api, user: user, body)))
    }

    /// Replaces the name or e-mail address kept for `user` (each field sent, at least one), and
    /// returns what is kept now.
    static func changeDetails(api: TallyAPI, user: String, _ body: DetailsBody) throws -> PersonalData {
        guard body.name != nil || body.email != nil else {
            throw APIError.badField("name", "send a new name, a new email, or both")
        }
        if let name = body.name { try validateName(name) }
        if let email = body.email { try validateEmail(email) }
        guard var person = try api.identity.personalData(of: user) else { throw APIError.notFound("account") }
        person.name = body.name ?? person.name
        person.email = body.email ?? person.email
        try api.identity.store(person, for: user)
        api.logger.info("personal details changed", metadata: ["user": "\(user)"])
        return person
    }

    func purchaseToken(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        let windowEnd = session.loginAtMilliseconds + api.settings.purchaseWindowMilliseconds
        guard api.now < windowEnd else {
            throw APIError(.forbidden, "purchase-window-closed", "The purchase window after login has closed; log in again")
        }
        let token = try api.tokens.mint(
            PurchaseTokenClaims(user: session.user, member: session.member, loginAtMilliseconds: session.loginAtMilliseconds, expiresAtMilliseconds: windowEnd),
            now: api.now)
        return try JSONResponse.make(PurchaseTokenView(purchaseToken: token, expiresAtMilliseconds: windowEnd), status: .created)
    }

    // MARK: Reads (projections)

    func wallets(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        return try await api.snapshot(request, missing: "account") { try $0.wallets(user: session.user) }
    }

    func purchases(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        let (before, limit) = try Self.page(request)
        return try await api.snapshot(request, missing: "account") { try PurchaseSummary.page($0, user: session.user, before: before, limit: limit) }
    }

    /// One of the account's own lists (fundings, payouts, disputes), newest first, paged.
    func ownList<Page: Codable & Sendable>(
        _ request: Request, _ read: (ProjectionReader, String, UInt64?, Int) throws -> Page
    ) async throws -> Response {
        let session = try api.authenticateUser(request)
        let (before, limit) = try Self.page(request)
        return try await api.snapshot(request, missing: "account") { try read($0, session.user, before, limit) }
    }

    /// The `status` a list of fundings is narrowed to, if any.
    static func fundingStatus(_ request: Request) throws -> FundingStatus? {
        guard let text = try request.query("status") else { return nil }
        guard let status = FundingStatus(rawValue: text) else {
            throw APIError.badField("status", "status is one of completed, pending, cleared, failed")
        }
        return status
    }

    /// `before` and `limit` (1 to 500, default 100) of a paged read.
    static func page(_ request: Request) throws -> (before: UInt64?, limit: Int) {
        let before = try request.queryUInt("before")
        let limit = Int(try request.queryUInt("limit", min: 1, max: 500) ?? 100)
        return (before, limit)
    }

    func currency(_ context: TallyContext) throws -> Currency {
        let code = try context.parameters.require("currency")
        guard let currency = Currency(code: code) else {
            throw APIError(.badRequest, "unknown-currency", "Unknown currency", detail: "\(code) is not a supported currency", field: "currency")
        }
        return currency
    }

    func history(_ request: Request, _ context: TallyContext) async throws -> Response {
        let session = try api.authenticateUser(request)
        let currency = try currency(context)
        let before = try request.queryUInt("before")
        let limit = Int(try request.queryUInt("limit", min: 1, max: 500) ?? 50)
        return try await api.snapshot(request, missing: "wallet") {
            try $0.walletHistory(user: session.user, currency: currency, before: before, limit: limit)
        }
    }

    /// The wallet's balance now, or as of a past sequence (`atSequence`) or time (`atTime`, ms).
    func balance(_ request: Request, _ context: TallyContext) async throws -> Response {
        let session = try api.authenticateUser(request)
        let currency = try currency(context)
        let atSequence = try request.queryUInt("atSequence")
        let atTime = try request.queryUInt("atTime")
        guard atSequence == nil || atTime == nil else { throw APIError.badField("atTime", "give atSequence or atTime, not both") }
        try await api.awaitProjections(request)
        let account = LedgerAccount.wallet(user: session.user, currency: currency).name
        let result = try api.projections.read { reader in
            if let atTime { return try reader.balance(account: account, atTimeMilliseconds: atTime) }
            if let atSequence, atSequence > reader.sequence { throw APIError.badField("atSequence", "atSequence \(atSequence) is beyond the sequence the read models reflect (\(reader.sequence)); pass minSequence to wait for it") }
            return try reader.balance(account: account, atSequence: atSequence)
        }
        return try JSONResponse.make(BalanceAt(account: "wallet", currency: currency.code, balance: result.balance, asOfSequence: result.sequence))
    }

    /// An access grant for purchased content: the vendor's site checks it, so the user opens
    /// the content from the summary without going back through the vendor.
    func access(_ request: Request, _ context: TallyContext) async throws -> Response {
        let session = try api.authenticateUser(request)
        let transaction = try context.parameters.require("transaction")
        guard let record = try api.ledger.read({ try $0.transaction(transaction) }), record.user == session.user else {
            throw APIError.notFound("purchase")
        }
        guard record.status == .captured || record.status == .disputed else {
            throw APIError(.forbidden, "not-entitled", "This purchase grants no access", detail: "the purchase is \(record.status.rawValue)")
        }
        let now = api.now
        var expiry = now + 15 * 60_000
        if let absolute = record.terms.access.expiresAtMilliseconds { expiry = min(expiry, absolute) }
        let purchased = try api.projections.read { try $0.purchase(transaction: transaction) }
        if let purchased, let remaining = purchased.remaining, let until = remaining.expiresAtMilliseconds { expiry = min(expiry, until) }
        guard expiry > now else { throw APIError(.forbidden, "entitlement-expired", "The entitlement to this content has expired") }
        // Each grant is one use of the entitlement, counted by the ledger against the views
        // bought (refused once they are used up).
        _ = try await api.execute(.useEntitlement(user: session.user, transaction: transaction))
        let grant = try api.grants.issue(AccessGrantClaims(
            transaction: transaction, vendor: record.vendor, customer: api.pseudonyms.pseudonym(user: session.user, vendor: record.vendor),
            url: record.terms.url, expiresAtMilliseconds: expiry))
        return try JSONResponse.make(AccessGrantView(grant: grant, url: record.terms.url, expiresAtMilliseconds: expiry), status: .created)
    }

    // MARK: Writes (ledger)

    func openWallet(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        let user = try holder(session)
        let body = try RequestBodies.decode(CurrencyBody.self, from: try await RequestBodies.bytes(request))
        let result = try await api.execute(.openWallet(user: user, currency: body.currency))
        return try JSONResponse.make(SequenceView(sequence: result.sequences?.lowerBound ?? 0), status: .created)
    }

    func addFunds(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        let body = try RequestBodies.decode(FundsBody.self, from: try await RequestBodies.bytes(request))
        guard body.method != .providerIssue else {
            throw APIError.badField("method", "providerIssue is for customer service; pay by an online or offline method")
        }
        let key = try api.optionalIdempotencyKey(request)
        let scope = IdempotencyScope.user(session.user)
        return try await api.idempotently(scope: scope, key: key) {
            let funding = TallyAPI.requestID("f_", scope: scope, key: key)
            let result = try await api.execute(
                .addFunds(funding: funding, user: session.user, currency: body.currency, amount: body.amount, method: body.method),
                idempotencyKey: key, scope: scope)
            return try JSONResponse.make(
                FundsView(funding: funding, currency: body.currency, amount: body.amount, method: body.method, result: result),
                status: .created, headers: TallyAPI.replayHeaders(result))
        }
    }

    func setLimit(_ request: Request, remove: Bool) async throws -> Response {
        let session = try api.authenticateUser(request)
        let user = try holder(session)
        let body = try RequestBodies.decode(LimitBody.self, from: try await RequestBodies.bytes(request))
        let limit = SpendingLimit(kind: body.kind, currency: body.currency, amount: body.amount, member: body.member, vendor: body.vendor)
        let result = try await api.execute(
            remove ? .removeSpendingLimit(user: user, limit: limit) : .setSpendingLimit(user: user, limit: limit), field: TallyAPI.unprefixed("limit."))
        return try JSONResponse.make(SequenceView(sequence: result.sequences?.lowerBound ?? 0), status: remove ? .ok : .created)
    }

    func transfer(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        let user = try holder(session)
        let body = try RequestBodies.decode(TransferBody.self, from: try await RequestBodies.bytes(request))
        guard let recipient = try api.credentials.login(name: body.toLogin), recipient.member == nil else {
            throw APIError(.unprocessableContent, "unknown-recipient", "No account has that login name", field: "toLogin")
        }
        let key = try api.optionalIdempotencyKey(request)
        let scope = IdempotencyScope.user(user)
        return try await api.idempotently(scope: scope, key: key) {
            let result = try await api.execute(
                .transfer(from: user, to: recipient.user, currency: body.currency, amount: body.amount), idempotencyKey: key, scope: scope
            ) { $0 == "to" ? "toLogin" : TallyAPI.sameField($0) }
            return try JSONResponse.make(
                TransferView(currency: body.currency.code, amount: body.amount, sequence: result.sequences?.lowerBound ?? 0),
                status: .created, headers: TallyAPI.replayHeaders(result))
        }
    }

    /// The holder asks for tokens to be paid back (members may not: the money leaves the
    /// account). The amount is set aside at once; customer service pays or declines it.
    func requestPayout(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        let user = try holder(session)
        let body = try RequestBodies.decode(PayoutRequestBody.self, from: try await RequestBodies.bytes(request))
        let key = try api.optionalIdempotencyKey(request)
        let scope = IdempotencyScope.user(user)
        return try await api.idempotently(scope: scope, key: key) {
            let payout = TallyAPI.requestID("p_", scope: scope, key: key)
            let result = try await api.execute(
                .requestPayout(payout: payout, user: user, currency: body.currency, amount: body.amount, method: body.method),
                idempotencyKey: key, scope: scope)
            return try JSONResponse.make(
                PayoutRequestMade(payout: payout, currency: body.currency.code, amount: body.amount, method: body.method.rawValue,
                                  status: "requested", sequence: result.sequences?.lowerBound ?? 0),
                status: .created, headers: TallyAPI.replayHeaders(result))
        }
    }

    func dispute(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        let body = try RequestBodies.decode(DisputeBody.self, from: try await RequestBodies.bytes(request))
        let id = TallyAPI.newID("d_")
        let result = try await api.execute(.openDispute(dispute: id, user: session.user, transaction: body.transaction, reason: body.reason))
        var view = DisputeView(
            dispute: id, transaction: body.transaction, status: "open", disputed: 0, reserved: 0, refunded: 0,
            sequence: result.sequences?.lowerBound ?? 0)
        for event in result.events {
            switch event {
            case .disputeOpened(let opened):
                view.disputed = opened.disputed ?? opened.price
                view.reserved = opened.reserved
            case .disputeResolved(let resolved):
                view.status = resolved.outcome.rawValue
                view.refunded = resolved.refunded
            default: break
            }
        }
        return try JSONResponse.make(view, status: .created)
    }

    func addMember(_ request: Request) async throws -> Response {
        let session = try api.authenticateUser(request)
        let user = try holder(session)
        let body = try RequestBodies.decode(MemberBody.self, from: try await RequestBodies.bytes(request))
        try Self.validateLogin(body.login, password: body.password)
        if try api.credentials.login(name: body.login) != nil {
            throw APIError(.conflict, "login-taken", "That login name is taken", field: "login")
        }
        let member = TallyAPI.newID("m_")
        let hash = try await api.hashPassword(body.password)
        let result = try await Self.claimingLogin(api: api, name: body.login, .init(user: user, member: member, passwordHash: hash)) {
            try await api.execute(.addMember(user: user, member: member))
        }
        return try JSONResponse.make(MemberCreatedView(member: member, sequence: result.sequences?.lowerBound ?? 0), status: .created)
    }

    func removeMember(_ request: Request, _ context: TallyContext) async throws -> Response {
        let session = try api.authenticateUser(request)
        let user = try holder(session)
        let member = try context.parameters.require("member")
        let result = try await api.execute(.removeMember(user: user, member: member))
        try api.credentials.removeLogins(user: user, member: member)
        return try JSONResponse.make(SequenceView(sequence: result.sequences?.lowerBound ?? 0))
    }
}
