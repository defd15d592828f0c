import Foundation
import Journal
import LMDB
import Ledger
import PropertyBased
import TallyTestSupport
import Testing
@testable import Projections

/// The binary layouts of the read-model records (schema 2): every kind round-trips, with its
/// optionals present and absent; damaged bytes are refused with an error, never a trap; the
/// canonical dump prints each record as the sorted-keys JSON that schema 1 stored.
@Suite("Read-model record codec")
struct RecordCodecTests {
    static let payment = RoyaltyPayment(holder: "label", amount: 12)

    // MARK: Samples

    static var walletsFull: WalletsView {
        WalletsView(
            user: "alice", status: "open", channel: .vendorLink, referringVendor: "shop", representative: "rep-1",
            openedAtMilliseconds: 1_764_000_000_000,
            members: [MemberView(member: "m1", active: true), MemberView(member: "m2", active: false)],
            wallets: [
                WalletView(currency: .eur, opened: false, balance: -5, held: 0, pending: 7, creditLimit: 0, creditInUse: 0, incentives: 3),
                WalletView(currency: .usd, opened: true, balance: .max, held: .min, pending: 1, creditLimit: 500, creditInUse: 20, incentives: 0),
            ],
            lots: [
                LotView(lot: "l1", currency: .usd, issuer: "provider", balance: 30, expiresAtMilliseconds: .max,
                        vendors: ["shop", "other"], expired: false),
                LotView(lot: "l2", currency: .eur, issuer: "shop", balance: 0, expiresAtMilliseconds: 0, vendors: [], expired: true),
            ],
            spendingLimits: [
                SpendingLimit(kind: .perVendorMonth, currency: .usd, amount: 1_000, member: "m1", vendor: "shop"),
                SpendingLimit(kind: .perDay, currency: .eur, amount: 50),
            ],
            updatedAtSequence: 42)
    }

    static var walletsMinimal: WalletsView {
        WalletsView(
            user: "u", status: "open", channel: .providerSite, referringVendor: nil, representative: nil,
            openedAtMilliseconds: 0, members: [], wallets: [],
            lots: [LotView(lot: "l", currency: .usd, issuer: "p", balance: 1, expiresAtMilliseconds: nil, vendors: nil, expired: false)],
            spendingLimits: [], updatedAtSequence: 0)
    }

    static var vendorFull: VendorSettlementView {
        VendorSettlementView(
            vendor: "shop", name: "Shop — ünïcode ✓", feeBasisPoints: 500,
            policy: SettlementPolicy(thresholdAmount: 10_000, periodSeconds: 86_400, currencyThresholds: ["JPY": 100_000, "EUR": 5_000]),
            registeredAtMilliseconds: 1, lastSettledAtMilliseconds: 2,
            currencies: [
                VendorCurrencySettlement(
                    currency: .eur, earned: 1, fees: 2, royalties: 3, refunded: 4, referralRewards: -5, reserved: 6,
                    settled: 7, unsettled: -8, settlements: 9, lastSettledSequence: 10, lastSettledAtMilliseconds: 11,
                    nextDue: SettlementDue(thresholdAmount: 10_000, remainingToThreshold: 0, periodDueAtMilliseconds: 12)),
                VendorCurrencySettlement(
                    currency: .usd, earned: .max, fees: .min, royalties: 0, refunded: 0, referralRewards: 0, reserved: 0,
                    settled: 0, unsettled: 0, settlements: 0, lastSettledSequence: nil, lastSettledAtMilliseconds: nil,
                    nextDue: SettlementDue(thresholdAmount: nil, remainingToThreshold: nil, periodDueAtMilliseconds: nil)),
            ])
    }

    static var vendorMinimal: VendorSettlementView {
        VendorSettlementView(
            vendor: "v", name: "", feeBasisPoints: 0, policy: SettlementPolicy(), registeredAtMilliseconds: 0,
            lastSettledAtMilliseconds: 0, currencies: [])
    }

