import Foundation
@testable import Ledger
import TallyTestSupport
import Testing
@testable import journal_tool

@Suite("journal-tool verify: refunds held against what was paid")
struct RefundAuditTests {
    /// Every kind of transaction ID the audit keys differently: the ledger's own created in the
    /// range (an array slot), created before it (an authorization captured later), past the
    /// range's end, and not made by the ledger (all hashed by name).
    static let identifiers = ["tx-12", "tx-5", "tx-99", "order-7", "tx-012"]
    /// The buyer `u` and vendor `v` of every purchase below.
    static let buyer = RefundAudit.parties(user: "u", vendor: "v")

    /// A capture by `u` from `v`, paid from `u`'s wallet unless `sources` say otherwise.
    static func captured(
        _ transaction: String, price: Int64, currency: Currency = .usd, fee: Int64 = 0, royalties: [RoyaltyPayment] = [],
        sources: [FundingSource]? = nil, member: String? = nil
    ) -> PurchaseCaptured {
        PurchaseCaptured(
            transaction: transaction, user: "u", member: member, vendor: "v",
            terms: ContentTerms(content: "c", title: "C", price: price, currency: currency, url: "https://v.example/c"),
            oneStep: true, sources: sources ?? [FundingSource(account: "wallet:u:\(currency.code)", amount: price)], fee: fee,
            royalties: royalties, rounding: royaltyRoundingRule, entitlement: AccessTerms(), postings: [], idempotency: nil, timeMilliseconds: 1)
    }

    /// An audit of `first...last` that reads back `captures` by sequence, vendor `v` registered
    /// at `feeBasisPoints` (the captures' fees are its rate's).
    static func audit(first: UInt64, last: UInt64, _ captures: [UInt64: PurchaseCaptured] = [:], feeBasisPoints: Int64 = 0) -> RefundAudit {
        var audit = RefundAudit(first: first, last: last, readCapture: { captures[$0] })
        let registered = audit.apply(.vendor(vendor: "v", feeBasisPoints: feeBasisPoints, registered: true), at: first)
        precondition(registered == nil, "\(registered!)")
        return audit
    }

    /// An authorization of `price` by `u` from `v` at `time`, held until `expiresAt`, drawing on `lots`.
    static func hold(
        _ transaction: String, price: Int64 = 100, lots: [String] = [], user: String = "u", at time: UInt64 = 1, expiresAt: UInt64 = 1_000,
        incentiveIDs: [String] = [], purchase: UInt64 = 7
    ) -> RefundAudit.Step {
        let terms = ContentTerms(content: "c", title: "C", price: price, currency: .usd, url: "https://v.example/c", incentiveIDs: incentiveIDs)
        return .hold(transaction: transaction, user: user,
                     drawn: lots.isEmpty ? nil : RefundAudit.Drawn(user: user, vendor: "v", terms: terms, time: time, lots: lots),
                     price: price, parties: RefundAudit.parties(user: user, vendor: "v"), expiresAt: expiresAt,
                     purchase: purchase, byMember: nil, sources: [FundingSource(account: "wallet:\(user):USD", amount: price)], currency: .usd)
    }

    /// Lot `lot` issued to `user`, in USD, with no expiry or vendor restriction unless given.
    static func lot(_ lot: String, user: String, expiresAt: UInt64? = nil, vendors: [String]? = nil) -> RefundAudit.Step {
        .lot(IncentiveLot(lot: lot, user: user, currency: .usd, issuer: "provider", expiresAtMilliseconds: expiresAt, vendors: vendors))
    }

    /// A refund of `amount` that says it is in `currency` (nil: says none), moving `moves` (by
    /// default all of it from `v`'s payable to `u`'s wallet) in `currency`, else in `code`.
    static func refund(
        _ transaction: String, _ amount: Int64, remaining: Int64?, what: String = "the refund", user: String = "u", vendor: String = "v",
        currency: String? = nil, in code: String = "USD", moves: [(from: String, to: String, amount: Int64)]? = nil,
        resolving: RefundAudit.Resolution? = nil
    ) -> RefundAudit.Step {
        let moving = Currency(code: currency ?? code)!
        let postings = (moves ?? [("vendor:v:\(moving.code)", "wallet:u:\(moving.code)", amount)]).map {
            Posting(debitName: $0.from, creditName: $0.to, amount: $0.amount, currency: moving)
        }
        return .refund(transaction: transaction, amount: amount, remaining: remaining, what: what, user: user, vendor: vendor,
                       currency: currency, postings: postings, resolving: resolving)
    }

