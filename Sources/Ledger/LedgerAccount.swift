/// A ledger account. Its name is what postings and the write model record:
///
/// | kind | name |
/// |---|---|
/// | user wallet (one per currency) | `wallet:<user>:<CUR>` |
/// | held funds of authorised purchases | `holds:<user>:<CUR>` |
/// | offline funds not yet cleared | `pending:<user>:<CUR>` |
/// | credit line (negative: credit in use) | `credit:<user>:<CUR>` |
/// | tokens a user asked to be paid back, until paid or declined | `outgoing:<user>:<CUR>` |
/// | incentive lot | `lot:<lot>:<CUR>` |
/// | vendor payable | `vendor:<vendor>:<CUR>` |
/// | vendor dispute reserve | `reserve:<vendor>:<CUR>` |
/// | rights-holder payable | `holder:<holder>:<CUR>` |
/// | provider fee revenue | `fees:<CUR>` |
/// | provider incentive funding | `incentives:<issuer>:<CUR>` |
/// | funding clearing (money arriving, or paid back, by a method) | `funding:<method>:<CUR>` |
/// | settlement clearing (money paid out to vendors) | `settlement:<CUR>` |
public enum LedgerAccount: Hashable, Sendable {
    case wallet(user: String, currency: Currency)
    case holds(user: String, currency: Currency)
    case pending(user: String, currency: Currency)
    case creditLine(user: String, currency: Currency)
    case outgoing(user: String, currency: Currency)
    case incentiveLot(lot: String, currency: Currency)
    case vendorPayable(vendor: String, currency: Currency)
    case disputeReserve(vendor: String, currency: Currency)
    case rightsHolderPayable(holder: String, currency: Currency)
    case providerFeeRevenue(currency: Currency)
    case incentiveFunding(issuer: String, currency: Currency)
    case fundingClearing(method: FundingMethod, currency: Currency)
    case settlementClearing(currency: Currency)

    public var name: String {
        // Concatenation rather than interpolation: `\(currency)` goes through
        // CustomStringConvertible, which was measurable on the purchase path.
        switch self {
        case .wallet(let user, let currency): return "wallet:" + user + ":" + currency.code
        case .holds(let user, let currency): return "holds:" + user + ":" + currency.code
        case .pending(let user, let currency): return "pending:" + user + ":" + currency.code
        case .creditLine(let user, let currency): return "credit:" + user + ":" + currency.code
        case .outgoing(let user, let currency): return "outgoing:" + user + ":" + currency.code
        case .incentiveLot(let lot, let currency): return "lot:" + lot + ":" + currency.code
        case .vendorPayable(let vendor, let currency): return "vendor:" + vendor + ":" + currency.code
        case .disputeReserve(let vendor, let currency): return "reserve:" + vendor + ":" + currency.code
        case .rightsHolderPayable(let holder, let currency): return "holder:" + holder + ":" + currency.code
        case .providerFeeRevenue(let currency): return "fees:" + currency.code
        case .incentiveFunding(let issuer, let currency): return "incentives:" + issuer + ":" + currency.code
        case .fundingClearing(let method, let currency): return "funding:" + method.rawValue + ":" + currency.code
        case .settlementClearing(let currency): return "settlement:" + currency.code
        }
    }

    /// Where an incentive lot's tokens come from, and go back to when it expires: the
    /// provider's incentive funding, or the issuing vendor's payable (a vendor pays for its
    /// promotions out of what it has earned and not been paid).
    public static func incentiveSource(issuer: String, currency: Currency) -> LedgerAccount {
        issuer == "provider" ? .incentiveFunding(issuer: issuer, currency: currency) : .vendorPayable(vendor: issuer, currency: currency)
    }

    public var currency: Currency {
        switch self {
        case .wallet(_, let currency), .holds(_, let currency), .pending(_, let currency),
            .creditLine(_, let currency), .outgoing(_, let currency), .incentiveLot(_, let currency), .vendorPayable(_, let currency),
            .disputeReserve(_, let currency), .rightsHolderPayable(_, let currency),
            .providerFeeRevenue(let currency), .incentiveFunding(_, let currency),
            .fundingClearing(_, let currency), .settlementClearing(let currency):
            return currency
        }
    }
}