    static var purchaseFull: PurchaseView {
        PurchaseView(
            transaction: "tx-9", user: "alice", member: "m1", vendor: "shop", content: "song-1", title: "A \"song\"",
            url: "https://shop.example/songs/1", price: 100, currency: .usd, amount: 100, status: .disputed,
            voidReason: "expired", access: AccessTerms(views: 3, hours: -1, days: Int.max, expiresAtMilliseconds: .max),
            remaining: EntitlementRemaining(views: 3, hours: 0, days: Int.min, expiresAtMilliseconds: 5),
            fee: 5, royalties: [payment, payment], purchasedAtMilliseconds: 1, capturedAtMilliseconds: 2,
            sequence: 3, updatedAtSequence: 4)
    }

    static var purchaseMinimal: PurchaseView {
        PurchaseView(
            transaction: "t", user: "u", member: nil, vendor: "v", content: "c", title: "", url: "", price: 0,
            currency: .eur, amount: 0, status: .authorized, voidReason: nil, access: AccessTerms(), remaining: nil,
            fee: nil, royalties: nil, purchasedAtMilliseconds: 0, capturedAtMilliseconds: nil, sequence: 1, updatedAtSequence: 1)
    }

    static var purchaseEmptyRemaining: PurchaseView {
        var view = purchaseMinimal
        view.remaining = EntitlementRemaining()
        view.royalties = []
        view.status = .refunded
        return view
    }

    static let totals = [
        RoyaltyCurrencyTotal(currency: .eur, paid: 10, reversed: 2, balance: -3),
        RoyaltyCurrencyTotal(currency: .usd, paid: .max, reversed: 0, balance: .min),
    ]

    static let entries = [
        RoyaltyEntry(sequence: 7, timeMilliseconds: 8, transaction: "tx-7", vendor: "shop", currency: .usd, amount: 10),
        RoyaltyEntry(sequence: 7, timeMilliseconds: 8, transaction: "tx-7", vendor: "shop", currency: .usd, amount: -10),
    ]

    static let fundingFull = FundingCase(
        funding: "chk-1", user: "alice", currency: .usd, amount: .max, method: .check, throughVendor: "shop", status: .cleared,
        addedAtMilliseconds: 1, settledAtMilliseconds: .max, sequence: 2, updatedAtSequence: 3)
    static let fundingMinimal = FundingCase(
        funding: "f", user: "u", currency: .eur, amount: 0, method: .card, throughVendor: nil, status: .completed,
        addedAtMilliseconds: 0, settledAtMilliseconds: nil, sequence: 1, updatedAtSequence: 1)
    static let payout = PayoutCase(
        payout: "p-1", user: "alice", currency: .usd, amount: .max, method: .bankDebit, representative: "rep-1",
        returnedAtMilliseconds: .max, sequence: 9)
    static let disputeFull = DisputeCase(
        dispute: "d-1", transaction: "tx-9", user: "alice", vendor: "shop", currency: .usd, price: 100, disputed: 60, reserved: 85,
        unauthorized: true, reason: "never \"arrived\"", status: .refunded, decidedBy: "rule", representative: "rep-1",
        refunded: 100, openedAtMilliseconds: 1, resolvedAtMilliseconds: 2, sequence: 3, updatedAtSequence: 4)
    static let disputeMinimal = DisputeCase(
        dispute: "d", transaction: "t", user: "u", vendor: "v", currency: .eur, price: 0, disputed: .max, reserved: .min, unauthorized: false,
        reason: "", status: .open, decidedBy: nil, representative: nil, refunded: nil, openedAtMilliseconds: 0,
        resolvedAtMilliseconds: nil, sequence: 1, updatedAtSequence: 1)

    /// Every sample, encoded, with a check that its bytes decode to it again.
    static var samples: [(name: String, bytes: [UInt8], roundTrips: ([UInt8]) throws -> Bool)] {
        func sample<R: ViewRecord & Equatable>(_ name: String, _ value: R) -> (String, [UInt8], ([UInt8]) throws -> Bool) {
            (name, value.binaryBytes, { try R.decodeBinary($0) == value })
        }
        return [
            sample("wallets full", walletsFull), sample("wallets minimal", walletsMinimal),
            sample("lot owner", "alice"), sample("lot owner empty", ""),
            sample("vendor full", vendorFull), sample("vendor minimal", vendorMinimal),
            sample("purchase full", purchaseFull), sample("purchase minimal", purchaseMinimal),
            sample("purchase empty remaining", purchaseEmptyRemaining),
            sample("royalty totals", totals), sample("royalty totals empty", [RoyaltyCurrencyTotal]()),
            sample("royalty entries", entries), sample("royalty entries empty", [RoyaltyEntry]()),
            sample("funding full", fundingFull), sample("funding minimal", fundingMinimal),
            sample("dispute full", disputeFull), sample("dispute minimal", disputeMinimal),
            sample("payout", payout),
        ]
    }

