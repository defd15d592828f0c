import Foundation
import Hummingbird
import Journal
import Ledger
import Projections
import TallyCrypto

/// `/v1/vendor/…`: what a vendor's site does, every request signed (``VendorSignature``) and
/// every write carrying an `Idempotency-Key`. A vendor sees its customers only by pseudonym.
struct VendorController: Sendable {
    let api: TallyAPI

    func addRoutes(to router: Router<TallyContext>) {
        let group = router.group("v1/vendor")
        group.get { request, _ in try await profile(request) }
        group.post("content") { request, _ in try await registerContent(request) }
        group.post("purchases") { request, _ in try await purchase(request, authorize: false) }
        group.post("purchases/batch") { request, _ in try await batch(request) }
        group.get("purchases") { request, _ in try await purchasesByReference(request) }
        group.get("purchases/:transaction") { request, context in try await purchaseStatus(request, context) }
        group.post("purchases/:transaction/refund") { request, context in try await refund(request, context) }
        group.post("authorizations") { request, _ in try await purchase(request, authorize: true) }
        group.post("authorizations/:transaction/capture") { request, context in try await settleHold(request, context, capture: true) }
        group.post("authorizations/:transaction/void") { request, context in try await settleHold(request, context, capture: false) }
        group.post("incentives") { request, _ in try await issueIncentive(request) }
        group.put("referral-policy") { request, _ in try await setReferralPolicy(request) }
        group.get("access-grants/:grant") { request, context in try await checkGrant(request, context) }
        group.get("settlement") { request, _ in try await settlement(request) }
        group.get("keys") { request, _ in
            let vendor = try await vendorOfRead(request)
            return try JSONResponse.make(VendorKeyList(vendor: vendor, try api.credentials.vendorKeys(vendor: vendor)))
        }
        group.get("history") { request, _ in try await history(request) }
        group.get("disputes") { request, _ in try await disputes(request) }
    }

    /// The disputes of the vendor's sales, newest first, each as it stands: the buyer by the
    /// vendor's pseudonym only; the buyer's reason and the representative's name stay with
    /// customer service.
    func disputes(_ request: Request) async throws -> Response {
        let vendor = try await vendorOfRead(request)
        let before = try request.queryUInt("before")
        let limit = Int(try request.queryUInt("limit", min: 1, max: 500) ?? 50)
        let pseudonyms = api.pseudonyms
        return try await api.snapshot(request, missing: "vendor") { reader in
            let page = try reader.disputes(vendor: vendor, before: before, limit: limit)
            return VendorDisputesPage(
                disputes: page.disputes.map { VendorDisputeView($0, customer: pseudonyms.pseudonym(user: $0.user, vendor: vendor)) },
                nextBefore: page.nextBefore)
        }
    }

    func settlement(_ request: Request) async throws -> Response {
        let vendor = try await vendorOfRead(request)
        return try await api.snapshot(request, missing: "vendor") { try $0.vendorSettlement(vendor: vendor) }
    }

    /// The vendor's ledger history, newest first; `before` is the cursor (`nextBefore` of the
    /// previous page). Entries name counterparties by kind only.
    func history(_ request: Request) async throws -> Response {
        let vendor = try await vendorOfRead(request)
        let before = try request.queryUInt("before")
        let limit = Int(try request.queryUInt("limit", min: 1, max: 500) ?? 50)
        return try await api.snapshot(request, missing: "vendor") { reader in
            var page = try reader.vendorHistory(vendor: vendor, before: before, limit: limit)
            for index in page.entries.indices where AuditController.referralTypes.contains(page.entries[index].eventType) {
                page.entries[index].transaction = nil
            }
            return page
        }
    }

    /// Authenticates a read (no body).
    func vendorOfRead(_ request: Request) async throws -> String {
        let body = try await RequestBodies.bytes(request)
        return try api.authenticateVendor(request, body: body)
    }

