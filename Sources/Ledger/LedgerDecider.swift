/// The pure decision `(state, command) -> [event] | rejection`. Each command's rules are a flat
/// list of early returns in a fixed order; nothing is written here.
struct LedgerDecider {
    let state: LedgerState
    let time: UInt64
    /// The sequence the command's first event will get (server-created IDs derive from it).
    let nextSequence: UInt64
    let idempotency: IdempotencyMark?

    /// Longest and shortest hold a vendor may ask for.
    static let holdSecondsRange: ClosedRange<UInt64> = 1...(7 * 86_400)
    static let identifierBytesMax = 64
    static let textBytesMax = 1_000
    static let sitesMax = 32
    static let royaltySharesMax = 16
    static let incentiveIDsMax = 16
    static let urlBytesMax = 2_048
    static let basisPointsMax: Int64 = 10_000

    func decide(_ command: LedgerCommand) throws -> [LedgerEvent] {
        switch command {
        case .openAccount(let user, let channel, let referringVendor, let representative):
            try identifier(user, "user")
            if try state.user(user) != nil { throw LedgerRejection(.accountExists, "account \(user) exists") }
            if referringVendor != nil && channel != .vendorLink {
                throw LedgerRejection(.unknownReferringVendor, "only an account opened through a vendor link names a referring vendor", field: "referringVendor")
            }
            if representative != nil && channel != .customerService {
                throw LedgerRejection(.invalidIdentifier, "only an account opened by customer service names a representative", field: "representative")
            }
            switch channel {
            case .vendorLink:
                guard let referringVendor else {
                    throw LedgerRejection(.unknownReferringVendor, "an account opened through a vendor link names the referring vendor", field: "referringVendor")
                }
                if try state.vendor(referringVendor) == nil {
                    throw LedgerRejection(.unknownReferringVendor, "referring vendor \(referringVendor) is not registered", field: "referringVendor")
                }
            case .customerService:
                guard let representative else { throw LedgerRejection(.invalidIdentifier, "representative is required for customerService", field: "representative") }
                try identifier(representative, "representative")
            case .providerSite:
                break
            }
            return [.accountOpened(AccountOpened(
                user: user, channel: channel, referringVendor: channel == .vendorLink ? referringVendor : nil,
                representative: channel == .customerService ? representative : nil, timeMilliseconds: time))]

        case .addMember(let user, let member):
            try identifier(member, "member")
            let record = try existingUser(user)
            if record.members[member] == true { throw LedgerRejection(.memberExists, "\(member) is already a member of \(user)") }
            return [.memberAdded(MemberAdded(user: user, member: member, timeMilliseconds: time))]

        case .removeMember(let user, let member):
            let record = try existingUser(user)
            guard record.members[member] == true else { throw LedgerRejection(.unknownMember, "\(member) is not an active member of \(user)") }
            return [.memberRemoved(MemberRemoved(user: user, member: member, timeMilliseconds: time))]

        case .openWallet(let user, let currency):
            let record = try existingUser(user)
            if record.wallets.contains(currency) { throw LedgerRejection(.walletExists, "\(user) already has a \(currency) wallet", field: "currency") }
            return [.walletOpened(WalletOpened(user: user, currency: currency, timeMilliseconds: time))]

        case .approveCreditLine(let user, let currency, let limit):
            let record = try existingUser(user)
            try wallet(record, user, currency)
            if limit < 0 { throw LedgerRejection(.creditLimitNegative, "limit must be zero or more, got \(limit)", field: "limit") }
            if limit > Money.amountMax { throw LedgerRejection(.amountOverflow, "limit is at most \(Money.amountMax) minor units, got \(limit)", field: "limit") }
            let used = -(try state.balance(.creditLine(user: user, currency: currency)))
            if limit < used {
                throw LedgerRejection(.creditLimitNegative, "limit \(limit) is below the credit already in use (\(used))", headroom: used, field: "limit")
            }
            return [.creditLineApproved(CreditLineApproved(user: user, currency: currency, limit: limit, timeMilliseconds: time))]

        case .setSpendingLimit(let user, let limit), .removeSpendingLimit(let user, let limit):
            let record = try existingUser(user)
            let removing: Bool
            if case .removeSpendingLimit = command { removing = true } else { removing = false }
            if !removing { try Money.positive(limit.amount, "limit.amount") }
            if let member = limit.member, record.members[member] != true, !removing {
                throw LedgerRejection(.unknownMember, "\(member) is not an active member of \(user)", field: "limit.member")
            }
            if limit.kind == .perVendorMonth {
                guard let vendor = limit.vendor, try state.vendor(vendor) != nil else {
                    throw LedgerRejection(.unknownVendor, "a per-vendor limit names a registered vendor", field: "limit.vendor")
                }
            } else if limit.vendor != nil {
                throw LedgerRejection(.limitVendorNotAllowed, "only perVendorMonth limits name a vendor, not \(limit.kind.rawValue)", field: "limit.vendor")
            }
            if removing && !record.limits.contains(where: { $0.hasScope(of: limit) }) {
                throw LedgerRejection(.unknownLimit, "no \(limit.kind.rawValue) \(limit.currency) limit of that scope is set")
            }
            return [.spendingLimitSet(SpendingLimitSet(user: user, limit: limit, removed: removing, timeMilliseconds: time))]

        case .addFunds(let funding, let user, let currency, let amount, let method, let throughVendor):
            try identifier(funding, "funding")
            try Money.positive(amount, "amount")
            let record = try existingUser(user)
            try wallet(record, user, currency)
            if try state.funding(funding) != nil { throw LedgerRejection(.invalidIdentifier, "funding \(funding) exists") }
            if let throughVendor, try state.vendor(throughVendor) == nil {
                throw LedgerRejection(.unknownVendor, "vendor \(throughVendor) is not registered", field: "throughVendor")
            }
            let source = LedgerAccount.fundingClearing(method: method, currency: currency)
            let postings: [Posting]
            if method.isOffline {
                try checkCredit(.pending(user: user, currency: currency), amount)
                postings = [Posting(debit: source, credit: .pending(user: user, currency: currency), amount: amount)]
            } else {
                postings = try deposit(amount, from: source, user: user, currency: currency)
            }
            try checkDebit(source, amount)
            return [.fundsAdded(FundsAdded(
                funding: funding, user: user, currency: currency, amount: amount, method: method, throughVendor: throughVendor,
                pending: method.isOffline, postings: postings, idempotency: idempotency, timeMilliseconds: time))]

        case .clearFunds(let funding), .failFunds(let funding):
            guard let record = try state.funding(funding) else { throw LedgerRejection(.unknownFunding, "no funding \(funding)") }
            guard record.status == .pending else { throw LedgerRejection(.fundingNotPending, "funding \(funding) is \(record.status.rawValue)") }
            let pending = LedgerAccount.pending(user: record.user, currency: record.currency)
            if case .clearFunds = command {
                let postings = try deposit(record.amount, from: pending, user: record.user, currency: record.currency)
                return [.fundsCleared(FundsCleared(funding: funding, user: record.user, postings: postings, timeMilliseconds: time))]
            }
            let back = LedgerAccount.fundingClearing(method: record.method, currency: record.currency)
            return [.fundsFailed(FundsFailed(
                funding: funding, user: record.user, postings: [Posting(debit: pending, credit: back, amount: record.amount)],
                timeMilliseconds: time))]

        case .returnFunds(let payout, let user, let currency, let amount, let method, let representative):
            try identifier(representative, "representative")
            let posting = try payoutFromWallet(payout, user: user, currency: currency, amount: amount, method: method,
                                               to: .fundingClearing(method: method, currency: currency))
            return [.fundsReturned(FundsReturned(
                payout: payout, user: user, currency: currency, amount: amount, method: method, representative: representative,
                postings: [posting], idempotency: idempotency, timeMilliseconds: time))]

        case .requestPayout(let payout, let user, let currency, let amount, let method):
            let posting = try payoutFromWallet(payout, user: user, currency: currency, amount: amount, method: method,
                                               to: .outgoing(user: user, currency: currency))
            return [.payoutRequested(PayoutRequested(
                payout: payout, user: user, currency: currency, amount: amount, method: method,
                postings: [posting], idempotency: idempotency, timeMilliseconds: time))]

        case .completePayout(let payout, let representative):
            try identifier(representative, "representative")
            let request = try pendingPayout(payout)
            let source = LedgerAccount.outgoing(user: request.user, currency: request.currency)
            let destination = LedgerAccount.fundingClearing(method: request.method, currency: request.currency)
            try checkDebit(source, request.amount)
            try checkCredit(destination, request.amount)
            return [.fundsReturned(FundsReturned(
                payout: payout, user: request.user, currency: request.currency, amount: request.amount, method: request.method,
                representative: representative, requested: true,
                postings: [Posting(debit: source, credit: destination, amount: request.amount)], idempotency: idempotency, timeMilliseconds: time))]

        case .declinePayout(let payout, let representative, let reason):
            try identifier(representative, "representative")
            try text(reason, "reason", required: true)
            let request = try pendingPayout(payout)
            let destination = LedgerAccount.wallet(user: request.user, currency: request.currency)
            try checkCredit(destination, request.amount)
            return [.payoutDeclined(PayoutDeclined(
                payout: payout, user: request.user, currency: request.currency, amount: request.amount, method: request.method,
                representative: representative, reason: reason,
                postings: [Posting(debit: .outgoing(user: request.user, currency: request.currency), credit: destination, amount: request.amount)],
                timeMilliseconds: time))]

        case .registerVendor(let vendor, let name, let sites, let feeBasisPoints, let settlement):
            try identifier(vendor, "vendor")
            if vendor == "provider" {
                // Reserved: `incentives:provider:<CUR>` is the provider's own incentive account.
                throw LedgerRejection(.invalidIdentifier, "the vendor ID 'provider' is reserved")
            }
            try text(name, "name", required: true)
            if try state.vendor(vendor) != nil { throw LedgerRejection(.vendorExists, "vendor \(vendor) exists") }
            try Self.checkSites(sites)
            try Self.checkFee(feeBasisPoints)
            try Self.checkPolicy(settlement)
            return [.vendorRegistered(VendorRegistered(
                vendor: vendor, name: name, sites: sites, feeBasisPoints: feeBasisPoints, settlement: settlement, timeMilliseconds: time))]

        case .updateVendor(let vendor, let name, let sites, let feeBasisPoints, let settlement):
            _ = try existingVendor(vendor)
            guard name != nil || sites != nil || feeBasisPoints != nil || settlement != nil else {
                throw LedgerRejection(.invalidVendorPolicy, "an update names at least one of name, sites, feeBasisPoints and settlement")
            }
            if let name { try text(name, "name", required: true) }
            if let sites { try Self.checkSites(sites) }
            if let feeBasisPoints { try Self.checkFee(feeBasisPoints) }
            if let settlement { try Self.checkPolicy(settlement) }
            return [.vendorUpdated(VendorUpdated(
                vendor: vendor, name: name, sites: sites, feeBasisPoints: feeBasisPoints, settlement: settlement, timeMilliseconds: time))]

        case .registerContent(let vendor, let terms):
            let record = try existingVendor(vendor)
            try checkTerms(terms, vendor: record)
            if try state.content(vendor: vendor, terms.content) != nil {
                throw LedgerRejection(.contentExists, "content \(terms.content) of \(vendor) exists")
            }
            return [.contentRegistered(ContentRegistered(vendor: vendor, terms: terms, idempotency: idempotency, timeMilliseconds: time))]

        case .purchase(let user, let member, let vendor, let content, let vendorData):
            if let vendorData { try checkVendorData(vendorData) }
            let (record, vendorRecord, terms) = try purchaseContext(user: user, member: member, vendor: vendor, content: content)
            let transaction = ServerTransactionID.make(nextSequence)
            // Each account's name is built once and shared by the sources, the postings and the
            // balance reads.
            let sources = try drawSources(terms.price, user: user, record: record, vendor: vendor, terms: terms)
                .map { FundingSource(account: $0.name, amount: $0.amount) }
            let payable = LedgerAccount.vendorPayable(vendor: vendor, currency: terms.currency).name
            let split = try paySplit(terms: terms, vendor: vendor, vendorRecord: vendorRecord, payable: payable)
            var postings: [Posting] = []
            postings.reserveCapacity(sources.count + split.postings.count)
            for source in sources {
                postings.append(Posting(debitName: source.account, creditName: payable, amount: source.amount, currency: terms.currency))
            }
            postings += split.postings
            return [.purchaseCaptured(PurchaseCaptured(
                transaction: transaction, user: user, member: member, vendor: vendor, terms: terms, oneStep: true,
                sources: sources, fee: split.fee,
                royalties: split.royalties, rounding: royaltyRoundingRule, entitlement: terms.access,
                postings: postings, idempotency: idempotency, timeMilliseconds: time, vendorData: vendorData))]

        case .authorize(let user, let member, let vendor, let content, let holdSeconds, let vendorData):
            if let vendorData { try checkVendorData(vendorData) }
            guard Self.holdSecondsRange.contains(holdSeconds) else {
                throw LedgerRejection(.holdTimeoutOutOfRange, "holdSeconds must be \(Self.holdSecondsRange.lowerBound)...\(Self.holdSecondsRange.upperBound)", field: "holdSeconds")
            }
            let (record, vendorRecord, terms) = try purchaseContext(user: user, member: member, vendor: vendor, content: content)
            _ = try paySplit(terms: terms, vendor: vendor, vendorRecord: vendorRecord)
            let transaction = ServerTransactionID.make(nextSequence)
            let sources = try drawFunds(terms.price, user: user, record: record, vendor: vendor, terms: terms)
            let holds = LedgerAccount.holds(user: user, currency: terms.currency)
            try checkCredit(holds, terms.price)
            return [.purchaseAuthorized(PurchaseAuthorized(
                transaction: transaction, user: user, member: member, vendor: vendor, terms: terms,
                holdExpiresAtMilliseconds: time + holdSeconds * 1000,
                sources: sources.map { FundingSource(account: $0.0.name, amount: $0.1) },
                postings: sources.map { Posting(debit: $0.0, credit: holds, amount: $0.1) },
                idempotency: idempotency, timeMilliseconds: time, vendorData: vendorData))]

        case .capture(let vendor, let transaction):
            let record = try heldTransaction(transaction, vendor: vendor)
            if let expiry = record.holdExpiresAtMilliseconds, time >= expiry {
                throw LedgerRejection(.holdExpired, "the hold on \(transaction) expired at \(expiry)")
            }
            let vendorRecord = try existingVendor(vendor)
            let currency = record.terms.currency
            let split = try paySplit(terms: record.terms, vendor: vendor, vendorRecord: vendorRecord)
            var postings = [Posting(
                debit: .holds(user: record.user, currency: currency), credit: .vendorPayable(vendor: vendor, currency: currency),
                amount: record.terms.price)]
            postings += split.postings
            return [.purchaseCaptured(PurchaseCaptured(
                transaction: transaction, user: record.user, member: record.member, vendor: vendor, terms: record.terms,
                oneStep: false, sources: record.sources, fee: split.fee, royalties: split.royalties, rounding: royaltyRoundingRule,
                entitlement: record.terms.access, postings: postings, idempotency: idempotency, timeMilliseconds: time))]

        case .void(let vendor, let transaction):
            let record = try heldTransaction(transaction, vendor: vendor)
            return [.purchaseVoided(try release(record, transaction: transaction, reason: .voided))]

        case .refund(let vendor, let transaction, let amount, let reason):
            if let amount { try Money.positive(amount, "amount") }
            try text(reason, "reason", required: false)
            guard let record = try state.transaction(transaction), record.vendor == vendor else {
                throw LedgerRejection(.unknownTransaction, "\(vendor) has no transaction \(transaction)", field: "transaction")
            }
            guard record.status == .captured else {
                let why = record.status == .disputed
                    ? "\(transaction) is disputed; customer service decides whether its price goes back"
                    : "\(transaction) is \(record.status.rawValue); only a captured purchase can be refunded"
                throw LedgerRejection(.transactionNotCaptured, why, field: "transaction")
            }
            let remaining = record.remaining
            let refunding = amount ?? remaining
            guard refunding <= remaining else {
                throw LedgerRejection(
                    .refundExceedsPurchase,
                    "\(transaction) has \(remaining) \(record.terms.currency) of its price \(record.terms.price) left to refund, not \(refunding)",
                    headroom: remaining, field: "amount")
            }
            let refunded = PurchaseRefunded(
                transaction: transaction, user: record.user, vendor: vendor, currency: record.terms.currency,
                refunded: refunding, remaining: remaining - refunding, reason: reason,
                postings: try refundPostings(record, amount: refunding, reserved: 0),
                idempotency: idempotency, timeMilliseconds: time)
            // The purchase stands while any of its price is still paid: only the refund that
            // gives back the rest reverses the referral reward it qualified.
            guard refunding == remaining else { return [.purchaseRefunded(refunded)] }
            return [.purchaseRefunded(refunded)] + (try referralReversal(user: record.user, transaction: transaction))

        case .expireHold(let transaction):
            guard let record = try state.transaction(transaction) else {
                throw LedgerRejection(.unknownTransaction, "no transaction \(transaction)")
            }
            guard record.status == .held else { throw LedgerRejection(.transactionNotHeld, "\(transaction) is \(record.status.rawValue)") }
            guard let expiry = record.holdExpiresAtMilliseconds, time >= expiry else {
                throw LedgerRejection(.transactionNotHeld, "the hold on \(transaction) has not expired yet")
            }
            return [.purchaseVoided(try release(record, transaction: transaction, reason: .expired))]

        case .transfer(let from, let to, let currency, let amount):
            try Money.positive(amount, "amount")
            if from == to { throw LedgerRejection(.selfTransfer, "a transfer needs two different users", field: "to") }
            let sender = try existingUser(from)
            try wallet(sender, from, currency)
            let receiver = try existingUser(to)
            try wallet(receiver, to, currency)
            let source = LedgerAccount.wallet(user: from, currency: currency)
            let available = try state.balance(source)
            if available < amount {
                throw LedgerRejection(.insufficientFunds, "\(from) has \(available) \(currency) of the \(amount) to transfer", headroom: max(available, 0))
            }
            let postings = try deposit(amount, from: source, user: to, currency: currency)
            return [.tokensTransferred(TokensTransferred(
                from: from, to: to, currency: currency, amount: amount, postings: postings, idempotency: idempotency, timeMilliseconds: time))]

        case .openDispute(let dispute, let user, let transaction, let reason):
            try identifier(dispute, "dispute")
            try text(reason, "reason", required: false)
            if try state.dispute(dispute) != nil { throw LedgerRejection(.disputeExists, "dispute \(dispute) exists") }
            let account = try existingUser(user)
            guard let record = try state.transaction(transaction), record.user == user else {
                throw LedgerRejection(.unknownTransaction, "\(user) has no transaction \(transaction)", field: "transaction")
            }
            guard record.status == .captured else {
                throw LedgerRejection(.transactionNotCaptured, "\(transaction) is \(record.status.rawValue); only a captured purchase can be disputed", field: "transaction")
            }
            if let decided = try state.rejectedDispute(ofTransaction: transaction) {
                throw LedgerRejection(.disputeAlreadyDecided, "\(transaction) was disputed in \(decided), which customer service rejected", field: "transaction")
            }
            let currency = record.terms.currency
            let vendorShare = record.remainingVendorShare
            let payable = LedgerAccount.vendorPayable(vendor: record.vendor, currency: currency)
            let reserved = min(vendorShare, max(try state.balance(payable), 0))
            let reserve = LedgerAccount.disputeReserve(vendor: record.vendor, currency: currency)
            var postings: [Posting] = []
            if reserved > 0 {
                try checkCredit(reserve, reserved)
                postings.append(Posting(debit: payable, credit: reserve, amount: reserved))
            }
            // The rule: a charge made by a member whose access has since been revoked is unauthorized.
            let unauthorized = record.member.map { account.members[$0] != true } ?? false
            let opened = DisputeOpened(
                dispute: dispute, transaction: transaction, user: user, vendor: record.vendor, currency: currency,
                price: record.terms.price, disputed: record.remaining, reserved: reserved, unauthorized: unauthorized, reason: reason,
                postings: postings, timeMilliseconds: time)
            guard unauthorized else { return [.disputeOpened(opened)] }
            // Refund at once, against the state as it will be after the reserve moved.
            var after = state
            try LedgerFold.apply(.disputeOpened(opened), at: nextSequence, to: &after)
            let next = LedgerDecider(state: after, time: time, nextSequence: nextSequence + 1, idempotency: nil)
            let disputeRecord = DisputeRecord(
                transaction: transaction, user: user, vendor: record.vendor, currency: currency, reserved: reserved, status: .open,
                disputed: opened.disputed)
            let refunded = try next.refund(disputeRecord, id: dispute, transaction: try after.transaction(transaction)!, decidedBy: .rule, representative: nil)
            return [.disputeOpened(opened), .disputeResolved(refunded)] + (try referralReversal(user: user, transaction: transaction))

        case .resolveDispute(let dispute, let refund, let representative):
            try identifier(representative, "representative")
            guard let record = try state.dispute(dispute) else { throw LedgerRejection(.unknownDispute, "no dispute \(dispute)") }
            guard record.status == .open else { throw LedgerRejection(.disputeNotOpen, "dispute \(dispute) is \(record.status.rawValue)") }
            guard let transaction = try state.transaction(record.transaction) else {
                throw LedgerRejection(.unknownTransaction, "no transaction \(record.transaction)")
            }
            if refund {
                return [.disputeResolved(try self.refund(record, id: dispute, transaction: transaction, decidedBy: .customerService, representative: representative))]
                    + (try referralReversal(user: record.user, transaction: record.transaction))
            }
            var postings: [Posting] = []
            if record.reserved > 0 {
                let payable = LedgerAccount.vendorPayable(vendor: record.vendor, currency: record.currency)
                try checkCredit(payable, record.reserved)
                postings.append(Posting(debit: .disputeReserve(vendor: record.vendor, currency: record.currency), credit: payable, amount: record.reserved))
            }
            return [.disputeResolved(DisputeResolved(
                dispute: dispute, transaction: record.transaction, user: record.user, vendor: record.vendor, outcome: .rejected,
                decidedBy: .customerService, representative: representative, refunded: 0, postings: postings, timeMilliseconds: time))]

        case .issueIncentive(let lot, let user, let currency, let amount, let issuer, let expiresAt, let vendors):
            try identifier(lot, "lot")
            try Money.positive(amount, "amount")
            if try state.incentiveLot(lot) != nil { throw LedgerRejection(.incentiveExists, "incentive lot \(lot) exists") }
            let record = try existingUser(user)
            try wallet(record, user, currency)
            if let issuer { _ = try existingVendor(issuer) }
            if let vendors {
                guard !vendors.isEmpty, vendors.count <= Self.sitesMax else {
                    throw LedgerRejection(.invalidVendorPolicy, "vendors lists 1 to \(Self.sitesMax) vendors when given", field: "vendors")
                }
                for vendor in vendors { _ = try existingVendor(vendor) }
            }
            if let expiresAt, expiresAt <= time {
                throw LedgerRejection(.expiryNotInFuture, "expiresAtMilliseconds \(expiresAt) is not after now (\(time))", field: "expiresAtMilliseconds")
            }
            if let expiresAt, expiresAt > Self.timeMillisecondsMax {
                throw LedgerRejection(.expiryNotInFuture, "expiresAtMilliseconds is after the year 9999", field: "expiresAtMilliseconds")
            }
            // A user holds at most `amountMax` in lots of one currency, so that what the ledger
            // and the read models add up from lots always stays representable.
            var held: Int64 = amount
            for other in try state.incentiveLots(ofUser: user) {
                guard let existing = try state.incentiveLot(other), existing.currency == currency else { continue }
                held = try Money.add(held, try state.balance(.incentiveLot(lot: other, currency: currency)))
            }
            guard held <= Money.amountMax else {
                throw LedgerRejection(.amountOverflow, "\(user) would hold \(held) in \(currency) incentive lots; at most \(Money.amountMax)", field: "amount")
            }
            let source = LedgerAccount.incentiveSource(issuer: issuer ?? "provider", currency: currency)
            if let issuer {
                // A vendor pays for its promotion out of what it has earned and not been paid:
                // its tokens are never money the provider pays it back at settlement.
                let unsettled = try state.balance(source)
                guard unsettled >= amount else {
                    throw LedgerRejection(.insufficientFunds,
                        "\(issuer) has \(unsettled) \(currency) unsettled; the incentive tokens it issues are paid from it", headroom: max(unsettled, 0))
                }
            }
            try checkDebit(source, amount)
            return [.incentiveIssued(IncentiveIssued(
                lot: lot, user: user, currency: currency, amount: amount, issuer: issuer ?? "provider",
                expiresAtMilliseconds: expiresAt, vendors: vendors,
                postings: [Posting(debit: source, credit: .incentiveLot(lot: lot, currency: currency), amount: amount)],
                idempotency: idempotency, timeMilliseconds: time))]

        case .useEntitlement(let user, let transaction):
            guard let record = try state.transaction(transaction), record.user == user else {
                throw LedgerRejection(.unknownTransaction, "no purchase \(transaction) of \(user)")
            }
            guard record.status == .captured || record.status == .disputed else {
                throw LedgerRejection(.transactionNotCaptured, "\(transaction) is \(record.status.rawValue); it grants no access")
            }
            if let expiry = record.terms.access.expiresAtMilliseconds, time >= expiry {
                throw LedgerRejection(.entitlementExhausted, "the access to \(transaction) expired at \(expiry)")
            }
            let used = try state.entitlementUses(transaction)
            if let views = record.terms.access.views, used >= views {
                throw LedgerRejection(.entitlementExhausted, "all \(views) views of \(transaction) are used", headroom: 0)
            }
            return [.entitlementUsed(EntitlementUsed(transaction: transaction, user: user, vendor: record.vendor, use: used + 1, timeMilliseconds: time))]
        case .expireIncentive(let lot):
            guard let record = try state.incentiveLot(lot) else { throw LedgerRejection(.unknownIncentive, "no incentive lot \(lot)") }
            guard let expiry = record.expiresAtMilliseconds, time >= expiry else {
                throw LedgerRejection(.incentiveNotExpired, "incentive lot \(lot) has not expired")
            }
            let account = LedgerAccount.incentiveLot(lot: lot, currency: record.currency)
            let left = try state.balance(account)
            guard left > 0 else { throw LedgerRejection(.nothingToSettle, "incentive lot \(lot) has nothing left") }
            try checkCredit(LedgerAccount.incentiveSource(issuer: record.issuer, currency: record.currency), left)
            return [.incentiveExpired(IncentiveExpired(
                lot: lot, user: record.user, amount: left,
                postings: [Posting(debit: account, credit: LedgerAccount.incentiveSource(issuer: record.issuer, currency: record.currency), amount: left)],
                timeMilliseconds: time))]

        case .setReferralPolicy(let vendor, let policy):
            _ = try existingVendor(vendor)
            try Money.positive(policy.rewardAmount, "policy.rewardAmount")
            try Money.positive(policy.minimumSpend, "policy.minimumSpend")
            // The spending log keeps 30 days: a longer window would wait for purchases that
            // the log has already dropped, and the user would never qualify.
            guard policy.confirmationSeconds <= LedgerFold.spendRetentionMilliseconds / 1000 else {
                throw LedgerRejection(.invalidVendorPolicy, "policy.confirmationSeconds is at most 30 days (2592000), the spending log's horizon", field: "policy.confirmationSeconds")
            }
            return [.referralPolicySet(ReferralPolicySet(vendor: vendor, policy: policy, idempotency: idempotency, timeMilliseconds: time))]

        case .rewardReferral(let user):
            let account = try existingUser(user)
            guard let vendor = account.referringVendor else {
                throw LedgerRejection(.noReferralPolicy, "\(user) was not referred by a vendor")
            }
            guard let policy = try state.referralPolicy(vendor: vendor) else {
                throw LedgerRejection(.noReferralPolicy, "\(vendor) has no referral policy")
            }
            if try state.referral(user: user) != nil {
                throw LedgerRejection(.referralAlreadyRewarded, "the referral of \(user) was already rewarded")
            }
            let confirmed = time > policy.confirmationSeconds * 1000 ? time - policy.confirmationSeconds * 1000 : 0
            var spent: Int64 = 0
            var qualifying: [String] = []
            // Money counts once it has been captured for the whole confirmation window: a hold
            // captured late counts from its capture, not from its authorization.
            for entry in try state.spending(user) where entry.timeMilliseconds <= confirmed {
                guard let transaction = try state.transaction(entry.transaction), transaction.status == .captured,
                      transaction.terms.currency == policy.currency,
                      try state.captureTime(ofHeld: entry.transaction) ?? entry.timeMilliseconds <= confirmed
                else { continue }
                spent = try Money.add(spent, entry.amount)
                qualifying.append(entry.transaction)
            }
            guard spent >= policy.minimumSpend else {
                throw LedgerRejection(.referralNotQualified,
                    "\(user) has \(spent) of confirmed spending; the policy needs \(policy.minimumSpend)",
                    headroom: policy.minimumSpend - spent)
            }
            let payer = LedgerAccount.providerFeeRevenue(currency: policy.currency)
            let payee = LedgerAccount.vendorPayable(vendor: vendor, currency: policy.currency)
            try checkDebit(payer, policy.rewardAmount)
            try checkCredit(payee, policy.rewardAmount)
            return [.referralRewarded(ReferralRewarded(
                vendor: vendor, user: user, currency: policy.currency, amount: policy.rewardAmount,
                qualifyingTransactions: qualifying, postings: [Posting(debit: payer, credit: payee, amount: policy.rewardAmount)],
                timeMilliseconds: time))]

        case .settle(let vendor, let currency, let force):
            let record = try existingVendor(vendor)
            let payable = LedgerAccount.vendorPayable(vendor: vendor, currency: currency)
            let amount = try state.balance(payable)
            guard amount > 0 else { throw LedgerRejection(.nothingToSettle, "\(vendor) has nothing payable in \(currency)") }
            let mark = try state.settlementMark(vendor: vendor, currency: currency)
            let settledThrough = mark?.throughSequence ?? record.settledThroughSequence
            let lastSettledAt = mark?.atMilliseconds ?? record.lastSettledAtMilliseconds
            let trigger: VendorSettled.Trigger
            if force {
                trigger = .command
            } else if let due = record.settlement.trigger(amount: amount, currency: currency, lastSettledAt: lastSettledAt, time: time) {
                trigger = due
            } else {
                throw LedgerRejection(.nothingToSettle, "\(vendor) is below its \(currency) threshold and its period has not elapsed",
                                      headroom: record.settlement.threshold(for: currency).map { $0 - amount })
            }
            try checkCredit(.settlementClearing(currency: currency), amount)
            return [.vendorSettled(VendorSettled(
                vendor: vendor, currency: currency, amount: amount, trigger: trigger,
                coversFromSequence: settledThrough + 1, coversThroughSequence: nextSequence - 1,
                postings: [Posting(debit: payable, credit: .settlementClearing(currency: currency), amount: amount)],
                timeMilliseconds: time))]

        case .payRoyalties(let payout, let holder, let currency, let representative):
            try identifier(payout, "payout")
            try identifier(holder, "holder")
            try identifier(representative, "representative")
            if try state.payoutIDUsed(payout) { throw LedgerRejection(.payoutExists, "payout \(payout) exists", field: "payout") }
            let payable = LedgerAccount.rightsHolderPayable(holder: holder, currency: currency)
            let amount = try state.balance(payable)
            guard amount > 0 else {
                throw LedgerRejection(.nothingToSettle, "\(holder) has no royalties to pay in \(currency) (its payable is \(amount))", field: "holder")
            }
            try checkCredit(.settlementClearing(currency: currency), amount)
            return [.royaltiesPaid(RoyaltiesPaid(
                payout: payout, holder: holder, currency: currency, amount: amount, representative: representative,
                postings: [Posting(debit: payable, credit: .settlementClearing(currency: currency), amount: amount)],
                idempotency: idempotency, timeMilliseconds: time))]
        }
    }

