/// One double-entry posting: `amount` minor units of `currency` move from the `debit` account
/// (its balance goes down) to the `credit` account (its balance goes up). An account's
/// balance is its credits minus its debits, so per currency the balances of all accounts sum
/// to zero, and an auditor recomputes every balance from postings alone.
public struct Posting: Sendable, Codable, Equatable {
    public let debit: String
    public let credit: String
    public let amount: Int64
    public let currency: Currency

    public init(debit: LedgerAccount, credit: LedgerAccount, amount: Int64) {
        precondition(debit.currency == credit.currency, "a posting moves one currency")
        precondition(amount > 0, "a posting moves a positive amount")
        self.debit = debit.name
        self.credit = credit.name
        self.amount = amount
        self.currency = debit.currency
    }
}
