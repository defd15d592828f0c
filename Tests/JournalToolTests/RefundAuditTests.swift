import Ledger
import Testing
@testable import journal_tool

@Suite("journal-tool verify: refunds held against what was paid")
struct RefundAuditTests {
    /// Every kind of transaction ID the audit keys differently: the ledger's own created in the
    /// range (an array slot), created before it (an authorization captured later), past the
    /// range's end, and not made by the ledger (all hashed by name).
    static let identifiers = ["tx-12", "tx-5", "tx-99", "order-7", "tx-012"]

    @Test("partial refunds add up to the price, then nothing more goes back, whatever the ID", arguments: identifiers)
    func partialRefunds(_ transaction: String) {
        var audit = RefundAudit(first: 10, last: 50)
        #expect(audit.apply(.capture(transaction: transaction, currency: "USD", price: 250), at: 12) == nil)
        #expect(audit.apply(.refund(transaction: transaction, amount: 100, remaining: 150, what: "the refund"), at: 13) == nil)
        #expect(audit.apply(.dispute(transaction: transaction, disputed: 150, what: "dispute d"), at: 14) == nil)
        #expect(audit.apply(.refund(transaction: transaction, amount: 150, remaining: nil, what: "dispute d"), at: 15) == nil)
        #expect(audit.checked == 2)
        #expect(audit.refundedTotals == ["USD": 250])
        let again = audit.apply(.refund(transaction: transaction, amount: 1, remaining: 0, what: "the refund"), at: 16)
        #expect(again?.kind == .refundInconsistent)
        #expect(again?.sequence == 16)
        #expect(again?.message.contains("whose buyer pays only 0") == true, "\(String(describing: again))")
        let disputed = audit.apply(.dispute(transaction: transaction, disputed: nil, what: "dispute e"), at: 17)
        #expect(disputed?.message.contains("whole price went back already") == true)
        let twice = audit.apply(.capture(transaction: transaction, currency: "USD", price: 5), at: 18)
        #expect(twice?.message.contains("captured a second time") == true)
    }

    @Test("a remainder that is not the price less the refund, or a whole refund of part, is refused")
    func remainders() {
        var audit = RefundAudit(first: 1, last: 50)
        #expect(audit.apply(.capture(transaction: "tx-3", currency: "EUR", price: 900), at: 3) == nil)
        #expect(audit.apply(.refund(transaction: "tx-3", amount: 300, remaining: 601, what: "the refund"), at: 4)?.message
            .contains("says 601 remains to be paid, but 900 less 300 is 600") == true)
        #expect(audit.apply(.refund(transaction: "tx-3", amount: 300, remaining: nil, what: "dispute d"), at: 5)?.message
            .contains("says 0 remains to be paid, but 900 less 300 is 600") == true)
        #expect(audit.apply(.refund(transaction: "tx-3", amount: 901, remaining: 0, what: "the refund"), at: 6)?.message
            .contains("whose buyer pays only 900") == true)
        #expect(audit.apply(.dispute(transaction: "tx-3", disputed: 899, what: "dispute d"), at: 6)?.message
            .contains("says it disputes 899 of tx-3, whose buyer still pays 900") == true)
        #expect(audit.apply(.dispute(transaction: "tx-3", disputed: 900, what: "dispute d"), at: 6) == nil)
        // Rejected steps changed nothing: the whole price still goes back in one refund.
        #expect(audit.apply(.refund(transaction: "tx-3", amount: 900, remaining: 0, what: "the refund"), at: 7) == nil)
        #expect(audit.note == nil)
    }

    @Test("a purchase never captured: refused with the whole history, counted as unchecked in a range")
    func neverCaptured() {
        var whole = RefundAudit(first: 1, last: 50)
        #expect(whole.apply(.refund(transaction: "tx-4", amount: 1, remaining: 0, what: "the refund"), at: 9)?.message
            .contains("which was never captured") == true)
        #expect(whole.apply(.dispute(transaction: "order-1", disputed: nil, what: "dispute d"), at: 9)?.message.contains("which was never captured") == true)

        var range = RefundAudit(first: 20, last: 50)
        #expect(range.apply(.refund(transaction: "tx-4", amount: 1, remaining: 0, what: "the refund"), at: 21) == nil)
        #expect(range.apply(.dispute(transaction: "tx-5", disputed: 7, what: "dispute d"), at: 22) == nil)
        #expect(range.checked == 0)
        #expect(range.note == "2 refunds or disputes of purchases captured before the range were not checked against what was paid")
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
    }
}