    // MARK: Rules shared by commands

    /// A vendor's sites: 1 to `sitesMax` http(s) URL prefixes.
    static func checkSites(_ sites: [String]) throws(LedgerRejection) {
        guard !sites.isEmpty, sites.count <= sitesMax else {
            throw LedgerRejection(.invalidVendorPolicy, "sites must list 1 to \(sitesMax) URL prefixes", field: "sites")
        }
        for site in sites where !isSitePrefix(site) {
            throw LedgerRejection(.invalidVendorPolicy, "site '\(site)' must be an https:// or http:// URL prefix ending in '/'", field: "sites")
        }
    }

    static func checkFee(_ feeBasisPoints: Int64) throws(LedgerRejection) {
        guard (0...basisPointsMax).contains(feeBasisPoints) else {
            throw LedgerRejection(.invalidVendorPolicy, "feeBasisPoints must be 0...10000, got \(feeBasisPoints)", field: "feeBasisPoints")
        }
    }

    /// A settlement policy: some trigger; thresholds positive, each in a supported currency;
    /// a period of a year at most.
    static func checkPolicy(_ settlement: SettlementPolicy) throws(LedgerRejection) {
        if let thresholds = settlement.currencyThresholds {
            guard !thresholds.isEmpty else {
                throw LedgerRejection(.invalidVendorPolicy, "settlement.currencyThresholds, when given, names at least one currency",
                                      field: "settlement.currencyThresholds")
            }
            for code in thresholds.keys.sorted() {
                guard Currency(code: code) != nil else {
                    throw LedgerRejection(.unknownCurrency, "settlement.currencyThresholds names \(code), which is not a supported currency",
                                          field: "settlement.currencyThresholds.\(code)")
                }
                try Money.positive(thresholds[code]!, "settlement.currencyThresholds.\(code)")
            }
        }
        if !settlement.hasTrigger {
            throw LedgerRejection(.invalidVendorPolicy, "settlement needs a thresholdAmount, currencyThresholds or a periodSeconds", field: "settlement")
        }
        if let threshold = settlement.thresholdAmount { try Money.positive(threshold, "settlement.thresholdAmount") }
        if let period = settlement.periodSeconds, !SettlementPolicy.periodSecondsRange.contains(period) {
            throw LedgerRejection(.invalidVendorPolicy,
                                  "settlement.periodSeconds must be \(SettlementPolicy.periodSecondsRange.lowerBound)...\(SettlementPolicy.periodSecondsRange.upperBound) (a year at most)",
                                  field: "settlement.periodSeconds")
        }
    }