    func profile(_ request: Request) async throws -> Response {
        let vendor = try await vendorOfRead(request)
        let (record, policy) = try api.ledger.read { state in (try state.vendor(vendor), try state.referralPolicy(vendor: vendor)) }
        guard let record else { throw APIError.notFound("vendor") }
        return try JSONResponse.make(VendorProfile(
            vendor: vendor, name: record.name, sites: record.sites, feeBasisPoints: record.feeBasisPoints,
            settlement: SettlementPolicyBody(record.settlement),
            referralPolicy: policy.map {
                ReferralPolicyBody(currency: $0.currency, rewardAmount: $0.rewardAmount, minimumSpend: $0.minimumSpend, confirmationSeconds: $0.confirmationSeconds)
            }))
    }

    func registerContent(_ request: Request) async throws -> Response {
        let bytes = try await RequestBodies.bytes(request)
        let vendor = try api.authenticateVendor(request, body: bytes)
        let key = try api.idempotencyKey(request)
        let body = try RequestBodies.decode(ContentBody.self, from: bytes)
        return try await api.exclusively(scope: vendor, key: key) {
            let result = try await api.execute(.registerContent(vendor: vendor, terms: body.terms), idempotencyKey: key)
            return try JSONResponse.make(
                ContentView(content: body.content, sequence: result.sequences?.lowerBound ?? 0), status: .created,
                headers: TallyAPI.replayHeaders(result))
        }
    }

    // MARK: Purchases

    /// The command a purchase body asks for, after opening its purchase token.
    func command(vendor: String, token: String, content: String?, inline: ContentBody?, holdSeconds: UInt64?, authorize: Bool,
                 vendorData: VendorData?) throws -> LedgerCommand {
        let claims: PurchaseTokenClaims
        do {
            claims = try api.tokens.open(token, now: api.now)
        } catch .expired {
            throw APIError(.forbidden, "purchase-token-expired", "The purchase token is outside its purchase window; the user must log in again", field: "purchaseToken")
        } catch {
            throw APIError(.forbidden, "purchase-token-invalid", "The purchase token is not valid", field: "purchaseToken")
        }
        if try api.credentials.sessionEnded(user: claims.user, member: claims.member, loginAtMilliseconds: claims.loginAtMilliseconds) {
            throw APIError(.forbidden, "purchase-token-revoked", "The session this purchase token came from has ended (logout, a password change, the member's removal or erasure)", field: "purchaseToken")
        }
        let reference: ContentReference
        switch (content, inline) {
        case (let id?, nil): reference = .catalog(id)
        case (nil, let body?): reference = .inline(body.terms)
        default:
            throw APIError.badField("content", "give exactly one of content (a catalog content ID) and inline (the content's terms)")
        }
        if authorize {
            guard let holdSeconds else { throw APIError(.badRequest, "missing-field", "A required field is missing", detail: "holdSeconds is required", field: "holdSeconds") }
            return .authorize(user: claims.user, member: claims.member, vendor: vendor, content: reference, holdSeconds: holdSeconds,
                              vendorData: vendorData)
        }
        guard holdSeconds == nil else { throw APIError.badField("holdSeconds", "holdSeconds belongs to authorizations, not one-step purchases") }
        return .purchase(user: claims.user, member: claims.member, vendor: vendor, content: reference, vendorData: vendorData)
    }

    func purchase(_ request: Request, authorize: Bool) async throws -> Response {
        let bytes = try await RequestBodies.bytes(request)
        let vendor = try api.authenticateVendor(request, body: bytes)
        let key = try api.idempotencyKey(request)
        let body = try RequestBodies.decode(PurchaseBody.self, from: bytes)
        let command = try command(vendor: vendor, token: body.purchaseToken, content: body.content, inline: body.inline, holdSeconds: body.holdSeconds,
                                  authorize: authorize, vendorData: body.vendorData)
        return try await api.exclusively(scope: vendor, key: key) {
            let result = try await api.execute(command, idempotencyKey: key, field: Self.purchaseField(inline: body.inline != nil))
            guard let view = view(of: result, vendor: vendor) else { throw APIError(.internalServerError, "internal", "No purchase event") }
            return try JSONResponse.make(view, status: .created, headers: TallyAPI.replayHeaders(result))
        }
    }

