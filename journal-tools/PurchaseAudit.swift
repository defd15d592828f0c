import Ledger

/// The paying half of a purchase, held event by event to what the ledger does: the buyer pays
/// the price, only the buyer pays it, and only the purchase's vendor is paid.
///
/// An authorization (`PurchaseAuthorized`) and a one-step capture draw the price from their
/// sources: each a positive amount from the buyer's wallet or credit line, or from an incentive
/// lot, in the purchase's currency, together the price. An authorization's postings move
/// exactly each source into the buyer's held funds; a one-step capture's move exactly each
/// source into the vendor's payable, and a capture of a hold moves the price from the buyer's
/// held funds into it. The rest of a capture's postings pay the fee and the royalties out of
/// that payable (their amounts are ``LedgerAudit/captureFailure(_:at:)``'s), and the
/// royalties are what the content's schedule gives (``ContentTerms/royaltyPayments``), with
/// the fee and royalties together no more than the price. A void or expiry gives the held
/// funds back to the buyer. Whether a lot was issued to the buyer, and that a hold is captured
/// or released once, for its price, need the history: ``RefundAudit`` checks them.
enum PurchaseAudit {
    /// Why `event`'s payment is wrong, or nil (nil for every other kind of event).
    static func failure(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        switch event {
        case .purchaseCaptured(let captured): return failure(captured, at: sequence)
        case .purchaseAuthorized(let authorized): return failure(authorized, at: sequence)
        case .purchaseVoided(let voided): return failure(voided, at: sequence)
        default: return nil
        }
    }