    func identifier(_ value: String, _ field: String) throws {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= Self.identifierBytesMax,
              bytes.allSatisfy({ Self.isIdentifierByte($0) })
        else {
            throw LedgerRejection(.invalidIdentifier, "\(field) must be 1 to \(Self.identifierBytesMax) characters of A-Z a-z 0-9 . _ -", field: field)
        }
    }

    /// A vendor's data about a purchase: a reference of printable text, and form parameters
    /// named by identifiers with printable values, each within its bound.
    func checkVendorData(_ data: VendorData) throws {
        guard data.reference != nil || data.parameters != nil else {
            throw LedgerRejection(.invalidText, "vendorData holds neither a reference nor parameters; leave it out", field: "vendorData")
        }
        if let reference = data.reference, let problem = VendorData.referenceProblem(reference) {
            throw LedgerRejection(.invalidText, "vendorData.reference " + problem, field: "vendorData.reference")
        }
        guard let parameters = data.parameters else { return }
        guard (1...VendorData.parametersMax).contains(parameters.count) else {
            throw LedgerRejection(.invalidText, "vendorData.parameters holds 1 to \(VendorData.parametersMax) parameters", field: "vendorData.parameters")
        }
        for (name, value) in parameters.sorted(by: { $0.key < $1.key }) {
            try identifier(name, "vendorData.parameters")
            let field = "vendorData.parameters." + name
            try text(value, field, required: false)
            guard value.utf8.count <= VendorData.valueBytesMax else {
                throw LedgerRejection(.invalidText, "\(field) is longer than \(VendorData.valueBytesMax) bytes", field: field)
            }
        }
    }

    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    func text(_ value: String, _ field: String, required: Bool) throws {
        if required && value.isEmpty { throw LedgerRejection(.invalidText, "\(field) is required", field: field) }
        if value.utf8.count > Self.textBytesMax { throw LedgerRejection(.invalidText, "\(field) is longer than \(Self.textBytesMax) bytes", field: field) }
        if TextRules.containsControlCharacter(value) { throw LedgerRejection(.invalidText, "\(field) holds a control character", field: field) }
    }

