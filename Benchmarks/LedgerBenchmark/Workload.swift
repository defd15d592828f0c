import BenchmarkSupport
import Ledger

// The standard purchase workload (/work/shared/bench/WORKLOAD.md) as ledger commands: the world
// every run starts from and the purchases. The generator, the rounding rule and the cross-check
// totals are BenchmarkSupport's (`StandardWorkload`), shared with the HTTP load generator.

/// One purchase of the timed phase, as drawn.
struct Purchase {
    var user: Int
    var vendor: Int
    var price: Int64
}

/// Integer totals of the workload: what the ledger must hold after the timed phase.
typealias Totals = WorkloadTotals

extension WorkloadTotals {
    var summary: String {
        "users_spent=\(grouped(usersSpent)) vendors_net=\(grouped(vendorsNet)) fees=\(grouped(fees)) royalties=\(grouped(royalties))"
    }

    func addJSON(to line: inout JSONLine) {
        line.add("users_spent", usersSpent)
        line.add("vendors_net", vendorsNet)
        line.add("fees", fees)
        line.add("royalties", royalties)
    }
}

struct Workload {
    var users: Int
    var vendors: Int
    var purchases: Int
    var seed: UInt64
    var initial: Int64
    var currency: Currency

    /// Fee and royalty shares every vendor and content item carries (fee = price*5/100,
    /// royalty = price*10/100, both rounded down).
    static let feeBasisPoints = StandardWorkload.feeBasisPoints
    static let royaltyBasisPoints = StandardWorkload.royaltyBasisPoints
    /// Prices are 1 ... maxPrice.
    static let maxPrice = StandardWorkload.maxPrice

    /// True when these are WORKLOAD.md's defaults, whose totals are known.
    var isDefault: Bool {
        StandardWorkload.isDefault(users: users, vendors: vendors, purchases: purchases, seed: seed, initial: initial, currency: currency.code)
    }

    func userID(_ index: Int) -> String { "u\(index)" }
    func vendorID(_ index: Int) -> String { "v\(index)" }
    func holderID(_ index: Int) -> String { "h\(index)" }
    /// Each vendor sells one catalog item per price: `p<price>`.
    func contentID(price: Int64) -> String { "p\(price)" }

    /// The N purchases, in order `i = 0 ..< N`.
    func draw() -> [Purchase] {
        var purchases: [Purchase] = []
        purchases.reserveCapacity(self.purchases)
        StandardWorkload.draw(seed: seed, users: users, vendors: vendors, count: self.purchases) { user, vendor, price in
            purchases.append(Purchase(user: user, vendor: vendor, price: price))
        }
        return purchases
    }

    /// The totals the purchases must produce if all are accepted, computed independently of
    /// the ledger (integer arithmetic, rounding down).
    func expectedTotals(_ purchases: [Purchase]) -> Totals {
        var totals = Totals()
        for purchase in purchases { totals.add(price: purchase.price) }
        return totals
    }

    // MARK: Commands

    func terms(vendor index: Int, price: Int64) -> ContentTerms {
        ContentTerms(
            content: contentID(price: price), title: "Article at \(price)", price: price, currency: currency,
            url: "https://\(vendorID(index)).example/articles/\(price)",
            royalties: [RoyaltyShare(holder: holderID(index), basisPoints: Self.royaltyBasisPoints)])
    }

    /// Vendors, each with its catalog (one item per price), in dependency order.
    func vendorCommands() -> [LedgerCommand] {
        var commands: [LedgerCommand] = []
        for index in 0..<vendors {
            commands.append(.registerVendor(
                vendor: vendorID(index), name: "Vendor \(index)", sites: ["https://\(vendorID(index)).example/"],
                feeBasisPoints: Self.feeBasisPoints, settlement: SettlementPolicy(periodSeconds: 86_400)))
            for price in 1...Self.maxPrice {
                commands.append(.registerContent(vendor: vendorID(index), terms: terms(vendor: index, price: price)))
            }
        }
        return commands
    }

    /// One user's account, USD wallet and initial funds (by card: cleared at once).
    func userCommands(_ index: Int) -> [LedgerCommand] {
        let user = userID(index)
        return [
            .openAccount(user: user, channel: .providerSite),
            .openWallet(user: user, currency: currency),
            .addFunds(funding: "f\(index)", user: user, currency: currency, amount: initial, method: .card),
        ]
    }

    /// The whole world, in dependency order.
    func worldCommands() -> [LedgerCommand] {
        var commands = vendorCommands()
        commands.reserveCapacity(commands.count + 3 * users)
        for index in 0..<users { commands += userCommands(index) }
        return commands
    }

    enum ContentMode: String {
        /// The vendor's catalog item at that price (`.catalog("p<price>")`).
        case catalog
        /// The same terms sent inline with each purchase (checked on every purchase).
        case inline
    }

    func command(_ purchase: Purchase, content: ContentMode) -> LedgerCommand {
        let reference: ContentReference = switch content {
        case .catalog: .catalog(contentID(price: purchase.price))
        case .inline: .inline(terms(vendor: purchase.vendor, price: purchase.price))
        }
        return .purchase(user: userID(purchase.user), vendor: vendorID(purchase.vendor), content: reference)
    }

    /// The totals read back from a write model: users' spending (initial funds minus what is
    /// left), vendor payables, provider fees and rights-holder payables.
    func totals(in state: LedgerState) throws -> Totals {
        var totals = Totals()
        for index in 0..<users {
            totals.usersSpent += initial - (try state.balance(.wallet(user: userID(index), currency: currency)))
        }
        for index in 0..<vendors {
            totals.vendorsNet += try state.balance(.vendorPayable(vendor: vendorID(index), currency: currency))
            totals.royalties += try state.balance(.rightsHolderPayable(holder: holderID(index), currency: currency))
        }
        totals.fees = try state.balance(.providerFeeRevenue(currency: currency))
        return totals
    }
}