    // MARK: Round trips

    @Test("every record kind round-trips, with its optionals present and absent")
    func roundTrips() throws {
        for sample in Self.samples {
            #expect(try sample.roundTrips(sample.bytes), "\(sample.name)")
        }
        // Present and absent optionals give different bytes (nothing is dropped silently).
        #expect(Self.walletsFull.binaryBytes != Self.walletsMinimal.binaryBytes)
        #expect(Self.purchaseMinimal.binaryBytes != Self.purchaseEmptyRemaining.binaryBytes)
        #expect(Self.fundingFull.binaryBytes != Self.fundingMinimal.binaryBytes)
        #expect(Self.disputeFull.binaryBytes != Self.disputeMinimal.binaryBytes)
    }

    @Test("each kind has its own tag, and the bytes are a function of the value")
    func tags() {
        #expect(Self.walletsFull.binaryBytes.first == 0xB1)
        #expect("x".binaryBytes.first == 0xB2)
        #expect(Self.vendorFull.binaryBytes.first == 0xB7, "thresholds by currency: 0xB3's fields, then them")
        var withoutThresholds = Self.vendorFull
        withoutThresholds.policy.currencyThresholds = nil
        #expect(withoutThresholds.binaryBytes.first == 0xB3)
        #expect(Self.purchaseFull.binaryBytes.first == 0xB4)
        #expect(Self.totals.binaryBytes.first == 0xB5)
        #expect(Self.entries.binaryBytes.first == 0xB6)
        #expect(Self.fundingFull.binaryBytes.first == 0xBA)
        #expect(Self.disputeFull.binaryBytes.first == 0xBB)
        #expect(Self.payout.binaryBytes.first == 0xBC)
        #expect(Self.purchaseFull.binaryBytes == Self.purchaseFull.binaryBytes)
    }

    // MARK: Strictness