    static func isSitePrefix(_ site: String) -> Bool {
        (site.hasPrefix("https://") || site.hasPrefix("http://")) && site.hasSuffix("/") && site.utf8.count <= 200
            && !site.contains(" ") && site.split(separator: "/", omittingEmptySubsequences: true).count >= 2
    }

    func existingUser(_ id: String) throws -> UserRecord {
        guard let record = try state.user(id) else { throw LedgerRejection(.unknownAccount, "no account \(id)") }
        return record
    }

    func existingVendor(_ id: String) throws -> VendorRecord {
        guard let record = try state.vendor(id) else { throw LedgerRejection(.unknownVendor, "no vendor \(id)") }
        return record
    }

    func wallet(_ record: UserRecord, _ user: String, _ currency: Currency) throws {
        guard record.wallets.contains(currency) else { throw LedgerRejection(.walletNotOpen, "\(user) has no \(currency) wallet") }
    }

    func checkCredit(_ account: LedgerAccount, _ amount: Int64) throws {
        _ = try Money.add(try state.balance(account), amount)
    }

    func checkDebit(_ account: LedgerAccount, _ amount: Int64) throws {
        _ = try Money.subtract(try state.balance(account), amount)
    }

    /// Money arriving for a user: it repays credit in use first, the rest goes to the wallet.
    func deposit(_ amount: Int64, from source: LedgerAccount, user: String, currency: Currency) throws -> [Posting] {
        let credit = LedgerAccount.creditLine(user: user, currency: currency)
        let wallet = LedgerAccount.wallet(user: user, currency: currency)
        let inUse = -(try state.balance(credit))
        let repay = min(max(inUse, 0), amount)
        var postings: [Posting] = []
        if repay > 0 { postings.append(Posting(debit: source, credit: credit, amount: repay)) }
        if amount - repay > 0 {
            try checkCredit(wallet, amount - repay)
            postings.append(Posting(debit: source, credit: wallet, amount: amount - repay))
        }
        return postings
    }