    /// The request field of a purchase's command field: the content's terms are fields of
    /// `inline` when the request gave them (a catalog entry's are not the request's), and a batch
    /// item's fields are under `purchases[i].`, its idempotency key among them.
    static func purchaseField(inline: Bool, item: Int? = nil) -> (String) -> String? {
        let prefix = item.map { "purchases[\($0)]." } ?? ""
        return { name in
            switch name {
            case "holdSeconds": return prefix + name
            case "idempotencyKey": return item == nil ? TallyAPI.sameField(name) : prefix + name
            case _ where name == "vendorData" || name.hasPrefix("vendorData."): return prefix + name
            default: return inline ? prefix + "inline." + name : nil
            }
        }
    }

    /// Many one-step purchases in one request, decided as one journal batch (one commit): each
    /// item has its own idempotency key and is accepted or refused on its own.
    func batch(_ request: Request) async throws -> Response {
        let bytes = try await RequestBodies.bytes(request, limit: RequestBodies.batchLimit)
        let vendor = try api.authenticateVendor(request, body: bytes)
        let key = try api.idempotencyKey(request)
        let body = try RequestBodies.decode(BatchPurchaseBody.self, from: bytes)
        guard !body.purchases.isEmpty, body.purchases.count <= 1000 else {
            throw APIError.badField("purchases", "a batch holds 1 to 1000 purchases")
        }
        var seenKeys = Set<String>()
        for (index, item) in body.purchases.enumerated() where !seenKeys.insert(item.idempotencyKey).inserted {
            throw APIError.badField("purchases[\(index)].idempotencyKey", "idempotency keys must be unique within a batch")
        }
        return try await api.exclusively(scope: vendor, key: key) {
            var results = [BatchItemResult?](repeating: nil, count: body.purchases.count)
            var commands: [(command: LedgerCommand, idempotencyKey: String?)] = []
            var positions: [Int] = []
            for (index, item) in body.purchases.enumerated() {
                do {
                    commands.append((try command(vendor: vendor, token: item.purchaseToken, content: item.content, inline: item.inline, holdSeconds: nil,
                                                 authorize: false, vendorData: item.vendorData), item.idempotencyKey))
                    positions.append(index)
                } catch let error as APIError {
                    var problem = error.problem
                    if let field = problem.field { problem.field = "purchases[\(index)].\(field)" }
                    results[index] = BatchItemResult(status: error.status.code, purchase: nil, problem: problem)
                }
            }
            if !commands.isEmpty {
                let outcomes = try await api.ledger.executeBatch(commands)
                for (offset, outcome) in outcomes.enumerated() {
                    api.metrics.record(outcome)
                    switch outcome {
                    case .success(let result):
                        results[positions[offset]] = BatchItemResult(status: 201, purchase: view(of: result, vendor: vendor), problem: nil)
                    case .failure(let rejection):
                        let index = positions[offset]
                        let field = rejection.field.flatMap(Self.purchaseField(inline: body.purchases[index].inline != nil, item: index))
                        let error = APIError(rejection, field: field, path: request.uri.path)
                        results[positions[offset]] = BatchItemResult(status: error.status.code, purchase: nil, problem: error.problem)
                    }
                }
            }
            let final = results.map { $0! }
            let accepted = final.filter { $0.status == 201 }.count
            return try JSONResponse.make(BatchPurchaseResult(results: final, accepted: accepted, rejected: final.count - accepted))
        }
    }

