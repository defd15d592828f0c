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

    /// A posting between accounts whose names are already built (the purchase path builds
    /// each name once). The same checks as `init(debit:credit:amount:)`.
    init(debitName: String, creditName: String, amount: Int64, currency: Currency) {
        precondition(amount > 0, "a posting moves a positive amount")
        precondition(debitName.hasSuffix(":" + currency.code) && creditName.hasSuffix(":" + currency.code), "a posting moves one currency")
        self.debit = debitName
        self.credit = creditName
        self.amount = amount
        self.currency = currency
    }

    /// Decoding checks what the initialiser guarantees: a stored posting with a non-positive
    /// amount, or accounts of another currency, is refused rather than folded.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        debit = try container.decode(String.self, forKey: .debit)
        credit = try container.decode(String.self, forKey: .credit)
        amount = try container.decode(Int64.self, forKey: .amount)
        currency = try container.decode(Currency.self, forKey: .currency)
        guard amount > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .amount, in: container, debugDescription: "a posting moves a positive amount")
        }
        guard debit.hasSuffix(":" + currency.code), credit.hasSuffix(":" + currency.code), debit != credit else {
            throw DecodingError.dataCorruptedError(
                forKey: .currency, in: container, debugDescription: "a posting moves one currency between two accounts of it")
        }
    }
}