    /// Where a payment comes from: usable incentive lots first (earliest expiry first), then the
    /// wallet, then the approved credit line.
    func drawFunds(_ amount: Int64, user: String, record: UserRecord, vendor: String, terms: ContentTerms)
        throws -> [(LedgerAccount, Int64)]
    {
        try drawSources(amount, user: user, record: record, vendor: vendor, terms: terms).map { ($0.account, $0.amount) }
    }

    /// `drawFunds` with each source's account name, built once.
    func drawSources(_ amount: Int64, user: String, record: UserRecord, vendor: String, terms: ContentTerms)
        throws -> [(account: LedgerAccount, name: String, amount: Int64)]
    {
        let currency = terms.currency
        var sources: [(account: LedgerAccount, name: String, amount: Int64)] = []
        var needed = amount
        var fromLots: Int64 = 0
        let lots = try state.incentiveLots(ofUser: user).compactMap { try state.incentiveLot($0) }
            .filter { $0.usable(vendor: vendor, terms: terms, time: time) }
            .sorted(by: IncentiveLot.spendingOrder)
        for lot in lots where needed > 0 {
            let account = LedgerAccount.incentiveLot(lot: lot.lot, currency: currency)
            let name = account.name
            let take = min(max(try state.balance(named: name), 0), needed)
            if take > 0 {
                sources.append((account, name, take))
                needed -= take
                fromLots += take
            }
        }
        let wallet = LedgerAccount.wallet(user: user, currency: currency)
        let walletName = wallet.name
        let credit = LedgerAccount.creditLine(user: user, currency: currency)
        let inWallet = max(try state.balance(named: walletName), 0)
        // A credit account moves only once a credit line was approved in its currency (the
        // limit's entry stays, even at 0), so without one its balance is 0: no read needed.
        let approved = record.creditLimits.isEmpty ? nil : record.creditLimits[currency.code]
        let limit = approved ?? 0
        let creditLeft = limit + (approved == nil ? 0 : try state.balance(credit))
        let available = try Money.add(try Money.add(inWallet, max(creditLeft, 0)), fromLots)
        guard available >= amount else {
            throw LedgerRejection(.insufficientFunds, "\(user) has \(available) \(currency) available of the \(amount) needed", headroom: available)
        }
        let fromWallet = min(inWallet, needed)
        if fromWallet > 0 { sources.append((wallet, walletName, fromWallet)) }
        if needed - fromWallet > 0 { sources.append((credit, credit.name, needed - fromWallet)) }
        return sources
    }