    /// Runs for every capture of the journal, on the workers: it builds no account name and
    /// allocates nothing unless it fails.
    static func failure(_ captured: PurchaseCaptured, at sequence: UInt64) -> AuditFailure? {
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .purchaseInconsistent, sequence: sequence, message: "\(captured.transaction) " + message)
        }
        let terms = captured.terms, code = terms.currency.code
        if let problem = termsProblem(terms) { return fail(problem) }
        guard captured.royalties.elementsEqual(terms.royalties, by: { $0.holder == $1.holder && $0.amount == terms.royalty($1) }) else {
            return fail("lists royalties \(describe(captured.royalties)) where its schedule gives \(describe(terms.royaltyPayments))")
        }
        var paidOut = captured.fee
        for royalty in captured.royalties {
            let (sum, overflow) = paidOut.addingReportingOverflow(royalty.amount)
            paidOut = overflow ? .max : sum
        }
        guard captured.fee >= 0, paidOut <= terms.price else {
            return fail("pays out a fee of \(captured.fee) and royalties, \(paidOut) in all, of a price of \(terms.price)")
        }
        func isPayable(_ account: String) -> Bool { isAccount(account, "vendor", of: captured.vendor, code) }
        let postings = captured.postings
        // The payment: each source (or, for a hold, the buyer's held funds) into the payable.
        let paying = captured.oneStep ? captured.sources.count : (terms.price > 0 ? 1 : 0)
        var paid = postings.count >= paying
        if captured.oneStep {
            if let problem = sourcesProblem(captured.sources, user: captured.user, code: code, price: terms.price) { return fail(problem) }
            for (posting, source) in zip(postings, captured.sources) where !paid || posting.debit != source.account || posting.amount != source.amount
                || !isPayable(posting.credit) {
                paid = false
            }
        } else if paying == 1, paid {
            paid = isAccount(postings[0].debit, "holds", of: captured.user, code) && postings[0].amount == terms.price && isPayable(postings[0].credit)
        }
        guard paid else {
            let payable = LedgerAccount.vendorPayable(vendor: captured.vendor, currency: terms.currency).name
            let expected = captured.oneStep
                ? captured.sources.map { "\($0.account) -> \(payable) \($0.amount)" }
                : ["\(LedgerAccount.holds(user: captured.user, currency: terms.currency).name) -> \(payable) \(terms.price)"]
            return fail("pays with \(RefundAudit.describe(Array(postings.prefix(paying)))), where its sources give \(expected.joined(separator: ", "))")
        }
        // The rest: out of the payable, the fee and the royalties only.
        for posting in postings.dropFirst(paying)
        where !isPayable(posting.debit) || !(LedgerAudit.starts(posting.credit, with: "holder:") || LedgerAudit.starts(posting.credit, with: "fees:")) {
            let payable = LedgerAccount.vendorPayable(vendor: captured.vendor, currency: terms.currency).name
            return fail("moves \(posting.amount) from \(posting.debit) to \(posting.credit): a capture pays its vendor, and out of "
                        + "\(payable) only the fee and the rights holders")
        }
        return nil
    }

    static func failure(_ authorized: PurchaseAuthorized, at sequence: UInt64) -> AuditFailure? {
        func fail(_ message: String) -> AuditFailure {
            AuditFailure(kind: .purchaseInconsistent, sequence: sequence, message: "\(authorized.transaction) " + message)
        }
        let terms = authorized.terms
        if let problem = termsProblem(terms) ?? sourcesProblem(authorized.sources, user: authorized.user, code: terms.currency.code, price: terms.price) {
            return fail(problem)
        }
        let holds = LedgerAccount.holds(user: authorized.user, currency: terms.currency).name
        guard authorized.postings.elementsEqual(authorized.sources, by: { $0.debit == $1.account && $0.credit == holds && $0.amount == $1.amount }) else {
            let expected = authorized.sources.map { "\($0.account) -> \(holds) \($0.amount)" }.joined(separator: ", ")
            return fail("holds with \(RefundAudit.describe(authorized.postings)), where its sources give \(expected)")
        }
        return nil
    }

    /// A hold voided or expired gives the held funds back to the buyer: out of the buyer's held
    /// funds, to the buyer's wallet, credit line or a lot (which lot is the history's:
    /// ``RefundAudit`` checks it was issued to the buyer, and that the hold's price goes back).
    static func failure(_ voided: PurchaseVoided, at sequence: UInt64) -> AuditFailure? {
        for posting in voided.postings {
            let code = posting.currency.code
            let back = isAccount(posting.credit, "wallet", of: voided.user, code) || isAccount(posting.credit, "credit", of: voided.user, code)
                || isLot(posting.credit, code)
            guard isAccount(posting.debit, "holds", of: voided.user, code), back else {
                return AuditFailure(kind: .purchaseInconsistent, sequence: sequence, message:
                    "the release of \(voided.transaction) moves \(posting.amount) from \(posting.debit) to \(posting.credit), "
                    + "not from its buyer \(voided.user)'s held funds back to the buyer")
            }
        }
        return nil
    }

    /// What is wrong with terms no registration would have taken, or nil.
    static func termsProblem(_ terms: ContentTerms) -> String? {
        guard terms.price >= 0 else { return "has a price of \(terms.price)" }
        if let share = terms.royalties.first(where: { !(0...10_000).contains($0.basisPoints) }) {
            return "gives \(share.holder) a share of \(share.basisPoints) basis points"
        }
        return nil
    }

    /// What is wrong with a purchase's sources, or nil: each pays a positive amount from the
    /// buyer's wallet or credit line, or from an incentive lot, in the purchase's currency, and
    /// together they pay the price.
    static func sourcesProblem(_ sources: [FundingSource], user: String, code: String, price: Int64) -> String? {
        var total: Int64 = 0
        for source in sources {
            guard source.amount > 0 else { return "draws \(source.amount) from \(source.account): a source pays a positive amount" }
            guard isAccount(source.account, "wallet", of: user, code) || isAccount(source.account, "credit", of: user, code) || isLot(source.account, code) else {
                return "draws \(source.amount) from \(source.account), not from its buyer \(user)'s wallet or credit line or a lot in \(code)"
            }
            let (sum, overflow) = total.addingReportingOverflow(source.amount)
            guard !overflow else { return "draws more than a 64-bit amount from its sources" }
            total = sum
        }
        guard total == price else { return "draws \(total) from its sources for a price of \(price)" }
        return nil
    }

    /// `account` is `<kind>:<owner>:<code>`, compared byte for byte (the ledger builds names by
    /// concatenation), without building the name: the workers ask this several times per capture.
    static func isAccount(_ account: String, _ kind: StaticString, of owner: String, _ code: String) -> Bool {
        LedgerAudit.withBytes(account) { name in
            LedgerAudit.withBytes(owner) { owner in
                LedgerAudit.withBytes(code) { code in
                    let kind = UnsafeBufferPointer(start: kind.utf8Start, count: kind.utf8CodeUnitCount)
                    let ownerAt = kind.count + 1, codeAt = ownerAt + owner.count + 1
                    guard name.count == codeAt + code.count, name[ownerAt - 1] == UInt8(ascii: ":"), name[codeAt - 1] == UInt8(ascii: ":") else {
                        return false
                    }
                    for index in kind.indices where name[index] != kind[index] { return false }
                    for index in owner.indices where name[ownerAt + index] != owner[index] { return false }
                    for index in code.indices where name[codeAt + index] != code[index] { return false }
                    return true
                }
            }
        }
    }

    /// `account` is the provider's fee revenue in `code`: `fees:<code>`.
    static func isFees(_ account: String, _ code: String) -> Bool {
        LedgerAudit.withBytes(account) { name in
            LedgerAudit.withBytes(code) { code in
                name.count == 5 + code.count && name.starts(with: "fees:".utf8) && name[5...].elementsEqual(code)
            }
        }
    }

    /// `account` is an incentive lot in `code`: `lot:<lot>:<code>`, the lot's ID holding no ':'.
    static func isLot(_ account: String, _ code: String) -> Bool {
        guard let lot = RefundAudit.lotID(account), !lot.isEmpty else { return false }
        return isAccount(account, "lot", of: lot, code)
    }

    static func describe(_ royalties: [RoyaltyPayment]) -> String {
        royalties.isEmpty ? "none" : royalties.map { "\($0.holder) \($0.amount)" }.joined(separator: ", ")
    }
}
