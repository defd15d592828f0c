/// A currency: an ISO 4217 code with its number of minor units, or one of Tally's token
/// currencies. Amounts are always integers in minor units.
public struct Currency: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let code: String

    /// ISO 4217 codes Tally accepts, with their minor units (cents in a dollar: 2).
    public static let iso4217: [String: Int] = [
        "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2,
        "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JPY": 0, "KRW": 0,
        "KWD": 3, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "PHP": 2, "PLN": 2, "RON": 2, "SEK": 2,
        "SGD": 2, "THB": 2, "TRY": 2, "TWD": 2, "USD": 2, "ZAR": 2,
    ]

    /// Tally's own token currencies (minor units 0): tokens not tied to one national currency.
    public static let tokenCurrencies: [String: Int] = ["XTK": 0]

    /// The currency with `code`, or nil when Tally does not know it.
    public init?(code: String) {
        guard Self.iso4217[code] != nil || Self.tokenCurrencies[code] != nil else { return nil }
        self.code = code
    }

    public var minorUnits: Int { Self.iso4217[code] ?? Self.tokenCurrencies[code] ?? 0 }
    public var description: String { code }

    public static func < (lhs: Currency, rhs: Currency) -> Bool { lhs.code < rhs.code }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let code = try container.decode(String.self)
        guard let currency = Currency(code: code) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown currency \(code)")
        }
        self = currency
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }

    public static let usd = Currency(code: "USD")!
    public static let eur = Currency(code: "EUR")!
}
