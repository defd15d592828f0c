import ArgumentParser
import Foundation
import Journal
import LMDB
import Ledger

/// `journal-tool generate` (hidden): writes a large, valid ledger journal quickly, for the
/// benchmarks of Benchmarks/README.md. The events are real ledger events (they decode as
/// ``LedgerEvent`` and their postings balance): vendors, users with funded wallets, then
/// one-step purchases (5 % fee, 10 % royalty) with a settlement now and then, appended in
/// requests of `--block-events` events (one block each). The write model holds the balances
/// (`bal/<account>`), exactly as the postings give them; it does not hold the ledger's other
/// records, because the events are written without the ledger's decider (which is far slower).
/// Never for real use.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write a large synthetic ledger journal for benchmarks (never for real use).",
        shouldDisplay: false
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(help: "Events to write in all.") var events: Int = 1_000_000
    @Option(help: "Events per request (one block each), at most 10000.") var blockEvents: Int = 10_000
    @Option(help: "Users.") var users: Int = 10_000
    @Option(help: "Vendors.") var vendors: Int = 100
    @Option(help: "A settlement every this many purchases.") var settleEvery: Int = 5_000

    func validate() throws {
        guard blockEvents >= 1 && blockEvents <= JournalLimits.requestEventsMax else {
            throw ValidationError("--block-events must be 1...\(JournalLimits.requestEventsMax)")
        }
        guard users >= 1, vendors >= 1, settleEvery >= 1, events >= 1 else { throw ValidationError("counts must be positive") }
    }

    func run() async throws {
        if FileSystem.exists(data.journalPath) {
            throw ToolExit.usage("\(data.journalPath) exists; generate needs a new data directory")
        }
        var configuration = Journal.Configuration(directory: data.directoryPath)
        configuration.logger.logLevel = .warning
        configuration.mapSize = 1 << 34
        let start = UInt64(1_764_000_000_000)
        configuration.clock = { start }
        let journal = try Journal.open(configuration)
        defer { journal.close() }
        // Marked as of this build's layout, so that a server started on it serves at once
        // (with the partial write model described above) instead of folding it afresh.
        _ = try Ledger.upgradeWriteModel(journal.storage)

        var world = SyntheticLedger(users: users, vendors: vendors, time: start)
        let progress = ToolProgress.onTerminal("generate", first: 1, last: UInt64(events))
        var written = 0
        var setup = world.setupEvents()
        while written < events {
            var drafts: [EventDraft] = []
            drafts.reserveCapacity(blockEvents)
            let next = UInt64(written + 1)
            while drafts.count < blockEvents && written + drafts.count < events {
                let sequence = next + UInt64(drafts.count)
                if !setup.isEmpty {
                    drafts.append(world.apply(setup.removeFirst(), at: sequence))
                } else if world.purchases > 0 && world.purchases % settleEvery == 0 && !world.settledAtThisCount {
                    drafts.append(world.settlement(at: sequence))
                } else {
                    drafts.append(world.purchase(at: sequence))
                }
            }
            let changes = world.takeChangedBalances()
            let effect = JournalEffect(events: drafts, stateChanges: changes, outcome: ())
            let expected = next
            let commit = try await journal.write(maxEvents: drafts.count) { context in
                precondition(context.nextSequence == expected, "generate must be the journal's only writer")
                return effect
            }
            written += drafts.count
            progress?.update(commit.sequences?.upperBound ?? UInt64(written))
        }
        progress?.finish()
        print("generated \(written) events in \(data.directoryPath): \(world.purchases) purchases, \(world.settlements) settlements")
    }
}

/// The synthetic world of ``GenerateCommand``: event payloads written as JSON text in the
/// ledger's own layout (keys sorted, as the ledger's encoder writes them), with the balances
/// kept beside them.
struct SyntheticLedger {
    enum Setup {
        case vendor(Int)
        case account(Int)
        case wallet(Int)
        case funds(Int)
    }

    let users: Int
    let vendors: Int
    /// The time of the first event; each later event is 10 s after the one before, so that
    /// the ledger's 30-day spending windows stay as short as a real journal's.
    let start: UInt64
    var time: UInt64
    var balances: [String: Int64] = [:]
    var changed: Set<String> = []
    var settledThrough: [Int: UInt64] = [:]
    var purchases = 0
    var settlements = 0
    var settledAtThisCount = false
    var random = SplitMix(state: 42)
    /// Each user starts with this many cents.
    static let initialFunds: Int64 = 1_000_000_000

    init(users: Int, vendors: Int, time: UInt64) {
        self.users = users
        self.vendors = vendors
        self.start = time
        self.time = time
    }

    mutating func tick(_ sequence: UInt64) {
        time = start + sequence * 10_000
    }

    func setupEvents() -> [Setup] {
        (0..<vendors).map { .vendor($0) } + (0..<users).flatMap { [Setup.account($0), .wallet($0), .funds($0)] }
    }