    /// Where money going back to a user lands (``FundingSource/returnTargets(_:user:currency:creditInUse:)``),
    /// with the credit in use now; the wallet's share checked against overflow.
    func returnTargets(_ sources: [FundingSource], user: String, currency: Currency) throws -> [(LedgerAccount, Int64)] {
        let credit = LedgerAccount.creditLine(user: user, currency: currency)
        let targets = FundingSource.returnTargets(sources, user: user, currency: currency, creditInUse: max(-(try state.balance(credit)), 0))
        if let (wallet, toWallet) = targets.last, case .wallet = wallet { try checkCredit(wallet, toWallet) }
        return targets
    }

    static func lotID(_ accountName: String) -> String? {
        let parts = accountName.split(separator: ":")
        return parts.count == 3 ? String(parts[1]) : nil
    }

    /// Postings that move the `debits` amounts to the `credits` amounts (equal totals), in order.
    static func postings(from debits: [(LedgerAccount, Int64)], to credits: [(LedgerAccount, Int64)]) -> [Posting] {
        var postings: [Posting] = []
        var debitIndex = 0
        var debitLeft = debits.first?.1 ?? 0
        for (account, amount) in credits {
            var creditLeft = amount
            while creditLeft > 0 && debitIndex < debits.count {
                let move = min(creditLeft, debitLeft)
                if move > 0 { postings.append(Posting(debit: debits[debitIndex].0, credit: account, amount: move)) }
                creditLeft -= move
                debitLeft -= move
                if debitLeft == 0 {
                    debitIndex += 1
                    debitLeft = debitIndex < debits.count ? debits[debitIndex].1 : 0
                }
            }
            precondition(creditLeft == 0, "credits exceed debits")
        }
        return postings
    }

