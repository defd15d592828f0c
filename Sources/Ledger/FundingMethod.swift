/// How money reached Tally (claims 37–39). Offline methods stay pending until cleared.
public enum FundingMethod: String, Sendable, Codable, CaseIterable {
    case card, electronicCheck, electronicCurrency, bankDebit
    case check, moneyOrder, purchaseOrder, phone, isp, utility, mailedBill
    /// Tokens issued by the provider at its own discretion (promotions, corrections).
    case providerIssue

    public var isOffline: Bool {
        switch self {
        case .card, .electronicCheck, .electronicCurrency, .bankDebit, .providerIssue: return false
        case .check, .moneyOrder, .purchaseOrder, .phone, .isp, .utility, .mailedBill: return true
        }
    }
}