    func settleHold(_ request: Request, _ context: TallyContext, capture: Bool) async throws -> Response {
        let bytes = try await RequestBodies.bytes(request)
        let vendor = try api.authenticateVendor(request, body: bytes)
        let key = try api.idempotencyKey(request)
        if !bytes.isEmpty { _ = try RequestBodies.decode(EmptyBody.self, from: bytes) }
        let transaction = try context.parameters.require("transaction")
        return try await api.exclusively(scope: vendor, key: key) {
            let command: LedgerCommand = capture ? .capture(vendor: vendor, transaction: transaction) : .void(vendor: vendor, transaction: transaction)
            let result = try await api.execute(command, idempotencyKey: key)
            guard var view = view(of: result, vendor: vendor) else { throw APIError(.internalServerError, "internal", "No purchase event") }
            // The vendor's data came with the authorization, and never changes.
            if capture { view.vendorData = try api.ledger.read { try $0.transaction(transaction) }?.vendorData }
            return try JSONResponse.make(view, headers: TallyAPI.replayHeaders(result))
        }
    }

    func purchaseStatus(_ request: Request, _ context: TallyContext) async throws -> Response {
        let vendor = try await vendorOfRead(request)
        let transaction = try context.parameters.require("transaction")
        guard let record = try api.ledger.read({ try $0.transaction(transaction) }), record.vendor == vendor else {
            throw APIError.notFound("transaction")
        }
        return try JSONResponse.make(view(of: record, transaction: transaction, vendor: vendor))
    }

    /// The vendor's purchases (one-step, or authorizations) it sent with `vendorData.reference`
    /// equal to `?reference=`, newest first (paged by `before` and `limit`), each as it stands:
    /// how a vendor finds the purchases of one of its orders without keeping Tally's IDs.
    func purchasesByReference(_ request: Request) async throws -> Response {
        let vendor = try await vendorOfRead(request)
        // The rule of `vendorData.reference` itself: a reference no purchase can carry is refused.
        let reference = try request.query("reference") ?? ""
        if let problem = VendorData.referenceProblem(reference) {
            throw APIError.badField("reference", "reference (the vendorData.reference to look up) " + problem)
        }
        let before = try request.queryUInt("before")
        let limit = Int(try request.queryUInt("limit", min: 1, max: 500) ?? 50)
        return try await api.snapshot(request, missing: "vendor") { reader in
            let page = try reader.purchases(vendor: vendor, reference: reference, before: before, limit: limit)
            // The write model is never behind the read models: each listed purchase has its record.
            let records = try api.ledger.read { state in try page.purchases.map { try state.transaction($0.transaction) } }
            let views = try zip(page.purchases, records).map { listed, record in
                guard let record, record.vendor == vendor else {
                    throw APIError(.internalServerError, "internal", "The read models list a purchase the ledger does not hold",
                                   detail: "\(listed.transaction) under reference of \(vendor)")
                }
                return view(of: record, transaction: listed.transaction, vendor: vendor)
            }
            return VendorPurchasesPage(purchases: views, nextBefore: page.nextBefore)
        }
    }

    /// The vendor gives a captured purchase's price back (`{"amount": …, "reason": …}`, both
    /// optional; no amount: all that is still paid). The answer is the purchase as the refund
    /// left it: `refunded` once the whole price is back, else still `captured`, with
    /// `refunded` saying how much has gone back in all.
    func refund(_ request: Request, _ context: TallyContext) async throws -> Response {
        let bytes = try await RequestBodies.bytes(request)
        let vendor = try api.authenticateVendor(request, body: bytes)
        let key = try api.idempotencyKey(request)
        let body = bytes.isEmpty ? RefundBody() : try RequestBodies.decode(RefundBody.self, from: bytes)
        let transaction = try context.parameters.require("transaction")
        return try await api.exclusively(scope: vendor, key: key) {
            let command = LedgerCommand.refund(vendor: vendor, transaction: transaction, amount: body.amount, reason: body.reason ?? "")
            let result = try await api.execute(command, idempotencyKey: key)
            guard case .purchaseRefunded(let refunded)? = result.events.first, let sequence = result.sequences?.lowerBound,
                  let record = try api.ledger.read({ try $0.transaction(transaction) })
            else { throw APIError(.internalServerError, "internal", "No refund event") }
            // The record's terms, fee and royalties never change, and the rest is the event's,
            // so a replay answers the same bytes whatever happened to the purchase since.
            var view = view(of: record, transaction: transaction, vendor: vendor)
            let remaining = refunded.remaining ?? 0
            view.status = remaining == 0 ? TransactionRecord.Status.refunded.rawValue : TransactionRecord.Status.captured.rawValue
            view.refunded = record.terms.price - remaining
            view.timeMilliseconds = refunded.timeMilliseconds
            view.sequence = sequence
            return try JSONResponse.make(view, headers: TallyAPI.replayHeaders(result))
        }
    }