    /// The vendor's fee and the rights holders' royalties out of the vendor's payable.
    func paySplit(terms: ContentTerms, vendor: String, vendorRecord: VendorRecord, payable: String? = nil)
        throws -> (fee: Int64, royalties: [RoyaltyPayment], postings: [Posting])
    {
        let currency = terms.currency
        let payable = payable ?? LedgerAccount.vendorPayable(vendor: vendor, currency: currency).name
        let fee = ContentTerms.fee(price: terms.price, basisPoints: vendorRecord.feeBasisPoints)
        var postings: [Posting] = []
        postings.reserveCapacity(1 + terms.royalties.count)
        if fee > 0 {
            postings.append(Posting(debitName: payable, creditName: LedgerAccount.providerFeeRevenue(currency: currency).name, amount: fee, currency: currency))
        }
        let royalties = terms.royaltyPayments
        for royalty in royalties where royalty.amount > 0 {
            postings.append(Posting(
                debitName: payable, creditName: LedgerAccount.rightsHolderPayable(holder: royalty.holder, currency: currency).name,
                amount: royalty.amount, currency: currency))
        }
        // The catalog's terms were checked against the fee when registered, but a vendor's fee
        // may have been raised since: the vendor never pays out more than the price.
        let paidOut = royalties.reduce(fee) { $0 + $1.amount }
        guard paidOut <= terms.price else {
            throw LedgerRejection(
                .invalidRoyaltySchedule,
                "the royalties of \(terms.content) and \(vendor)'s fee of \(vendorRecord.feeBasisPoints) bp now come to \(paidOut), more than its price \(terms.price)",
                field: "royalties")
        }
        for posting in postings {
            _ = try Money.add(try state.balance(named: posting.credit), posting.amount)
        }
        _ = try Money.add(try state.balance(named: payable), terms.price)
        return (fee, royalties, postings)
    }

    func checkTerms(_ terms: ContentTerms, vendor: VendorRecord) throws {
        try identifier(terms.content, "content")
        try text(terms.title, "title", required: true)
        try text(terms.description, "description", required: false)
        try Money.positive(terms.price, "price")
        try checkSite(terms, vendor: vendor)
        guard terms.url.utf8.count <= Self.urlBytesMax else {
            throw LedgerRejection(.invalidText, "url is longer than \(Self.urlBytesMax) bytes", field: "url")
        }
        guard !terms.url.utf8.contains(UInt8(ascii: " ")), !TextRules.containsControlCharacter(terms.url) else {
            throw LedgerRejection(.invalidText, "url holds a space or a control character", field: "url")
        }
        guard terms.royalties.count <= Self.royaltySharesMax else {
            throw LedgerRejection(.invalidRoyaltySchedule, "at most \(Self.royaltySharesMax) rights holders", field: "royalties")
        }
        guard Set(terms.royalties.map(\.holder)).count == terms.royalties.count else {
            throw LedgerRejection(.invalidRoyaltySchedule, "a rights holder appears twice in the royalty schedule", field: "royalties")
        }
        guard terms.incentiveIDs.count <= Self.incentiveIDsMax else {
            throw LedgerRejection(.invalidText, "at most \(Self.incentiveIDsMax) incentive IDs", field: "incentiveIDs")
        }
        var total: Int64 = 0
        for share in terms.royalties {
            try identifier(share.holder, "royalties.holder")
            guard share.basisPoints > 0 && share.basisPoints <= Self.basisPointsMax else {
                throw LedgerRejection(.invalidRoyaltySchedule, "each share is 1...10000 basis points", field: "royalties")
            }
            total += share.basisPoints
        }
        guard total + vendor.feeBasisPoints <= Self.basisPointsMax else {
            throw LedgerRejection(
                .invalidRoyaltySchedule, "royalties (\(total) bp) and the fee (\(vendor.feeBasisPoints) bp) exceed the price", field: "royalties")
        }
        for (name, value, maximum) in [("views", terms.access.views, 1_000_000), ("hours", terms.access.hours, 876_000), ("days", terms.access.days, 36_500)] {
            if let value, value <= 0 || value > maximum {
                throw LedgerRejection(.invalidAccessTerms, "access.\(name) must be 1 to \(maximum) when given, got \(value)", field: "access.\(name)")
            }
        }
        if let expiry = terms.access.expiresAtMilliseconds, expiry > Self.timeMillisecondsMax {
            throw LedgerRejection(.invalidAccessTerms, "access.expiresAtMilliseconds is after the year 9999", field: "access.expiresAtMilliseconds")
        }
        try checkStillOnSale(terms)
        for incentive in terms.incentiveIDs { try identifier(incentive, "incentiveIDs") }
    }

    /// The content's URL is under one of the vendor's sites as they are now: a catalog entry
    /// registered under a site the vendor has since given up is no longer sold.
    func checkSite(_ terms: ContentTerms, vendor: VendorRecord) throws {
        guard terms.isSold(under: vendor.sites) else {
            throw LedgerRejection(.urlOutsideVendorSites, "url \(terms.url) is not under the vendor's registered sites", field: "url")
        }
    }

    /// Content whose access has expired gives the buyer nothing: it is neither registered nor
    /// sold from then on (a catalog entry stays registered, unsold).
    func checkStillOnSale(_ terms: ContentTerms) throws {
        if let expiry = terms.access.expiresAtMilliseconds, expiry <= time {
            throw LedgerRejection(
                .expiryNotInFuture, "access to \(terms.content) expires at \(expiry), not after now (\(time)): it is no longer sold",
                field: "access.expiresAtMilliseconds")
        }
    }

    /// 9999-12-31T23:59:59.999Z: no time the ledger records is later.
    static let timeMillisecondsMax: UInt64 = 253_402_300_799_999

    func purchaseContext(user: String, member: String?, vendor: String, content: ContentReference)
        throws -> (UserRecord, VendorRecord, ContentTerms)
    {
        let vendorRecord = try existingVendor(vendor)
        let terms: ContentTerms
        switch content {
        case .catalog(let id):
            guard let registered = try state.content(vendor: vendor, id) else {
                throw LedgerRejection(.unknownContent, "\(vendor) has no content \(id)")
            }
            try checkStillOnSale(registered)
            try checkSite(registered, vendor: vendorRecord)
            terms = registered
        case .inline(let inline):
            try checkTerms(inline, vendor: vendorRecord)
            terms = inline
        }
        let record = try existingUser(user)
        if let member, record.members[member] != true {
            throw LedgerRejection(.unknownMember, "\(member) is not an active member of \(user)")
        }
        try wallet(record, user, terms.currency)
        try checkLimits(record, user: user, member: member, vendor: vendor, amount: terms.price, currency: terms.currency)
        return (record, vendorRecord, terms)
    }