    @Test("every truncation of every record is refused")
    func truncated() {
        for sample in Self.samples {
            for length in 0..<sample.bytes.count {
                #expect(throws: RecordCodingError.self, "\(sample.name) cut to \(length)") {
                    _ = try sample.roundTrips(Array(sample.bytes.prefix(length)))
                }
            }
        }
    }

    @Test("bytes after a record are refused")
    func trailing() {
        for sample in Self.samples {
            for extra: [UInt8] in [[0], [1], [0xFF, 0xFF]] {
                #expect(throws: RecordCodingError.self, "\(sample.name) + \(extra)") {
                    _ = try sample.roundTrips(sample.bytes + extra)
                }
            }
        }
    }

    @Test("another kind's tag, an unknown tag, and schema 1's JSON are refused")
    func wrongTag() throws {
        let wallets = Self.walletsFull.binaryBytes
        for tag: UInt8 in [0x00, 0xA1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, UInt8(ascii: "{")] {
            #expect(throws: RecordCodingError.self) { _ = try WalletsView.decodeBinary([tag] + wallets.dropFirst()) }
        }
        // A record of another kind, whole.
        #expect(throws: RecordCodingError.self) { _ = try WalletsView.decodeBinary(Self.purchaseFull.binaryBytes) }
        #expect(throws: RecordCodingError.self) { _ = try [RoyaltyEntry].decodeBinary(Self.totals.binaryBytes) }
        // What schema 1 stored.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(throws: RecordCodingError.self) { _ = try WalletsView.decodeBinary(Array(try encoder.encode(Self.walletsFull))) }
        #expect(throws: RecordCodingError.self) { _ = try String.decodeBinary(Array(try encoder.encode("alice"))) }
        #expect(throws: RecordCodingError.self) { _ = try [RoyaltyEntry].decodeBinary(Array(try encoder.encode(Self.entries))) }
    }

    @Test("an unknown currency, enum value, boolean or presence byte is refused")
    func invalidValues() throws {
        func reason(_ bytes: [UInt8], as decode: ([UInt8]) throws -> Void) -> String? {
            do {
                try decode(bytes)
                return nil
            } catch let error as RecordCodingError {
                return error.reason
            } catch {
                return "unexpected \(error)"
            }
        }
        // A string that is not UTF-8 (a lot owner, then a user inside a purchase).
        var owner = "alice".binaryBytes
        owner[owner.count - 1] = 0xFF
        #expect(reason(owner) { _ = try String.decodeBinary($0) } == "a string is not UTF-8")
        #expect(reason(Array(owner.dropLast()) + [0xC3]) { _ = try String.decodeBinary($0) } == "a string is not UTF-8")
        // Currency.
        var writer = ByteWriter(tag: 0xB5)
        writer.unsigned(1)
        writer.string("ZZZ")
        writer.signed(1); writer.signed(2); writer.signed(3)
        #expect(reason(writer.bytes) { _ = try [RoyaltyCurrencyTotal].decodeBinary($0) } == "unknown currency ZZZ")

        // The account channel.
        writer = ByteWriter(tag: 0xB1)
        writer.string("alice"); writer.string("open"); writer.string("byCarrierPigeon")
        #expect(reason(writer.bytes) { _ = try WalletsView.decodeBinary($0) }?.contains("AccountChannel") == true)

        // The purchase status.
        writer = ByteWriter(tag: 0xB4)
        for text in ["t", "u"] { writer.string(text) }
        writer.optionalString(nil)
        for text in ["v", "c", "title", "url"] { writer.string(text) }
        writer.signed(1); writer.string("USD"); writer.signed(1); writer.string("lost")
        #expect(reason(writer.bytes) { _ = try PurchaseView.decodeBinary($0) }?.contains("PurchaseStatus") == true)

        // A spending-limit kind.
        var wallets = Self.walletsMinimal
        wallets.spendingLimits = [SpendingLimit(kind: .perWeek, currency: .usd, amount: 1)]
        var bytes = wallets.binaryBytes
        let perWeek = Array("perWeek".utf8), bogus = Array("perYeek".utf8)
        let at = try #require(Self.find(perWeek, in: bytes))
        bytes.replaceSubrange(at..<(at + perWeek.count), with: bogus)
        #expect(reason(bytes) { _ = try WalletsView.decodeBinary($0) }?.contains("Kind") == true)

        // A boolean that is neither 0 nor 1 (the member's `active`).
        wallets = Self.walletsMinimal
        wallets.lots = []
        wallets.members = [MemberView(member: "m", active: true)]
        bytes = wallets.binaryBytes
        let member = try #require(Self.find([1, UInt8(ascii: "m"), 1], in: bytes))
        bytes[member + 2] = 2
        #expect(reason(bytes) { _ = try WalletsView.decodeBinary($0) } == "bad boolean")

        // A presence byte that is neither 0 nor 1 (the purchase's member).
        bytes = Self.purchaseMinimal.binaryBytes
        #expect(bytes[5] == 0)  // tag, "t", "u", then the member's presence
        bytes[5] = 7
        #expect(reason(bytes) { _ = try PurchaseView.decodeBinary($0) } == "bad presence byte")

        // A count larger than the record.
        writer = ByteWriter(tag: 0xB6)
        writer.unsigned(1_000_000)
        #expect(reason(writer.bytes) { _ = try [RoyaltyEntry].decodeBinary($0) } == "count beyond the record")
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    // MARK: The dump

    @Test("the dump prints each record as the sorted-keys JSON schema 1 stored")
    func dumpText() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func json<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        #expect(try ViewRecordDump.json(prefix: "user/alice", Self.walletsFull.binaryBytes, encoder) == json(Self.walletsFull))
        #expect(try ViewRecordDump.json(prefix: "lot/l1", "alice".binaryBytes, encoder) == json("alice"))
        #expect(try ViewRecordDump.json(prefix: "vendor/shop", Self.vendorFull.binaryBytes, encoder) == json(Self.vendorFull))
        #expect(try ViewRecordDump.json(prefix: "txn/tx-9", Self.purchaseFull.binaryBytes, encoder) == json(Self.purchaseFull))
        #expect(try ViewRecordDump.json(prefix: "txn/t", Self.purchaseMinimal.binaryBytes, encoder) == json(Self.purchaseMinimal))
        #expect(try ViewRecordDump.json(prefix: "rs/label", Self.totals.binaryBytes, encoder) == json(Self.totals))
        #expect(try ViewRecordDump.json(prefix: "re/label", Self.entries.binaryBytes, encoder) == json(Self.entries))
        #expect(try ViewRecordDump.json(prefix: "fund/chk-1", Self.fundingFull.binaryBytes, encoder) == json(Self.fundingFull))
        #expect(try ViewRecordDump.json(prefix: "dsp/d-1", Self.disputeFull.binaryBytes, encoder) == json(Self.disputeFull))
        #expect(try ViewRecordDump.json(prefix: "pay/p-1", Self.payout.binaryBytes, encoder) == json(Self.payout))
        #expect(try ViewRecordDump.json(prefix: "open/funds", Array("chk-1".utf8), encoder) == nil)
        #expect(try ViewRecordDump.json(prefix: "pu/alice", Array("tx-1".utf8), encoder) == nil)
        #expect(throws: MalformedRecord.self) { _ = try ViewRecordDump.json(prefix: "user/alice", [0xB1], encoder) }
    }

    // MARK: Property

    @Test("random records of every kind round-trip, print as their JSON, refuse their truncations, and survive damage")
    func randomRoundTrips() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...Int.max)) { seed in
            var random = TestValues(seed: UInt64(seed))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            func check<R: ViewRecord & Equatable>(_ value: R, _ prefix: String) throws {
                let bytes = value.binaryBytes
                #expect(try R.decodeBinary(bytes) == value)
                #expect(try ViewRecordDump.json(prefix: prefix, bytes, encoder) == String(decoding: try encoder.encode(value), as: UTF8.self))
                #expect(throws: RecordCodingError.self) { _ = try R.decodeBinary(Array(bytes.dropLast())) }
                #expect(throws: RecordCodingError.self) { _ = try R.decodeBinary(bytes + [0]) }
                // A stored record with bytes changed is refused or read as some record, never a
                // trap: what it reads as writes and reads back the same.
                for _ in 0..<8 {
                    if let read = try? R.decodeBinary(random.damaged(bytes, significant: Array(0...255))) {
                        #expect(try R.decodeBinary(read.binaryBytes) == read)
                    }
                }
            }
            do {
                try check(random.wallets(), "user/x")
                try check(random.text(), "lot/x")
                try check(random.vendor(), "vendor/x")
                try check(random.purchase(), "txn/x")
                try check(random.totals(), "rs/x")
                try check(random.entries(), "re/x")
                try check(random.funding(), "fund/x")
                try check(random.dispute(), "dsp/x")
            } catch {
                Issue.record("seed \(seed): \(error)")
            }
        }
    }

    // MARK: In the fold and the readers

    /// The live slot of the projections.
    static func liveSlot(_ projections: Projections) throws -> Database {
        try projections.environment.read { transaction in
            let pointer = try #require(try transaction.get(projections.meta, key: Keys.bytes("live")).flatMap(Projections.parseSlotPointer))
            return projections.slots[pointer.slot]
        }
    }

    @Test("a damaged stored record stops the fold with a failure naming it, and readers report an error")
    func damagedRecord() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.givenShopAndAlice()
        try fixture.projections.catchUp()
        let good = fixture.journal.head
        let projections = fixture.projections
        let slot = try Self.liveSlot(projections)
        var bytes = try #require(try projections.environment.read { try $0.get(slot, key: Keys.bytes("user/alice")) })
        bytes.removeLast()
        try projections.environment.write { try $0.put(slot, key: Keys.bytes("user/alice"), value: bytes) }

        #expect(throws: MalformedRecord.self) { _ = try projections.read { try $0.wallets(user: "alice") } }
        #expect(throws: MalformedRecord.self) { _ = try projections.canonicalDump() }

        try await fixture.run(.addMember(user: "alice", member: "m1"))
        #expect(try projections.catchUp() == good)
        let failure = try #require(projections.status.failure)
        #expect(failure.sequence == good + 1)
        #expect(failure.reason.contains("user/alice"))
    }

    @Test("a slot of schema 3 (no customer-service cases) is folded again from the start and gains its cases and queues")
    func schemaThreeFoldedAgain() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.givenShopAndAlice()
        try await fixture.run(.addFunds(funding: "chk-1", user: "alice", currency: .usd, amount: 500, method: .check))
        try fixture.projections.catchUp()
        let expected = try fixture.projections.canonicalDump()
        #expect(expected.contains("open/funds#"))

        // Make the live slot look as schema 3 left it: no case records, no queues.
        let projections = fixture.projections
        let slot = try Self.liveSlot(projections)
        try projections.environment.write { transaction in
            var keys: [[UInt8]] = []
            try transaction.withCursor(slot) { cursor in
                var positioned = try cursor.first()
                while positioned {
                    let key = Array(cursor.key)
                    if ["fund/", "dsp/", "open/", "ckpt/cases"].contains(where: { key.starts(with: Keys.bytes($0)) }) { keys.append(key) }
                    positioned = try cursor.next()
                }
            }
            for key in keys { try transaction.delete(slot, key: key) }
            try transaction.put(slot, key: Keys.schema, value: Integers.encode(UInt64(3)))
        }
        #expect(try projections.read { try $0.pendingFundings() }.fundings.isEmpty)

        try fixture.reopenProjections()
        #expect(fixture.projections.status.sequence == 0)
        #expect(try fixture.projections.catchUp() == fixture.journal.head)
        #expect(try fixture.projections.canonicalDump() == expected)
        #expect(try fixture.projections.read { try $0.pendingFundings() }.fundings.map(\.funding) == ["chk-1"])
    }

    @Test("a slot of schema 1 (JSON records) is folded again from the start in the binary layout")
    func schemaOneFoldedAgain() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.givenShopAndAlice()
        try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(ProjectionFixture.terms())))
        try fixture.projections.catchUp()
        let expected = try fixture.projections.canonicalDump()

        // Make the live slot look as schema 1 left it: its schema key, and JSON records.
        let projections = fixture.projections
        let slot = try Self.liveSlot(projections)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try projections.environment.write { transaction in
            let wallets = try WalletsView.decodeBinary(try #require(try transaction.get(slot, key: Keys.bytes("user/alice"))))
            try transaction.put(slot, key: Keys.bytes("user/alice"), value: Array(try encoder.encode(wallets)))
            try transaction.put(slot, key: Keys.schema, value: Integers.encode(UInt64(1)))
        }
        #expect(throws: MalformedRecord.self) { _ = try projections.read { try $0.wallets(user: "alice") } }

        try fixture.reopenProjections()
        #expect(fixture.projections.status.sequence == 0)
        #expect(try fixture.projections.catchUp() == fixture.journal.head)
        #expect(try fixture.projections.canonicalDump() == expected)
        #expect(expected.contains("schema = \(Projections.schemaVersion)\n"))
        #expect(try fixture.projections.read { try $0.wallets(user: "alice") }?.user == "alice")
    }
}