    /// Dispute `id` of `transaction` by `user` from `vendor`, reserving `reserved` from the
    /// vendor's payable (`moves`, if given, are its postings instead).
    static func dispute(
        _ transaction: String, _ id: String = "d", disputed: Int64?, user: String = "u", vendor: String = "v", in code: String = "USD",
        reserved: Int64 = 0, unauthorized: Bool = false, moves: [(from: String, to: String, amount: Int64)]? = nil
    ) -> RefundAudit.Step {
        let postings = (moves ?? (reserved > 0 ? [("vendor:\(vendor):\(code)", "reserve:\(vendor):\(code)", reserved)] : [])).map {
            Posting(debitName: $0.from, creditName: $0.to, amount: $0.amount, currency: Currency(code: code)!)
        }
        return .dispute(transaction: transaction, disputed: disputed, what: "dispute \(id)", user: user, vendor: vendor, opening: RefundAudit.Opening(
            dispute: id, currency: Currency(code: code)!, reserved: reserved, unauthorized: unauthorized, postings: postings))
    }

    /// Customer service's rejection of dispute `id`, giving `reserved` back from the reserve (or moving `moves`).
    static func rejection(
        _ transaction: String, _ id: String = "d", reserved: Int64 = 0, byRule: Bool = false, moves: [(from: String, to: String, amount: Int64)]? = nil
    ) -> RefundAudit.Step {
        let postings = (moves ?? (reserved > 0 ? [("reserve:v:USD", "vendor:v:USD", reserved)] : [])).map {
            Posting(debitName: $0.from, creditName: $0.to, amount: $0.amount, currency: .usd)
        }
        return .rejection(transaction: transaction, what: "dispute \(id)", user: "u", vendor: "v",
                          resolution: RefundAudit.Resolution(dispute: id, byRule: byRule), postings: postings)
    }

    /// Customer service's decision of dispute `id` (or the rule's).
    static func deciding(_ id: String = "d", byRule: Bool = false) -> RefundAudit.Resolution {
        RefundAudit.Resolution(dispute: id, byRule: byRule)
    }