    func checkLimits(_ record: UserRecord, user: String, member: String?, vendor: String, amount: Int64, currency: Currency) throws {
        let limits = SpendingLimit.applicable(record.limits, currency: currency, member: member, vendor: vendor)
        guard !limits.isEmpty else { return }
        // The spending log does not say in which currency each purchase was: with one wallet
        // (a purchase needs a wallet in its currency) it is that one; otherwise each entry's
        // transaction says, and spending in other currencies does not count.
        var entries = try state.spending(user)
        if record.wallets.count > 1 {
            entries = try entries.filter { entry in
                guard let transaction = try state.transaction(entry.transaction) else { return true }
                return transaction.terms.currency == currency
            }
        }
        try SpendingLimit.enforce(limits, amount: amount, member: member, vendor: vendor, time: time, spending: entries)
    }

    /// The posting of a payout out of a wallet, at once or asked for: a new payout ID, a way the
    /// money can travel, an open wallet, and only the wallet's own balance (held money is in
    /// `holds:`, uncleared funds in `pending:`, incentive tokens in their lots and credit in
    /// `credit:`, none of them paid back).
    func payoutFromWallet(
        _ payout: String, user: String, currency: Currency, amount: Int64, method: FundingMethod, to destination: LedgerAccount
    ) throws -> Posting {
        try identifier(payout, "payout")
        try Money.positive(amount, "amount")
        try Self.payableMethod(method)
        let record = try existingUser(user)
        try wallet(record, user, currency)
        if try state.payoutIDUsed(payout) { throw LedgerRejection(.payoutExists, "payout \(payout) exists", field: "payout") }
        let source = LedgerAccount.wallet(user: user, currency: currency)
        let available = try state.balance(source)
        if available < amount {
            throw LedgerRejection(.insufficientFunds, "\(user) has \(available) \(currency) of the \(amount) to pay back", headroom: max(available, 0), field: "amount")
        }
        try checkCredit(destination, amount)
        return Posting(debit: source, credit: destination, amount: amount)
    }

    /// Money is paid back only through a way it can travel.
    static func payableMethod(_ method: FundingMethod) throws {
        if method == .providerIssue {
            throw LedgerRejection(.payoutMethodNotAllowed, "money cannot be paid back by providerIssue; name the way it travels back", field: "method")
        }
    }

    /// A user's payout request still waiting to be paid or declined.
    func pendingPayout(_ payout: String) throws -> PayoutRequestRecord {
        guard let request = try state.payoutRequest(payout) else { throw LedgerRejection(.unknownPayout, "no payout request \(payout)") }
        guard request.status == .requested else {
            throw LedgerRejection(.payoutNotPending, "payout \(payout) was \(request.status.rawValue) already")
        }
        return request
    }

    func heldTransaction(_ transaction: String, vendor: String) throws -> TransactionRecord {
        guard let record = try state.transaction(transaction), record.vendor == vendor else {
            throw LedgerRejection(.unknownTransaction, "\(vendor) has no transaction \(transaction)")
        }
        guard record.status == .held else {
            throw LedgerRejection(.transactionNotHeld, "\(transaction) is \(record.status.rawValue), not held")
        }
        return record
    }

    /// A referral reward that a refunded purchase qualified is reversed with the refund.
    func referralReversal(user: String, transaction: String) throws -> [LedgerEvent] {
        guard let referral = try state.referral(user: user), referral.status == .rewarded,
              referral.qualifyingTransactions.contains(transaction)
        else { return [] }
        let payable = LedgerAccount.vendorPayable(vendor: referral.vendor, currency: referral.currency)
        let fees = LedgerAccount.providerFeeRevenue(currency: referral.currency)
        try checkCredit(fees, referral.amount)
        return [.referralReversed(ReferralReversed(
            vendor: referral.vendor, user: user, amount: referral.amount, transaction: transaction,
            postings: [Posting(debit: payable, credit: fees, amount: referral.amount)], timeMilliseconds: time))]
    }

    /// Returns held funds to where they came from (see `returnTargets`).
    func release(_ record: TransactionRecord, transaction: String, reason: PurchaseVoided.Reason) throws -> PurchaseVoided {
        let currency = record.terms.currency
        let holds = LedgerAccount.holds(user: record.user, currency: currency)
        let targets = try returnTargets(record.sources, user: record.user, currency: currency)
        return PurchaseVoided(
            transaction: transaction, user: record.user, vendor: record.vendor, reason: reason,
            postings: Self.postings(from: [(holds, record.terms.price)], to: targets),
            idempotency: idempotency, timeMilliseconds: time)
    }

    /// A refund of a disputed purchase: the fee, the royalties, the reserve and the rest of the
    /// vendor's share go back to where the user's money came from.
    func refund(_ dispute: DisputeRecord, id: String, transaction record: TransactionRecord, decidedBy: DisputeResolved.Decider,
                representative: String?) throws -> DisputeResolved {
        DisputeResolved(
            dispute: id, transaction: dispute.transaction, user: dispute.user, vendor: dispute.vendor, outcome: .refunded,
            decidedBy: decidedBy, representative: representative, refunded: record.remaining,
            postings: try refundPostings(record, amount: record.remaining, reserved: dispute.reserved), timeMilliseconds: time)
    }

    /// The postings of a refund of `amount` of a captured purchase, by dispute or by its
    /// vendor: the debits (the fee's part, each royalty's, what a dispute reserved, the rest
    /// of the vendor's part) matched in order to the credits that return the amount to where
    /// it came from, split as ``TransactionRecord/refundSplit(_:)`` says.
    func refundPostings(_ record: TransactionRecord, amount: Int64, reserved: Int64) throws -> [Posting] {
        let currency = record.terms.currency
        let split = record.refundSplit(amount)
        var debits: [(LedgerAccount, Int64)] = []
        if split.fee > 0 { debits.append((.providerFeeRevenue(currency: currency), split.fee)) }
        for (royalty, part) in zip(record.royalties ?? [], split.royalties) where part > 0 {
            debits.append((.rightsHolderPayable(holder: royalty.holder, currency: currency), part))
        }
        let fromReserve = min(reserved, split.vendor)
        if fromReserve > 0 { debits.append((.disputeReserve(vendor: record.vendor, currency: currency), fromReserve)) }
        if split.vendor - fromReserve > 0 {
            debits.append((.vendorPayable(vendor: record.vendor, currency: currency), split.vendor - fromReserve))
        }
        for (account, amount) in debits { try checkDebit(account, amount) }
        let sources = zip(record.sources, split.sources).compactMap { source, back in
            back > 0 ? FundingSource(account: source.account, amount: back) : nil
        }
        let targets = try returnTargets(sources, user: record.user, currency: currency)
        return Self.postings(from: debits, to: targets)
    }
}