    mutating func post(_ debit: String, _ credit: String, _ amount: Int64) -> String {
        balances[debit, default: 0] -= amount
        balances[credit, default: 0] += amount
        changed.insert(debit)
        changed.insert(credit)
        return #"{"amount":\#(amount),"credit":"\#(credit)","currency":"USD","debit":"\#(debit)"}"#
    }

    mutating func apply(_ setup: Setup, at sequence: UInt64) -> EventDraft {
        tick(sequence)
        switch setup {
        case .vendor(let vendor):
            settledThrough[vendor] = sequence
            return draft("VendorRegistered", #"{"feeBasisPoints":500,"name":"Vendor \#(vendor)","settlement":{"periodSeconds":86400,"thresholdAmount":1000000},"sites":["https://v\#(vendor).example/"],"timeMilliseconds":\#(time),"vendor":"v\#(vendor)"}"#)
        case .account(let user):
            return draft("AccountOpened", #"{"channel":"providerSite","timeMilliseconds":\#(time),"user":"u\#(user)"}"#)
        case .wallet(let user):
            return draft("WalletOpened", #"{"currency":"USD","timeMilliseconds":\#(time),"user":"u\#(user)"}"#)
        case .funds(let user):
            let posting = post("funding:card:USD", "wallet:u\(user):USD", Self.initialFunds)
            return draft("FundsAdded", #"{"amount":\#(Self.initialFunds),"currency":"USD","funding":"f\#(user)","method":"card","pending":false,"postings":[\#(posting)],"timeMilliseconds":\#(time),"user":"u\#(user)"}"#)
        }
    }

    mutating func purchase(at sequence: UInt64) -> EventDraft {
        tick(sequence)
        let user = Int(random.next() % UInt64(users))
        let vendor = Int(random.next() % UInt64(vendors))
        let price = Int64(random.next() % 500) + 1
        let fee = price * 500 / 10_000
        let royalty = price * 1000 / 10_000
        let wallet = "wallet:u\(user):USD"
        let payable = "vendor:v\(vendor):USD"
        var postings = [post(wallet, payable, price)]
        if fee > 0 { postings.append(post(payable, "fees:USD", fee)) }
        if royalty > 0 { postings.append(post(payable, "holder:h\(vendor):USD", royalty)) }
        purchases += 1
        settledAtThisCount = false
        let terms = #"{"access":{"views":3},"content":"p\#(price)","currency":"USD","description":"","incentiveIDs":[],"price":\#(price),"royalties":[{"basisPoints":1000,"holder":"h\#(vendor)"}],"title":"Item \#(price)","url":"https://v\#(vendor).example/p\#(price)"}"#
        return draft("PurchaseCaptured", #"{"entitlement":{"views":3},"fee":\#(fee),"oneStep":true,"postings":[\#(postings.joined(separator: ","))],"rounding":"\#(royaltyRoundingRule)","royalties":[{"amount":\#(royalty),"holder":"h\#(vendor)"}],"sources":[{"account":"\#(wallet)","amount":\#(price)}],"terms":\#(terms),"timeMilliseconds":\#(time),"transaction":"tx-\#(sequence)","user":"u\#(user)","vendor":"v\#(vendor)"}"#)
    }

    mutating func settlement(at sequence: UInt64) -> EventDraft {
        tick(sequence)
        settledAtThisCount = true
        // The vendor with the largest payable.
        let vendor = (0..<vendors).max { balances["vendor:v\($0):USD", default: 0] < balances["vendor:v\($1):USD", default: 0] }!
        let payable = "vendor:v\(vendor):USD"
        let amount = balances[payable, default: 0]
        guard amount > 0 else { return purchase(at: sequence) }
        let posting = post(payable, "settlement:USD", amount)
        let from = settledThrough[vendor]! + 1
        settledThrough[vendor] = sequence - 1
        settlements += 1
        return draft("VendorSettled", #"{"amount":\#(amount),"coversFromSequence":\#(from),"coversThroughSequence":\#(sequence - 1),"currency":"USD","postings":[\#(posting)],"timeMilliseconds":\#(time),"trigger":"command","vendor":"v\#(vendor)"}"#)
    }

    func draft(_ typeName: String, _ json: String) -> EventDraft {
        EventDraft(typeName: typeName, payload: Array(json.utf8))
    }

    /// The balances changed since the last call, as write-model changes.
    mutating func takeChangedBalances() -> [StateChange] {
        defer { changed.removeAll(keepingCapacity: true) }
        return changed.sorted().map { account in
            .put(key: Array("bal/\(account)".utf8), value: withUnsafeBytes(of: balances[account, default: 0].bigEndian) { Array($0) })
        }
    }
}

/// splitmix64: a small, seeded generator, so that a generated journal is repeatable.
struct SplitMix {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