    @Test("partial refunds add up to the price, then nothing more goes back, whatever the ID", arguments: identifiers)
    func partialRefunds(_ transaction: String) {
        let capture = Self.captured(transaction, price: 250)
        var audit = Self.audit(first: 10, last: 50, [12: capture])
        #expect(audit.apply(RefundAudit.capture(capture), at: 12) == nil)
        #expect(audit.apply(Self.refund(transaction, 100, remaining: 150), at: 13) == nil)
        #expect(audit.apply(Self.dispute(transaction, disputed: 150, reserved: 150), at: 14) == nil)
        #expect(audit.apply(Self.refund(transaction, 150, remaining: nil, what: "dispute d",
                                        moves: [("reserve:v:USD", "wallet:u:USD", 150)], resolving: Self.deciding()), at: 15) == nil)
        #expect(audit.checked == 2)
        #expect(audit.refundedTotals == ["USD": 250])
        let again = audit.apply(Self.refund(transaction, 1, remaining: 0), at: 16)
        #expect(again?.kind == .refundInconsistent)
        #expect(again?.sequence == 16)
        #expect(again?.message.contains("whose buyer pays only 0") == true, "\(String(describing: again))")
        let disputed = audit.apply(Self.dispute(transaction, "e", disputed: nil), at: 17)
        #expect(disputed?.message.contains("whole price went back already") == true)
        let twice = audit.apply(RefundAudit.capture(Self.captured(transaction, price: 5)), at: 18)
        #expect(twice?.message.contains("captured a second time") == true)
    }

    @Test("a remainder that is not the price less the refund, or a whole refund of part, is refused")
    func remainders() {
        let capture = Self.captured("tx-3", price: 900, currency: .eur)
        var audit = Self.audit(first: 1, last: 50, [3: capture])
        #expect(audit.apply(RefundAudit.capture(capture), at: 3) == nil)
        #expect(audit.apply(Self.refund("tx-3", 300, remaining: 601, in: "EUR"), at: 4)?.message
            .contains("says 601 remains to be paid, but 900 less 300 is 600") == true)
        #expect(audit.apply(Self.refund("tx-3", 300, remaining: nil, what: "dispute d", in: "EUR"), at: 5)?.message
            .contains("says 0 remains to be paid, but 900 less 300 is 600") == true)
        #expect(audit.apply(Self.refund("tx-3", 901, remaining: 0, in: "EUR"), at: 6)?.message
            .contains("whose buyer pays only 900") == true)
        #expect(audit.apply(Self.dispute("tx-3", disputed: 899, in: "EUR"), at: 6)?.message
            .contains("says it disputes 899 of tx-3, whose buyer still pays 900") == true)
        #expect(audit.apply(Self.dispute("tx-3", disputed: 900, in: "EUR"), at: 6) == nil)
        // Rejected steps changed nothing: the whole price still goes back in one refund, the dispute's.
        #expect(audit.apply(Self.refund("tx-3", 900, remaining: nil, what: "dispute d", in: "EUR", resolving: Self.deciding()), at: 7) == nil)
        #expect(audit.note == nil)
    }

    @Test("a purchase never captured: refused with the whole history, counted as unchecked in a range")
    func neverCaptured() {
        var whole = Self.audit(first: 1, last: 50)
        #expect(whole.apply(Self.refund("tx-4", 1, remaining: 0), at: 9)?.message.contains("which was never captured") == true)
        #expect(whole.apply(Self.dispute("order-1", disputed: nil), at: 9)?.message.contains("which was never captured") == true)

        var range = Self.audit(first: 20, last: 50)
        #expect(range.apply(Self.refund("tx-4", 1, remaining: 0), at: 21) == nil)
        #expect(range.apply(Self.dispute("tx-5", disputed: 7), at: 22) == nil)
        #expect(range.checked == 0)
        #expect(range.note == "2 refunds or disputes of purchases captured before the range were not checked against what was paid")
    }

    @Test("a refund takes from each party and gives back to each lot exactly its part of the ledger's split")
    func splits() {
        // 1,000 paid from lot l-1 (300) then the wallet (700); fee 50, royalties 100 to label and 30 to writer.
        let capture = Self.captured("tx-2", price: 1_000, fee: 50, royalties: [RoyaltyPayment(holder: "label", amount: 100), RoyaltyPayment(holder: "writer", amount: 30)],
                                    sources: [FundingSource(account: "lot:l-1:USD", amount: 300), FundingSource(account: "wallet:u:USD", amount: 700)])
        var audit = Self.audit(first: 1, last: 50, [2: capture], feeBasisPoints: 500)
        #expect(audit.apply(Self.lot("l-1", user: "u"), at: 1) == nil)
        #expect(audit.apply(RefundAudit.capture(capture), at: 2) == nil)
        // 101 of 1,000: fee 5.05, label 10.1, writer 3.03, vendor 82.82: 5 + 10 + 3 + 82 = 100, the unit to
        // the largest remainder (the vendor's 0.82).
        let right: [(from: String, to: String, amount: Int64)] = [
            ("fees:USD", "wallet:u:USD", 5), ("holder:label:USD", "wallet:u:USD", 10), ("holder:writer:USD", "wallet:u:USD", 3),
            ("vendor:v:USD", "wallet:u:USD", 83)]
        for (wrong, says) in [
            // Another holder's part taken from label.
            ([("fees:USD", "wallet:u:USD", 5), ("holder:label:USD", "wallet:u:USD", 13), ("vendor:v:USD", "wallet:u:USD", 83)],
             "takes 13 from holder:label:USD, but its split of 101 takes 10"),
            // A holder the purchase never paid.
            ([("fees:USD", "wallet:u:USD", 5), ("holder:label:USD", "wallet:u:USD", 10), ("holder:studio:USD", "wallet:u:USD", 3),
              ("vendor:v:USD", "wallet:u:USD", 83)], "takes 3 from holder:studio:USD, but its split of 101 takes 0"),
            // The fee kept, the vendor paying it.
            ([("holder:label:USD", "wallet:u:USD", 10), ("holder:writer:USD", "wallet:u:USD", 3), ("vendor:v:USD", "wallet:u:USD", 88)],
             "takes 0 from fees:USD, but its split of 101 takes 5"),
            // The units rounded another way.
            ([("fees:USD", "wallet:u:USD", 6), ("holder:label:USD", "wallet:u:USD", 10), ("holder:writer:USD", "wallet:u:USD", 3),
              ("vendor:v:USD", "wallet:u:USD", 82)], "takes 6 from fees:USD"),
            // Given to the lot though the wallet paid last.
            ([("fees:USD", "wallet:u:USD", 5), ("holder:label:USD", "wallet:u:USD", 10), ("holder:writer:USD", "wallet:u:USD", 3),
              ("vendor:v:USD", "lot:l-1:USD", 83)], "gives back 83 to lot:l-1:USD, but its split of 101 gives it 0"),
        ] as [([(from: String, to: String, amount: Int64)], String)] {
            #expect(audit.apply(Self.refund("tx-2", 101, remaining: 899, moves: wrong), at: 3)?.message.contains(says) == true, "\(says)")
        }
        #expect(audit.apply(Self.refund("tx-2", 101, remaining: 899, moves: right), at: 3) == nil)
        // The wallet's 700 back first, then the lot: the next 699 leave the wallet 0 (599 of it).
        let second: [(from: String, to: String, amount: Int64)] = [
            ("fees:USD", "wallet:u:USD", 35), ("holder:label:USD", "wallet:u:USD", 70), ("holder:writer:USD", "wallet:u:USD", 21),
            ("vendor:v:USD", "wallet:u:USD", 473), ("vendor:v:USD", "lot:l-1:USD", 100)]
        #expect(audit.apply(Self.refund("tx-2", 699, remaining: 200, moves: second), at: 4) == nil)
        // A dispute's refund of the last 200 takes what is left of each part, the vendor's from
        // its reserve and payable together: fee 50-40, label 100-80, writer 30-24, vendor 154.
        let last: [(from: String, to: String, amount: Int64)] = [
            ("fees:USD", "lot:l-1:USD", 10), ("holder:label:USD", "lot:l-1:USD", 20), ("holder:writer:USD", "lot:l-1:USD", 6),
            ("reserve:v:USD", "lot:l-1:USD", 150), ("vendor:v:USD", "lot:l-1:USD", 14)]
        #expect(audit.apply(Self.dispute("tx-2", disputed: 200, reserved: 150), at: 5) == nil)
        #expect(audit.apply(Self.refund("tx-2", 200, remaining: nil, what: "dispute d", moves: last, resolving: Self.deciding()), at: 6) == nil)
        #expect(audit.checked == 3)

        // A capture that cannot be read back is a failure, not a pass.
        var unread = Self.audit(first: 1, last: 50, feeBasisPoints: 500)
        #expect(unread.apply(Self.lot("l-1", user: "u"), at: 1) == nil)
        #expect(unread.apply(RefundAudit.capture(capture), at: 2) == nil)
        #expect(unread.apply(Self.refund("tx-2", 101, remaining: 899, moves: right), at: 3)?.message
            .contains("the capture of tx-2 at 2 cannot be read back") == true)
    }

    @Test("a refund's own amounts: positive, a remainder not negative, postings that move what it gives back")
    func ownChecks() throws {
        func refund(_ amount: Int64, remaining: Int64?, postings: [Int64]) throws -> LedgerEvent {
            let moves = postings.map { #"{"amount":\#($0),"credit":"wallet:u:USD","currency":"USD","debit":"vendor:v:USD"}"# }
            let json = #"{"currency":"USD","postings":[\#(moves.joined(separator: ","))],"reason":"","refunded":\#(amount),"#
                + (remaining.map { #""remaining":\#($0),"# } ?? "") + #""timeMilliseconds":1,"transaction":"tx-1","user":"u","vendor":"v"}"#
            return try LedgerEvent(typeName: "PurchaseRefunded", payload: Array(json.utf8))
        }
        #expect(RefundAudit.ownFailure(try refund(10, remaining: 5, postings: [4, 6]), at: 2) == nil)
        #expect(RefundAudit.ownFailure(try refund(10, remaining: 5, postings: [4, 5]), at: 2)?.message.contains("gives back 10 but its postings move 9") == true)
        #expect(RefundAudit.ownFailure(try refund(0, remaining: 5, postings: []), at: 2)?.message.contains("not a positive amount") == true)
        #expect(RefundAudit.ownFailure(try refund(10, remaining: -1, postings: [10]), at: 2)?.message.contains("says -1 remains") == true)
        #expect(RefundAudit.ownFailure(try refund(10, remaining: 0, postings: [.max, 1]), at: 2)?.message.contains("overflow") == true)
        #expect(RefundAudit.ownFailure(try refund(10, remaining: 0, postings: [9]), at: 2)?.kind == .refundInconsistent)

        // From the vendor it names, the rights holders and the fees, to the buyer it names.
        func moving(_ debit: String, _ credit: String) throws -> LedgerEvent {
            let json = #"{"currency":"USD","postings":[{"amount":10,"credit":"\#(credit)","currency":"USD","debit":"\#(debit)"}],"#
                + #""reason":"","refunded":10,"remaining":0,"timeMilliseconds":1,"transaction":"tx-1","user":"u","vendor":"v"}"#
            return try LedgerEvent(typeName: "PurchaseRefunded", payload: Array(json.utf8))
        }
        for (debit, credit) in [("vendor:v:USD", "wallet:u:USD"), ("reserve:v:USD", "credit:u:USD"), ("fees:USD", "lot:l-1:USD"),
                                ("holder:label:USD", "wallet:u:USD")] {
            #expect(RefundAudit.ownFailure(try moving(debit, credit), at: 2) == nil, "\(debit) -> \(credit)")
        }
        for (debit, credit, says) in [("vendor:v:USD", "wallet:mallory:USD", "gives 10 to wallet:mallory:USD, not to its buyer u"),
                                      ("vendor:w:USD", "wallet:u:USD", "takes 10 from vendor:w:USD, not from v"),
                                      ("wallet:x:USD", "wallet:u:USD", "takes 10 from wallet:x:USD"),
                                      ("settlement:USD", "wallet:u:USD", "takes 10 from settlement:USD")] {
            #expect(RefundAudit.ownFailure(try moving(debit, credit), at: 2)?.message.contains(says) == true, "\(debit) -> \(credit)")
        }
    }


    @Test("a dispute is opened once, reserves the vendor's part at most, is decided once, and its reserve moves as decided")
    func disputes() {
        // 1,000 with a fee of 50 and 100 to label: the vendor's part is 850.
        let capture = Self.captured("tx-2", price: 1_000, fee: 50, royalties: [RoyaltyPayment(holder: "label", amount: 100)])
        var audit = Self.audit(first: 1, last: 50, [2: capture], feeBasisPoints: 500)
        #expect(audit.apply(RefundAudit.capture(capture), at: 2) == nil)
        func expect(_ step: RefundAudit.Step, at sequence: UInt64, says: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let failure = audit.apply(step, at: sequence)
            #expect(failure?.kind == .refundInconsistent, sourceLocation: sourceLocation)
            #expect(failure?.sequence == sequence, sourceLocation: sourceLocation)
            #expect(failure?.message.contains(says) == true, "\(String(describing: failure?.message))", sourceLocation: sourceLocation)
        }
        expect(Self.dispute("tx-2", disputed: 1_000, reserved: 850, moves: [("vendor:v:USD", "reserve:v:USD", 800)]), at: 3,
               says: "reserves 850 but its postings move vendor:v:USD -> reserve:v:USD 800, not that much from vendor:v:USD to reserve:v:USD")
        expect(Self.dispute("tx-2", disputed: 1_000, reserved: 851), at: 3, says: "reserves 851, more than the vendor's part 850")
        #expect(audit.apply(Self.dispute("tx-2", disputed: 1_000, reserved: 800), at: 3) == nil)
        expect(Self.dispute("tx-2", disputed: 1_000), at: 4, says: "dispute d is opened a second time")
        expect(Self.dispute("tx-2", "e", disputed: 1_000), at: 4, says: "dispute e is of tx-2, which dispute d disputes already")
        expect(Self.refund("tx-2", 10, remaining: 990), at: 4, says: "is made by its vendor while dispute d of it is open")
        expect(Self.rejection("tx-2", "x"), at: 4, says: "dispute x is resolved, but it is not open")
        expect(Self.rejection("tx-2", reserved: 800, byRule: true), at: 4, says: "is decided by rule, but only an unauthorized charge's dispute is")
        expect(Self.rejection("tx-2", reserved: 799), at: 4,
               says: "rejects the dispute of tx-2 moving reserve:v:USD -> vendor:v:USD 799, where 800 reserved goes back to v's payable")
        expect(Self.refund("tx-2", 1_000, remaining: nil, what: "dispute d",
                           moves: [("fees:USD", "wallet:u:USD", 50), ("holder:label:USD", "wallet:u:USD", 100), ("vendor:v:USD", "wallet:u:USD", 850)],
                           resolving: Self.deciding()), at: 4, says: "takes 0 from reserve:v:USD, but its split of 1000 takes 800")
        expect(Self.refund("tx-2", 1_000, remaining: nil, what: "dispute d", resolving: Self.deciding(byRule: true)), at: 4,
               says: "is decided by rule, but only an unauthorized charge's dispute is")
        // Customer service rejects it: the whole reserve back, and the decision is final.
        #expect(audit.apply(Self.rejection("tx-2", reserved: 800), at: 4) == nil)
        expect(Self.dispute("tx-2", "f", disputed: 1_000), at: 5, says: "whose dispute d was rejected: that decision is final")
        expect(Self.rejection("tx-2", reserved: 800), at: 5, says: "dispute d is resolved, but it is not open")
        // The vendor may refund it again.
        #expect(audit.apply(Self.refund("tx-2", 1_000, remaining: 0, moves: [
            ("fees:USD", "wallet:u:USD", 50), ("holder:label:USD", "wallet:u:USD", 100), ("vendor:v:USD", "wallet:u:USD", 850)]), at: 6) == nil)
        #expect(audit.finish() == nil)
    }

    @Test("an unauthorized charge's dispute is refunded by rule in the next event, and by nothing else")
    func unauthorized() {
        // Bought by member m, whose access is revoked before the dispute.
        let capture = Self.captured("tx-7", price: 100, member: "m")
        var audit = Self.audit(first: 1, last: 50, [7: capture])
        #expect(audit.apply(.member(user: "u", member: "m", active: true), at: 2) == nil)
        #expect(audit.apply(RefundAudit.capture(capture), at: 7) == nil)
        #expect(audit.apply(Self.dispute("tx-7", "u0", disputed: 100, reserved: 100, unauthorized: true), at: 8)?.message
            == "dispute u0 marks the charge unauthorized, but it was made by m, still a member of u's account")
        #expect(audit.apply(.member(user: "u", member: "m", active: false), at: 7) == nil)
        #expect(audit.apply(Self.dispute("tx-7", "u0", disputed: 100, reserved: 100), at: 8)?.message
            == "dispute u0 marks the charge authorized, but it was made by m, no longer a member of u's account")
        #expect(audit.apply(Self.dispute("tx-7", "u1", disputed: 100, reserved: 100, unauthorized: true), at: 8) == nil)
        let fromReserve: [(from: String, to: String, amount: Int64)] = [("reserve:v:USD", "wallet:u:USD", 100)]
        #expect(audit.apply(Self.refund("tx-7", 100, remaining: nil, what: "dispute u1", moves: fromReserve, resolving: Self.deciding("u1")), at: 9)?
            .message.contains("disputes a charge the rules mark unauthorized: it is refunded by rule, not decided by customer service") == true)
        #expect(audit.apply(Self.rejection("tx-7", "u1", reserved: 100), at: 9)?.message.contains("refunded by rule, not decided by customer service") == true)
        #expect(audit.apply(Self.refund("tx-7", 100, remaining: nil, what: "dispute u1", moves: fromReserve, resolving: Self.deciding("u1", byRule: true)), at: 10)?
            .message.contains("refunded in the event after it opens") == true)
        // Nothing followed: the audit's end names the event where the refund should be.
        let missing = audit.finish()
        #expect(missing?.sequence == 9)
        #expect(missing?.message.contains("dispute u1 of tx-7 disputes a charge the rules mark unauthorized, but no refund by rule follows it") == true)
        #expect(audit.apply(Self.refund("tx-7", 100, remaining: nil, what: "dispute u1", moves: fromReserve, resolving: Self.deciding("u1", byRule: true)), at: 9) == nil)
        #expect(audit.finish() == nil)
        // Opened at the range's last event: what follows is past the range, not missing.
        var atEnd = Self.audit(first: 1, last: 8, [7: capture])
        #expect(atEnd.apply(.member(user: "u", member: "m", active: true), at: 2) == nil)
        #expect(atEnd.apply(RefundAudit.capture(capture), at: 7) == nil)
        #expect(atEnd.apply(.member(user: "u", member: "m", active: false), at: 7) == nil)
        #expect(atEnd.apply(Self.dispute("tx-7", "u1", disputed: 100, reserved: 100, unauthorized: true), at: 8) == nil)
        #expect(atEnd.finish() == nil)
    }

    @Test("a refund or dispute that names another buyer or vendor than the purchase's is refused")
    func otherParties() {
        // 100 paid from lot l-1 (40) and the wallet (60): the wallet's part goes back first.
        let capture = Self.captured("tx-3", price: 100, sources: [FundingSource(account: "lot:l-1:USD", amount: 40),
                                                                   FundingSource(account: "wallet:u:USD", amount: 60)])
        var audit = Self.audit(first: 1, last: 50, [3: capture])
        // A purchase draws only on a lot issued to its buyer.
        #expect(audit.apply(RefundAudit.capture(capture), at: 3)?.message == "tx-3 draws on lot l-1, which was never issued")
        #expect(audit.apply(Self.lot("l-1", user: "mallory"), at: 1) == nil)
        #expect(audit.apply(RefundAudit.capture(capture), at: 3)?.kind == .purchaseInconsistent)
        #expect(audit.apply(Self.hold("tx-2", price: 40, lots: ["l-1"]), at: 2)?.message
            == "tx-2 draws on lot l-1, which was issued to mallory, not to its buyer u")
        // The same history with l-1 issued to the buyer.
        audit = Self.audit(first: 1, last: 50, [3: capture])
        #expect(audit.apply(Self.lot("l-1", user: "u"), at: 1) == nil)
        #expect(audit.apply(Self.hold("tx-2", price: 40, lots: ["l-1"]), at: 2) == nil)
        #expect(audit.apply(RefundAudit.capture(capture), at: 3) == nil)
        #expect(audit.apply(Self.refund("tx-3", 10, remaining: 90, user: "mallory"), at: 4)?
            .message.contains("names buyer mallory and vendor v, who did not make that purchase") == true)
        #expect(audit.apply(Self.dispute("tx-3", disputed: 100, vendor: "w"), at: 5)?
            .message.contains("names buyer u and vendor w") == true)
        #expect(audit.apply(Self.refund("tx-3", 60, remaining: 40), at: 6) == nil)
        #expect(audit.apply(Self.refund("tx-3", 10, remaining: 30, currency: "EUR"), at: 7)?
            .message.contains("gives back EUR, but the purchase was paid in USD") == true)
        // Back to a lot only when it was issued to the buyer.
        #expect(audit.apply(Self.lot("l-2", user: "mallory"), at: 9) == nil)
        #expect(audit.apply(Self.refund("tx-3", 10, remaining: 30, moves: [("vendor:v:USD", "lot:l-1:USD", 10)]), at: 10) == nil)
        #expect(audit.apply(Self.refund("tx-3", 10, remaining: 20, moves: [("vendor:v:USD", "lot:l-1:USD", 5), ("vendor:v:USD", "lot:l-2:USD", 5)]),
                            at: 11)?.message.contains("gives back to lot l-2, which was issued to mallory, not to its buyer u") == true)
        #expect(audit.apply(Self.refund("tx-3", 10, remaining: 20, moves: [("vendor:v:USD", "lot:l-9:USD", 10)]), at: 11)?
            .message.contains("gives back to lot l-9, which was never issued") == true)
        #expect(audit.apply(Self.refund("tx-3", 10, remaining: 20, moves: [("vendor:v:USD", "lot:l-1:USD", 10)]), at: 11) == nil)
        #expect(RefundAudit.lots([Posting(debit: .vendorPayable(vendor: "v", currency: .usd), credit: .incentiveLot(lot: "l-1", currency: .usd), amount: 1),
                                  Posting(debit: .vendorPayable(vendor: "v", currency: .usd), credit: .wallet(user: "u", currency: .usd), amount: 1)]) == ["l-1"])
        // The separator keeps the two names apart.
        #expect(RefundAudit.parties(user: "ab", vendor: "c") != RefundAudit.parties(user: "a", vendor: "bc"))
    }
}