    /// A purchase as its vendor may see it, from the ledger's record.
    func view(of record: TransactionRecord, transaction: String, vendor: String) -> VendorPurchaseView {
        let net: Int64? = record.fee.map { fee in record.terms.price - fee - (record.royalties ?? []).reduce(0) { $0 + $1.amount } }
        return VendorPurchaseView(
            transaction: transaction, customer: api.pseudonyms.pseudonym(user: record.user, vendor: vendor), vendor: vendor,
            content: record.terms.content, title: record.terms.title, url: record.terms.url, currency: record.terms.currency.code,
            amount: record.terms.price, status: record.status.rawValue, fee: record.fee,
            royalties: record.royalties?.map { RoyaltyView(holder: $0.holder, amount: $0.amount) }, vendorNet: net,
            holdExpiresAtMilliseconds: record.holdExpiresAtMilliseconds, timeMilliseconds: nil, sequence: nil,
            refunded: record.refunded > 0 ? record.refunded : nil, vendorData: record.vendorData)
    }

    /// The purchase a command's events describe, as the vendor may see it.
    func view(of result: LedgerResult, vendor: String) -> VendorPurchaseView? {
        guard let first = result.sequences?.lowerBound else { return nil }
        for (offset, event) in result.events.enumerated() {
            let sequence = first + UInt64(offset)
            switch event {
            case .purchaseCaptured(let captured):
                let royalties = captured.royalties.reduce(Int64(0)) { $0 + $1.amount }
                return VendorPurchaseView(
                    transaction: captured.transaction, customer: api.pseudonyms.pseudonym(user: captured.user, vendor: vendor), vendor: vendor,
                    content: captured.terms.content, title: captured.terms.title, url: captured.terms.url, currency: captured.terms.currency.code,
                    amount: captured.terms.price, status: "captured", fee: captured.fee,
                    royalties: captured.royalties.map { RoyaltyView(holder: $0.holder, amount: $0.amount) },
                    vendorNet: captured.terms.price - captured.fee - royalties, holdExpiresAtMilliseconds: nil,
                    timeMilliseconds: captured.timeMilliseconds, sequence: sequence, vendorData: captured.vendorData)
            case .purchaseAuthorized(let held):
                return VendorPurchaseView(
                    transaction: held.transaction, customer: api.pseudonyms.pseudonym(user: held.user, vendor: vendor), vendor: vendor,
                    content: held.terms.content, title: held.terms.title, url: held.terms.url, currency: held.terms.currency.code,
                    amount: held.terms.price, status: "held", fee: nil, royalties: nil, vendorNet: nil,
                    holdExpiresAtMilliseconds: held.holdExpiresAtMilliseconds, timeMilliseconds: held.timeMilliseconds, sequence: sequence,
                    vendorData: held.vendorData)
            case .purchaseVoided(let voided):
                let amount = voided.postings.first?.amount ?? 0
                let currency = voided.postings.first?.currency.code ?? ""
                return VendorPurchaseView(
                    transaction: voided.transaction, customer: api.pseudonyms.pseudonym(user: voided.user, vendor: vendor), vendor: vendor,
                    content: "", title: "", url: "", currency: currency, amount: amount, status: voided.reason.rawValue,
                    fee: nil, royalties: nil, vendorNet: nil, holdExpiresAtMilliseconds: nil, timeMilliseconds: voided.timeMilliseconds, sequence: sequence)
            default:
                continue
            }
        }
        return nil
    }