/// A random value of every record kind.
extension TestValues {
    mutating func currency() -> Currency { pick([Currency.usd, .eur, Currency(code: "XTK")!, Currency(code: "JPY")!]) }

    mutating func wallets() -> WalletsView {
        WalletsView(
            user: text(), status: text(), channel: pick(AccountChannel.allCases), referringVendor: maybe { $0.text() },
            representative: maybe { $0.text() }, openedAtMilliseconds: unsigned(),
            members: list { MemberView(member: $0.text(), active: $0.bool()) },
            wallets: list {
                WalletView(currency: $0.currency(), opened: $0.bool(), balance: $0.signed(), held: $0.signed(), pending: $0.signed(),
                           creditLimit: $0.signed(), creditInUse: $0.signed(), incentives: $0.signed(), outgoing: $0.signed())
            },
            lots: list {
                LotView(lot: $0.text(), currency: $0.currency(), issuer: $0.text(), balance: $0.signed(),
                        expiresAtMilliseconds: $0.maybe { $0.unsigned() }, vendors: $0.maybe { $0.list { $0.text() } }, expired: $0.bool())
            },
            spendingLimits: list {
                SpendingLimit(kind: $0.pick(SpendingLimit.Kind.allCases), currency: $0.currency(), amount: $0.signed(),
                              member: $0.maybe { $0.text() }, vendor: $0.maybe { $0.text() })
            },
            updatedAtSequence: unsigned())
    }

