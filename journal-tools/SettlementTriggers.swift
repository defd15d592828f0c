import Ledger

/// Settlements held to their vendor's policy (claims 16, 30), with the whole history: a
/// settlement the ledger made on its own says why by the ledger's one rule
/// (``SettlementPolicy/trigger(amount:currency:lastSettledAt:time:)``): `threshold` when the
/// payable reached the currency's threshold, else `period` when the period since the
/// currency's last settlement (or the vendor's registration) has elapsed; one that neither
/// makes due can only be customer service's (`command`). The policy is the last
/// `VendorRegistered` or `VendorUpdated` that set it. Fails as `settlement-inconsistent` (27).
struct SettlementTriggers {
    private var policies: [String: SettlementPolicy] = [:]
    private var registeredAt: [String: UInt64] = [:]
    /// By vendor and currency: when it was last settled.
    private var settledAt: [String: UInt64] = [:]

    mutating func failure(_ event: LedgerEvent, at sequence: UInt64) -> AuditFailure? {
        switch event {
        case .vendorRegistered(let registered):
            policies[registered.vendor] = registered.settlement
            registeredAt[registered.vendor] = registered.timeMilliseconds
        case .vendorUpdated(let updated):
            if let settlement = updated.settlement { policies[updated.vendor] = settlement }
        case .vendorSettled(let settled):
            let key = settled.vendor + " " + settled.currency.code
            defer { settledAt[key] = settled.timeMilliseconds }
            // A vendor never registered is refused by the settlement checks before this.
            guard settled.trigger != .command, let policy = policies[settled.vendor],
                  let lastSettledAt = settledAt[key] ?? registeredAt[settled.vendor] else { return nil }
            let due = policy.trigger(amount: settled.amount, currency: settled.currency, lastSettledAt: lastSettledAt, time: settled.timeMilliseconds)
            guard due != settled.trigger else { return nil }
            let threshold = policy.threshold(for: settled.currency).map { "threshold \($0)" } ?? "no threshold"
            let period = policy.periodDue(after: lastSettledAt).map { "period due at \($0)" } ?? "no period"
            return AuditFailure(
                kind: .settlementInconsistent, sequence: sequence,
                message: "settlement of \(settled.vendor) says its \(settled.trigger.rawValue) made it due, but its policy (\(threshold), \(period)) "
                    + (due.map { "makes \(settled.amount) \(settled.currency.code) due by its \($0.rawValue) at \(settled.timeMilliseconds)" }
                       ?? "makes \(settled.amount) \(settled.currency.code) not due at \(settled.timeMilliseconds)"))
        default:
            break
        }
        return nil
    }
}