@Suite("journal-tool verify: every journal the ledger writes passes, refunds and disputes included", .serialized)
struct RefundAuditLedgerTests {
    @Test("random purchases at two vendors whose fees change, holds captured, voided and expired, incentive lots restricted and expiring, credit lines, partial and whole refunds, disputes refunded, rejected and unauthorized: verify passes and counts every refund",
          arguments: UInt64(1)...10)
    func ledgerJournalsPass(_ seed: UInt64) async throws {
        var random = TestValues(seed: seed)
        let root = TemporaryDirectory()
        let directory = root.path + "/data"
        var refunds = 0
        var refunded: Int64 = 0
        var creditDrawn = 0
        var kinds: Set<String> = []
        do {
            // Time moves on by up to a minute a step: holds (ten minutes) and lots expire.
            let clock = LedgerJournal.SteppedClock()
            let (journal, ledger) = try LedgerJournal.open(directory, clock: clock)
            defer { journal.close() }
            /// The events of an accepted command; a refused one (say, a refund of more than is
            /// still paid, or of a disputed purchase) appends nothing and is part of the test.
            func run(_ command: LedgerCommand) async -> [LedgerEvent] {
                (try? await ledger.execute(command))?.events ?? []
            }
            _ = await run(.registerVendor(
                vendor: "shop", name: "Shop", sites: ["https://shop.example/"], feeBasisPoints: 500,
                settlement: SettlementPolicy(thresholdAmount: 1_000_000)))
            _ = await run(.registerVendor(
                vendor: "news", name: "News", sites: ["https://news.example/"], feeBasisPoints: 300,
                settlement: SettlementPolicy(thresholdAmount: 1_000_000)))
            _ = await run(.openAccount(user: "alice", channel: .providerSite))
            _ = await run(.openWallet(user: "alice", currency: .usd))
            // Little in the wallet: purchases draw on the credit line, refunds and funds repay it.
            _ = await run(.addFunds(funding: "f", user: "alice", currency: .usd, amount: 500, method: .card))
            _ = await run(.approveCreditLine(user: "alice", currency: .usd, limit: 1_500))
            var member: String? = nil
            var captured: [String] = []
            var held: [String] = []
            var disputes: [String] = []
            for step in 0..<100 {
                var events: [LedgerEvent] = []
                clock.now += UInt64(random.below(60_000))
                switch random.below(16) {
                case 0, 1, 2, 14:
                    let vendor = random.bool() ? "shop" : "news"
                    let terms = LedgerJournal.terms("c\(step)", vendor: vendor, price: Int64(1 + random.below(500)),
                                                    holders: Array(["label", "writer"].prefix(random.below(3))))
                    events = await run(.purchase(user: "alice", member: random.bool() ? member : nil, vendor: vendor, content: .inline(terms)))
                case 3:
                    let terms = LedgerJournal.terms("h\(step)", vendor: "shop", price: Int64(1 + random.below(500)), holders: ["label"])
                    events = await run(.authorize(user: "alice", member: member, vendor: "shop", content: .inline(terms), holdSeconds: 600))
                    if case .purchaseAuthorized(let hold)? = events.first { held.append(hold.transaction) }
                case 4:
                    // Refused (nothing appended) once the hold has expired.
                    if !held.isEmpty { events = await run(.capture(vendor: "shop", transaction: held.remove(at: random.below(held.count)))) }
                case 10:
                    // Refused while the hold has not expired; a void any time before its capture.
                    if !held.isEmpty {
                        let transaction = held.remove(at: random.below(held.count))
                        events = await run(random.bool() ? .expireHold(transaction: transaction) : .void(vendor: "shop", transaction: transaction))
                    }
                case 13:
                    events = await run(.updateVendor(vendor: random.bool() ? "shop" : "news", feeBasisPoints: Int64(random.below(1_000))))
                case 5, 6:
                    if !captured.isEmpty {
                        let amount: Int64? = random.bool() ? Int64(1 + random.below(300)) : nil
                        events = await run(.refund(vendor: "shop", transaction: random.pick(captured), amount: amount, reason: "r"))
                    }
                case 7:
                    if !captured.isEmpty {
                        events = await run(.openDispute(dispute: "d\(step)", user: "alice", transaction: random.pick(captured), reason: "d"))
                        if !events.isEmpty { disputes.append("d\(step)") }
                    }
                case 8:
                    if !disputes.isEmpty {
                        events = await run(.resolveDispute(dispute: random.pick(disputes), refund: random.bool(), representative: "rep"))
                    }
                case 9, 15:
                    // Incentive tokens, spent before paid ones: refunds give them back to the lot.
                    // Some only for one vendor, some expiring within ten minutes.
                    let vendors = [nil, ["shop"], ["news"]][random.below(3)]
                    let expiry = random.bool() ? clock.now + 1 + UInt64(random.below(600_000)) : nil
                    events = await run(.issueIncentive(lot: "l\(step)", user: "alice", currency: .usd, amount: Int64(1 + random.below(300)),
                                                       issuer: nil, expiresAtMilliseconds: expiry, vendors: vendors))
                case 11:
                    // A credit line approved, raised or lowered (never below what is in use: that is refused).
                    events = await run(.approveCreditLine(user: "alice", currency: .usd, limit: Int64(random.below(2_000)) + (random.bool() ? 500 : 0)))
                case 12:
                    events = await run(.addFunds(funding: "f\(step)", user: "alice", currency: .usd, amount: Int64(1 + random.below(300)), method: .card))
                default:
                    // Members come and go: a charge by a member since removed is refunded by rule when disputed.
                    if let current = member, random.bool() {
                        events = await run(.removeMember(user: "alice", member: current))
                        member = nil
                    } else if member == nil {
                        member = "m\(step)"
                        events = await run(.addMember(user: "alice", member: "m\(step)"))
                    } else {
                        events = await run(.settle(vendor: "shop", currency: .usd, force: true))
                    }
                }
                for event in events {
                    switch event {
                    case .purchaseCaptured(let capture):
                        captured.append(capture.transaction)
                        kinds.insert(capture.sources.contains { $0.account.hasPrefix("lot:") } ? "lot" : "paid")
                        if capture.postings.contains(where: { $0.debit == "credit:alice:USD" }) { creditDrawn += 1 }
                    case .purchaseAuthorized(let hold):
                        if hold.postings.contains(where: { $0.debit == "credit:alice:USD" }) { creditDrawn += 1 }
                    case .purchaseVoided(let voided):
                        kinds.insert(voided.reason.rawValue)
                    case .vendorUpdated:
                        kinds.insert("fee")
                    case .purchaseRefunded(let refund):
                        refunds += 1
                        refunded += refund.refunded
                    case .disputeResolved(let resolved) where resolved.outcome == .refunded:
                        refunds += 1
                        refunded += resolved.refunded
                    default: break
                    }
                }
            }
        }
        #expect(refunds > 0, "seed \(seed) made no refund")
        #expect(creditDrawn > 0, "seed \(seed) bought nothing on credit")
        #expect(kinds.isSuperset(of: ["lot", "paid", "fee"]), "seed \(seed) covered only \(kinds.sorted())")
        let run = try ToolRun.run(["verify", "--data", directory, "--json"])
        #expect(run.status == 0, "seed \(seed): \(run.summary)")
        let report = try #require((run.json["audit"] as? [String: Any])?["report"] as? [String: Any])
        #expect(ToolRun.integer(report["refunds"]) == refunds, "seed \(seed)")
        #expect(ToolRun.integer((report["refundedTotals"] as? [String: Any])?["USD"]) == Int(refunded), "seed \(seed)")
    }
}
