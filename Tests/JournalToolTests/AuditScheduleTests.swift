import Foundation
import Journal
import Ledger
import TallyTestSupport
import Testing
@testable import journal_tool

/// The pipelined audit (chunks decoded on every core, accounts folded by index) is held to the
/// audit as it was before (``ReferenceAudit``) on random and broken variants of ledger
/// journals: the same report, the same first failure, the same balances at the snapshot.
@Suite("journal-tool verify: the pipelined audit answers as the one-event-at-a-time audit")
struct AuditScheduleTests {
    /// Real ledger events (every money path) and, after them, a synthetic stretch with many
    /// accounts and settlements, with the write model's balances.
    static func baseJournal() async throws -> (events: [(typeName: String, payload: [UInt8])], state: [String: [UInt8]]) {
        let raw = try RawJournal(try await Fixtures.shared.smallJournal())
        var events: [(typeName: String, payload: [UInt8])] = []
        for sequence in 1...(try raw.lastSequence()) {
            events.append(try raw.event(sequence))
        }
        var balances: [String: Int64] = [:]
        for (typeName, payload) in events {
            for posting in try LedgerEvent(typeName: typeName, payload: payload).postings {
                balances[posting.debit, default: 0] -= posting.amount
                balances[posting.credit, default: 0] += posting.amount
            }
        }
        var world = SyntheticLedger(users: 40, vendors: 6, time: 1_764_000_000_000)
        var setup = world.setupEvents()
        let settleEvery = 300
        for _ in 0..<1_500 {
            let sequence = UInt64(events.count + 1)
            let draft: EventDraft
            if !setup.isEmpty {
                draft = world.apply(setup.removeFirst(), at: sequence)
            } else if world.purchases > 0 && world.purchases % settleEvery == 0 && !world.settledAtThisCount {
                draft = world.settlement(at: sequence)
            } else {
                draft = world.purchase(at: sequence)
            }
            events.append((draft.typeName, draft.payload))
        }
        for (account, balance) in world.balances { balances[account, default: 0] += balance }
        var state: [String: [UInt8]] = [:]
        for (account, balance) in balances {
            state["bal/" + account] = withUnsafeBytes(of: balance.bigEndian) { Array($0) }
        }
        return (events, state)
    }