    // MARK: Incentives and referrals

    func issueIncentive(_ request: Request) async throws -> Response {
        let bytes = try await RequestBodies.bytes(request)
        let vendor = try api.authenticateVendor(request, body: bytes)
        let key = try api.idempotencyKey(request)
        let body = try RequestBodies.decode(VendorIncentiveBody.self, from: bytes)
        guard let user = api.pseudonyms.user(pseudonym: body.customer, vendor: vendor) else {
            throw APIError(.unprocessableContent, "unknown-customer", "No customer of this vendor has that pseudonym", field: "customer")
        }
        return try await api.exclusively(scope: vendor, key: key) {
            // The ledger keeps the key with the lot's event: a retry returns the first answer,
            // another request with the same key is refused. The lot's ID comes from the vendor
            // and the key, so a retry is the same command.
            let lot = TallyAPI.requestID("lot_", scope: vendor, key: key)
            let result = try await api.execute(
                .issueIncentive(
                    lot: lot, user: user, currency: body.currency, amount: body.amount, issuer: vendor,
                    expiresAtMilliseconds: body.expiresAtMilliseconds, vendors: [vendor]),
                idempotencyKey: key)
            guard case .incentiveIssued(let issued)? = result.events.first else {
                throw APIError(.internalServerError, "internal", "No incentive event")
            }
            return try JSONResponse.make(
                IncentiveView(
                    lot: issued.lot, customer: body.customer, user: nil, currency: issued.currency.code, amount: issued.amount,
                    issuer: vendor, expiresAtMilliseconds: issued.expiresAtMilliseconds, vendors: issued.vendors,
                    sequence: result.sequences?.lowerBound ?? 0),
                status: .created, headers: TallyAPI.replayHeaders(result))
        }
    }

    func setReferralPolicy(_ request: Request) async throws -> Response {
        let bytes = try await RequestBodies.bytes(request)
        let vendor = try api.authenticateVendor(request, body: bytes)
        let key = try api.idempotencyKey(request)
        let body = try RequestBodies.decode(ReferralPolicyBody.self, from: bytes)
        return try await api.exclusively(scope: vendor, key: key) {
            let result = try await api.execute(.setReferralPolicy(
                vendor: vendor,
                policy: ReferralPolicy(currency: body.currency, rewardAmount: body.rewardAmount, minimumSpend: body.minimumSpend, confirmationSeconds: body.confirmationSeconds)),
                idempotencyKey: key, field: TallyAPI.unprefixed("policy."))
            return try JSONResponse.make(body, headers: TallyAPI.replayHeaders(result))
        }
    }

    func checkGrant(_ request: Request, _ context: TallyContext) async throws -> Response {
        let vendor = try await vendorOfRead(request)
        let grant = try context.parameters.require("grant")
        guard let claims = api.grants.open(grant), claims.vendor == vendor else {
            throw APIError(.notFound, "access-grant-invalid", "No such access grant for this vendor")
        }
        guard claims.expiresAtMilliseconds > api.now else {
            throw APIError(.gone, "access-grant-expired", "The access grant has expired")
        }
        // A grant stands only while its purchase does: refunded (or otherwise undone) since the
        // grant was made, it no longer opens the content.
        guard let record = try api.ledger.read({ try $0.transaction(claims.transaction) }),
              record.status == .captured || record.status == .disputed
        else {
            throw APIError(.gone, "access-grant-revoked", "The purchase behind this access grant no longer stands")
        }
        return try JSONResponse.make(AccessGrantCheck(
            valid: true, transaction: claims.transaction, customer: claims.customer, url: claims.url, expiresAtMilliseconds: claims.expiresAtMilliseconds))
    }
}

/// A body that must be empty or `{}`.
struct EmptyBody: Codable, Sendable {}

/// `POST /v1/vendor/purchases/{transaction}/refund`: why the vendor gives the price back.
struct RefundBody: Codable, Sendable {
    /// Minor units to give back; absent: all that is still paid.
    var amount: Int64?
    var reason: String?
}