    mutating func funding() -> FundingCase {
        FundingCase(
            funding: text(), user: text(), currency: currency(), amount: signed(), method: pick(FundingMethod.allCases),
            throughVendor: maybe { $0.text() }, status: pick([FundingStatus.completed, .pending, .cleared, .failed]),
            addedAtMilliseconds: unsigned(), settledAtMilliseconds: maybe { $0.unsigned() }, sequence: unsigned(),
            updatedAtSequence: unsigned())
    }

    mutating func dispute() -> DisputeCase {
        DisputeCase(
            dispute: text(), transaction: text(), user: text(), vendor: text(), currency: currency(), price: signed(),
            disputed: signed(), reserved: signed(), unauthorized: bool(), reason: text(), status: pick([DisputeStatus.open, .refunded, .rejected]),
            decidedBy: maybe { $0.text() }, representative: maybe { $0.text() }, refunded: maybe { $0.signed() },
            openedAtMilliseconds: unsigned(), resolvedAtMilliseconds: maybe { $0.unsigned() }, sequence: unsigned(),
            updatedAtSequence: unsigned())
    }

    mutating func vendor() -> VendorSettlementView {
        VendorSettlementView(
            vendor: text(), name: text(), feeBasisPoints: signed(),
            policy: SettlementPolicy(
                thresholdAmount: maybe { $0.signed() }, periodSeconds: maybe { $0.unsigned() },
                currencyThresholds: maybe { values in
                    let pairs = values.list { ($0.currency().code, $0.signed()) }
                    return pairs.isEmpty ? ["USD": 1] : Dictionary(pairs, uniquingKeysWith: { first, _ in first })
                }),
            registeredAtMilliseconds: unsigned(), lastSettledAtMilliseconds: unsigned(),
            currencies: list {
                VendorCurrencySettlement(
                    currency: $0.currency(), earned: $0.signed(), fees: $0.signed(), royalties: $0.signed(), refunded: $0.signed(),
                    referralRewards: $0.signed(), reserved: $0.signed(), settled: $0.signed(), unsettled: $0.signed(),
                    settlements: $0.signed(), lastSettledSequence: $0.maybe { $0.unsigned() },
                    lastSettledAtMilliseconds: $0.maybe { $0.unsigned() },
                    nextDue: SettlementDue(thresholdAmount: $0.maybe { $0.signed() }, remainingToThreshold: $0.maybe { $0.signed() },
                                           periodDueAtMilliseconds: $0.maybe { $0.unsigned() }))
            })
    }