    /// One random change to the journal's events or write model; several may be applied.
    static func mutate(
        _ events: inout [(typeName: String, payload: [UInt8])], _ state: inout [String: [UInt8]], _ random: inout TestValues,
        kind chosen: Int? = nil
    ) {
        var index = random.below(events.count)
        let payments = events.indices.filter { ["PurchaseRefunded", "DisputeOpened", "DisputeResolved"].contains(events[$0].typeName) }
        let transfers = events.indices.filter { events[$0].typeName == "TokensTransferred" }
        let kind = chosen ?? random.below(14)
        // The refunds, disputes and transfers are a few events of many: aim at them.
        if kind == 10, !payments.isEmpty { index = random.pick(payments) }
        if kind == 11, !transfers.isEmpty { index = random.pick(transfers) }
        if kind == 12 {
            // Purchases and vendors' registrations and updates: the events that name sites.
            let sold = events.indices.filter { ["PurchaseCaptured", "PurchaseAuthorized", "VendorRegistered", "VendorUpdated"].contains(events[$0].typeName) }
            if !sold.isEmpty { index = random.pick(sold) }
        }
        var text = String(decoding: events[index].payload, as: UTF8.self)
        func replaceOne(_ pattern: String, _ make: (String) -> String) {
            guard let regex = try? NSRegularExpression(pattern: pattern) else { return }
            let matches = regex.matches(in: text, range: NSRange(text.startIndex..., in: text))
            guard !matches.isEmpty, let range = Range(random.pick(matches).range, in: text) else { return }
            text.replaceSubrange(range, with: make(String(text[range])))
        }
        switch kind {
        case 0:
            replaceOne(#""amount":-?[0-9]+"#) { match in
                let amount = Int64(match.dropFirst(9)) ?? 0
                let changed: Int64 = random.pick([amount &+ 1, amount &- 1, 0, 0 &- amount, 1 << 62, .max, random.signed()])
                return "\"amount\":\(changed)"
            }
        case 1:
            replaceOne(#":(USD|EUR)""#) { $0 == ":USD\"" ? ":EUR\"" : ":USD\"" }
        case 2:
            let accounts = ["wallet:alice:USD", "vendor:shop:USD", "holder:label:USD", "fees:USD", "wallet:u1:USD", "vendor:v2:USD",
                            "holder:h3:USD", "settlement:USD", "wallet:bob:EUR", "wallet:new-\(random.below(5)):USD"]
            replaceOne(#""(debit|credit)":"[^"]*""#) { match in
                (match.hasPrefix("\"debit\"") ? "\"debit\":\"" : "\"credit\":\"") + random.pick(accounts) + "\""
            }
        case 3:
            // The same account spelt with a precomposed and a decomposed é: equal as Swift
            // strings, different as bytes.
            replaceOne(#"label|h[0-9]\b"#) { _ in random.bool() ? "lab\u{e9}l" : "labe\u{301}l" }
        case 4:
            // A combining mark after a colon, and a Kelvin sign (canonically a K).
            replaceOne(#":"#) { _ in random.bool() ? ":\u{301}" : ":\u{212A}" }
        case 5:
            var bytes = Array(text.utf8)
            bytes.remove(at: random.below(bytes.count))
            events[index].payload = bytes
            return
        case 6:
            events.insert(events[index], at: random.below(events.count + 1))
            return
        case 7:
            if events.count > 2 { events.remove(at: index) }
            return
        case 8:
            // A huge amount posted again and again: a balance overflows.
            guard events[index].typeName == "FundsAdded" || events[index].typeName == "PurchaseCaptured" else { return }
            text = text.replacingOccurrences(of: #""amount":[0-9]+"#, with: "\"amount\":\(Int64(1) << 62)", options: .regularExpression)
            text = text.replacingOccurrences(of: #""fee":[0-9]+"#, with: "\"fee\":\(Int64(1) << 62)", options: .regularExpression)
            for _ in 0..<3 { events.insert((events[index].typeName, Array(text.utf8)), at: index) }
            return
        case 9:
            if let key = state.keys.sorted().randomElement(using: &random) {
                state[key] = random.bool() ? withUnsafeBytes(of: random.signed().bigEndian) { Array($0) } : [1, 2, 3]
            }
            return
        case 10:
            // A refund's amount or remainder, what a dispute disputes, or the purchase either names.
            replaceOne(#""(refunded|remaining|disputed)":[0-9]+|"transaction":"[^"]*""#) { match in
                if match.hasPrefix("\"transaction\"") {
                    return "\"transaction\":\"" + random.pick(["tx-1", "tx-999999", "t40"]) + "\""
                }
                let parts = match.split(separator: ":")
                let amount = Int64(parts[1]) ?? 0
                return parts[0] + ":" + String(random.pick([amount &+ 1, amount &- 1, 0, amount &* 2]))
            }
        case 12:
            // A purchase sold from another site, or a vendor's sites changed.
            replaceOne(#"(shop|news|v[0-9]+)\.example(\.org)?"#) { _ in
                random.pick(["evil.example", "shop.example", "news.example", "news.example.org", "v1.example", "v2.example"])
            }
        case 11:
            // A transfer of far more than the wallet holds, its postings still balanced.
            text = text.replacingOccurrences(of: #""amount":([0-9]+)"#, with: "\"amount\":$1000", options: .regularExpression)
        default:
            state["bal/wallet:stray-\(random.below(3)):USD"] = withUnsafeBytes(of: Int64(random.below(2)).bigEndian) { Array($0) }
            return
        }
        events[index].payload = Array(text.utf8)
    }

    static func encoded(_ report: LedgerAudit.Report) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    @Test("random and broken journals: every schedule gives the reference report", arguments: UInt64(1)...48)
    func randomJournals(_ seed: UInt64) async throws {
        var random = TestValues(seed: seed)
        var (events, state) = try await Self.baseJournal()
        for _ in 0..<(seed % 6 == 0 ? 0 : 1 + random.below(3)) {
            Self.mutate(&events, &state, &random)
        }
        let reader = MemoryJournalReader(events: events, state: state)
        let count = UInt64(events.count)
        let first: UInt64 = random.below(5) == 0 ? 1 + UInt64(random.below(Int(count))) : 1
        let last: UInt64 = random.below(4) == 0 ? first + UInt64(random.below(Int(count - first + 1))) : count
        let compareWriteModel = first == 1 && last == count
        let snapshotAt: UInt64? = first == 1 && random.bool() ? UInt64(random.below(Int(last) + 1)) : nil

        var reference = ReferenceAudit(reader: reader, first: first, last: last, compareWriteModel: compareWriteModel, snapshotAt: snapshotAt)
        let expected = try reference.run()
        let schedules: [LedgerAudit.Schedule] = [
            .pipelined, .oneByOne,
            LedgerAudit.Schedule(chunkEvents: 1 + random.below(40), pipelined: true, resolvesAccounts: true),
            LedgerAudit.Schedule(chunkEvents: 1 + random.below(600), pipelined: true, resolvesAccounts: true),
            LedgerAudit.Schedule(chunkEvents: 1 + random.below(600), pipelined: false, resolvesAccounts: true),
        ]
        for schedule in schedules {
            var audit = LedgerAudit(
                reader: reader, first: first, last: last, compareWriteModel: compareWriteModel, progress: nil, snapshotAt: snapshotAt,
                schedule: schedule)
            let report = try audit.run()
            #expect(report.failure == expected.failure, "seed \(seed), \(schedule)")
            #expect(try Self.encoded(report) == Self.encoded(expected), "seed \(seed), \(schedule)")
            #expect(audit.snapshot == reference.snapshot, "seed \(seed), \(schedule)")
        }
    }

    @Test("purchases sold from other sites, and vendors' sites changed, with chunks of every size: every schedule gives the reference report",
          arguments: UInt64(1)...16)
    func sitesChanged(_ seed: UInt64) async throws {
        var random = TestValues(seed: seed)
        var (events, state) = try await Self.baseJournal()
        for _ in 0..<(1 + random.below(3)) {
            Self.mutate(&events, &state, &random, kind: 12)
        }
        let reader = MemoryJournalReader(events: events, state: state)
        let count = UInt64(events.count)
        var reference = ReferenceAudit(reader: reader, first: 1, last: count, compareWriteModel: true, snapshotAt: nil)
        let expected = try reference.run()
        for chunkEvents in [1, 1 + random.below(40), 1 + random.below(600), LedgerAudit.chunkEvents] {
            var audit = LedgerAudit(
                reader: reader, first: 1, last: count, compareWriteModel: true, progress: nil,
                schedule: LedgerAudit.Schedule(chunkEvents: chunkEvents, pipelined: random.bool(), resolvesAccounts: true))
            let report = try audit.run()
            #expect(report.failure == expected.failure, "seed \(seed), chunks of \(chunkEvents)")
            #expect(try Self.encoded(report) == Self.encoded(expected), "seed \(seed), chunks of \(chunkEvents)")
        }
    }

    @Test("a capture's royalties and fee, and its postings' currencies, are judged as before on random captures",
          arguments: UInt64(1)...400)
    func captureChecks(_ seed: UInt64) async throws {
        var random = TestValues(seed: seed)
        let (events, _) = try await Self.baseJournal()
        let captures: [PurchaseCaptured] = try events.compactMap { typeName, payload in
            guard case .purchaseCaptured(let captured) = try LedgerEvent(typeName: typeName, payload: payload) else { return nil }
            return captured
        }
        var captured = random.pick(captures)
        let currency = captured.terms.currency
        // Holder names equal as strings but not as bytes (é precomposed or not), other scripts.
        let holders = ["label", "writer", "h1", "lab\u{e9}l", "labe\u{301}l", "\u{301}x", "\u{212A}", "K"]
        let accounts: [LedgerAccount] = holders.map { .rightsHolderPayable(holder: $0, currency: currency) }
            + [.providerFeeRevenue(currency: currency), .vendorPayable(vendor: captured.vendor, currency: currency)]
        for _ in 0..<(1 + random.below(3)) {
            switch random.below(6) {
            case 0:
                captured.royalties = random.list(most: 3) { random in
                    RoyaltyPayment(holder: random.pick(holders), amount: random.pick([0, 1, -1, 25, 90, .max]))
                }
            case 1:
                if !captured.royalties.isEmpty {
                    captured.royalties[random.below(captured.royalties.count)].amount &+= random.pick([1, -1, -100])
                }
            case 2:
                captured.fee = random.pick([0, -1, captured.fee, captured.fee &+ 1, .max])
            case 3:
                captured.postings.append(Posting(
                    debit: .vendorPayable(vendor: captured.vendor, currency: currency), credit: random.pick(accounts),
                    amount: random.pick([1, 25, 90, .max])))
            case 4:
                if !captured.postings.isEmpty { captured.postings.remove(at: random.below(captured.postings.count)) }
            default:
                captured.postings.shuffle(using: &random)
            }
        }
        let event = LedgerEvent.purchaseCaptured(captured)
        let expected = ReferenceAudit.captureFailure(event, at: 7)
        #expect(LedgerAudit.captureFailure(event, at: 7) == expected, "seed \(seed): \(captured.royalties) \(captured.fee) \(captured.postings)")
        #expect(LedgerAudit.postingsFailure(event, at: 7) == ReferenceAudit.postingsFailure(event, at: 7), "seed \(seed)")
    }

    @Test("the variants cover each kind of failure and valid journals")
    func coverage() async throws {
        let (base, baseState) = try await Self.baseJournal()
        var kinds: Set<String> = []
        for seed in UInt64(1)...48 {
            var random = TestValues(seed: seed)
            var events = base
            var state = baseState
            for _ in 0..<(seed % 6 == 0 ? 0 : 1 + random.below(3)) {
                Self.mutate(&events, &state, &random)
            }
            let reader = MemoryJournalReader(events: events, state: state)
            var reference = ReferenceAudit(
                reader: reader, first: 1, last: UInt64(events.count), compareWriteModel: true, snapshotAt: nil)
            kinds.insert(try reference.run().failure?.kind.rawValue ?? "valid")
        }
        #expect(kinds.isSuperset(of: ["valid", "undecodable-event", "unbalanced-postings", "balance-mismatch", "settlement-inconsistent",
                                      "refund-inconsistent", "balance-out-of-bounds", "purchase-inconsistent"]),
                "\(kinds.sorted())")
    }
}

/// Events and write-model entries in memory, read as a journal's storage (the audit reads
/// nothing else).
final class MemoryJournalReader: JournalStorageReader {
    let records: [[UInt8]]
    let state: [(key: [UInt8], value: [UInt8])]

    init(events: [(typeName: String, payload: [UInt8])], state: [String: [UInt8]]) {
        records = events.map { typeName, payload in
            var record = [UInt8](repeating: 0, count: 38) + Array(typeName.utf8) + payload
            record[32] = EventRecord.formatVersion
            record[33] = UInt8(typeName.utf8.count)
            withUnsafeBytes(of: UInt32(payload.count).bigEndian) { record.replaceSubrange(34..<38, with: $0) }
            return record
        }
        self.state = state.map { (Array($0.key.utf8), $0.value) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }

    func lastEventSequence() throws -> UInt64? { records.isEmpty ? nil : UInt64(records.count) }

    func withEventRecord<R>(at sequence: UInt64, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        guard sequence >= 1 && sequence <= records.count else { return try body(nil) }
        return try records[Int(sequence - 1)].withUnsafeBytes { try body($0) }
    }

    func forEachEventRecord(from sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        var sequence = max(sequence, 1)
        while sequence <= records.count {
            guard try records[Int(sequence - 1)].withUnsafeBytes({ try body(sequence, $0) }) else { return }
            sequence += 1
        }
    }

    func blockRecord(endingAtOrAfter sequence: UInt64) throws -> (key: UInt64, bytes: [UInt8])? { nil }
    func forEachBlockRecord(endingAtOrAfter sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {}
    func lastBlockRecord() throws -> (key: UInt64, bytes: [UInt8])? { nil }
    func keyRecords() throws -> [(keyID: UInt64, bytes: [UInt8])] { [] }
    func metadata(_ name: String) throws -> [UInt8]? { nil }

    func state(_ key: [UInt8]) throws -> [UInt8]? {
        state.first { $0.key == key }?.value
    }

    func forEachState(_ body: ([UInt8], [UInt8]) throws -> Bool) throws {
        for (key, value) in state where try !body(key, value) { return }
    }
}