    mutating func purchase() -> PurchaseView {
        PurchaseView(
            transaction: text(), user: text(), member: maybe { $0.text() }, vendor: text(), content: text(), title: text(),
            url: text(), price: signed(), currency: currency(), amount: signed(),
            status: pick([PurchaseStatus.authorized, .captured, .voided, .refunded, .disputed]), voidReason: maybe { $0.text() },
            access: AccessTerms(views: maybe { $0.int() }, hours: maybe { $0.int() }, days: maybe { $0.int() },
                                expiresAtMilliseconds: maybe { $0.unsigned() }),
            remaining: maybe {
                EntitlementRemaining(views: $0.maybe { $0.int() }, hours: $0.maybe { $0.int() }, days: $0.maybe { $0.int() },
                                     expiresAtMilliseconds: $0.maybe { $0.unsigned() })
            },
            fee: maybe { $0.signed() },
            royalties: maybe {
                $0.list {
                    RoyaltyPayment(holder: $0.text(), amount: $0.signed())
                }
            },
            purchasedAtMilliseconds: unsigned(), capturedAtMilliseconds: maybe { $0.unsigned() }, sequence: unsigned(),
            updatedAtSequence: unsigned())
    }

    mutating func totals() -> [RoyaltyCurrencyTotal] {
        list { RoyaltyCurrencyTotal(currency: $0.currency(), paid: $0.signed(), reversed: $0.signed(), balance: $0.signed()) }
    }

    mutating func entries() -> [RoyaltyEntry] {
        list {
            RoyaltyEntry(sequence: $0.unsigned(), timeMilliseconds: $0.unsigned(), transaction: $0.text(), vendor: $0.text(),
                         currency: $0.currency(), amount: $0.signed())
        }
    }
}
