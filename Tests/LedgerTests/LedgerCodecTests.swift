import Foundation
import Journal
import Testing
import TallyTestSupport
@testable import Ledger

/// The binary write-model records, the spending log and the hand-written JSON of the purchase
/// events and request digests: each round-trips, reads what the JSON layout wrote before it,
/// and matches what Foundation's coders produce.
@Suite("Ledger codecs")
struct LedgerCodecTests {
    static let odd = "sl/ash \"quote\" back\\slash tab\t nl\n ctl\u{01} é ünï 🎵"

    static func terms(_ variant: Int) -> ContentTerms {
        ContentTerms(
            content: "c-\(variant)", title: variant % 2 == 0 ? odd : "Title", price: Int64(1 + variant * 997),
            currency: variant % 3 == 0 ? .eur : .usd, description: variant % 2 == 0 ? "" : odd,
            url: "https://shop.example/items/\(variant)?q=\"x\"",
            access: AccessTerms(
                views: variant % 2 == 0 ? 3 : nil, hours: variant % 3 == 0 ? 48 : nil, days: variant % 5 == 0 ? 7 : nil,
                expiresAtMilliseconds: variant % 4 == 0 ? 1_764_000_000_000 + UInt64(variant) : nil),
            incentiveIDs: variant % 2 == 0 ? ["promo", "gift-\(variant)"] : [],
            royalties: (0..<(variant % 4)).map { RoyaltyShare(holder: "h\($0)", basisPoints: Int64(100 * ($0 + 1))) })
    }

    static func roundTrip<T: BinaryRecord & Equatable>(_ value: T) throws {
        let bytes = value.binaryBytes
        #expect(bytes.first == value.layoutTag && T.tags.contains(value.layoutTag))
        #expect(try T.decodeStored(bytes) == value)
        // A value stored as JSON before the binary layout still reads.
        let json = Array(try LedgerEvent.encoder.encode(value))
        #expect(try T.decodeStored(json) == value)
        // Truncated bytes are refused, never misread.
        for cut in [1, bytes.count / 2, bytes.count - 1] where cut < bytes.count {
            #expect(throws: (any Error).self) { try T.decodeStored(Array(bytes[..<cut])) }
        }
        // Bytes changed anywhere are refused or read as some record, never a trap: what they
        // read as writes and reads back the same.
        var random = TestValues(seed: UInt64(bytes.count) &* 0x9E37_79B9 &+ UInt64(value.layoutTag))
        for _ in 0..<300 {
            if let read = try? T.decodeStored(random.damaged(bytes, significant: Array(0...255))) {
                #expect(try T.decodeStored(read.binaryBytes) == read)
            }
        }
    }

    @Test("user, vendor, content, transaction and idempotency records round-trip in binary and still read JSON")
    func records() throws {
        for variant in 0..<12 {
            let members: [String: Bool] = Dictionary(uniqueKeysWithValues: (0..<(variant % 4)).map { ("m\($0)", $0 % 2 == 0) })
            let wallets: [Currency] = variant % 2 == 0 ? [.usd, .eur] : [.usd]
            let creditLimits: [String: Int64] = variant % 2 == 0 ? ["USD": 500, "EUR": Int64.max] : [:]
            var limits: [SpendingLimit] = []
            for index in 0..<(variant % 3) {
                let kind = SpendingLimit.Kind.allCases[index % 5]
                let member: String? = index == 1 ? "m0" : nil
                let vendor: String? = index == 2 ? "shop" : nil
                limits.append(SpendingLimit(kind: kind, currency: .usd, amount: Int64(100 * (index + 1)), member: member, vendor: vendor))
            }
            let referring: String? = variant % 3 == 1 ? "shop" : nil
            let representative: String? = variant % 3 == 2 ? Self.odd : nil
            let user = UserRecord(
                channel: AccountChannel.allCases[variant % 3], referringVendor: referring, representative: representative,
                members: members, wallets: wallets, creditLimits: creditLimits, limits: limits,
                openedAtMilliseconds: UInt64(variant) * 1_000_000_007)
            try Self.roundTrip(user)
            try Self.roundTrip(VendorRecord(
                name: Self.odd, sites: ["https://a.example/", "http://b.example/x/"], feeBasisPoints: Int64(variant * 100),
                settlement: SettlementPolicy(
                    thresholdAmount: variant % 2 == 0 ? 10_000 : nil, periodSeconds: variant % 3 == 0 ? nil : 86_400,
                    currencyThresholds: variant % 4 == 1 ? ["JPY": 100_000, "EUR": 5_000, "KWD": Int64.max] : nil),
                lastSettledAtMilliseconds: UInt64.max - UInt64(variant), settledThroughSequence: UInt64(variant)))
            try Self.roundTrip(Self.terms(variant))
            try Self.roundTrip(TransactionRecord(
                user: "u\(variant)", member: variant % 2 == 0 ? "kid" : nil, vendor: "shop", terms: Self.terms(variant),
                status: [.held, .captured, .voided, .expired, .disputed, .refunded][variant % 6],
                holdExpiresAtMilliseconds: variant % 2 == 0 ? 123 : nil,
                sources: [FundingSource(account: "wallet:u\(variant):USD", amount: Int64(-variant)), FundingSource(account: "lot:x:USD", amount: 7)],
                fee: variant % 3 == 0 ? nil : Int64(variant), royalties: variant % 3 == 0 ? nil : [RoyaltyPayment(holder: "h", amount: Int64.min)]))
            try Self.roundTrip(IdempotencyRecord(requestDigest: String(repeating: "ab", count: 32), sequence: UInt64(variant) << 40))
        }
    }

    @Test("dictionaries are written sorted, so equal records give equal bytes")
    func deterministic() {
        var members: [String: Bool] = [:]
        var reversed: [String: Bool] = [:]
        for index in 0..<50 { members["m\(index)"] = true }
        for index in (0..<50).reversed() { reversed["m\(index)"] = true }
        let first = UserRecord(channel: .providerSite, members: members, wallets: [.usd], creditLimits: [:], limits: [], openedAtMilliseconds: 1)
        let second = UserRecord(channel: .providerSite, members: reversed, wallets: [.usd], creditLimits: [:], limits: [], openedAtMilliseconds: 1)
        #expect(first.binaryBytes == second.binaryBytes)
    }

    @Test("the spending log keeps exactly what the JSON list kept: entries after the 30-day horizon, in order")
    func spendingLog() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var reference: [SpendEntry] = []
            var stored: [UInt8]? = nil
            var time: UInt64 = 40 * 86_400_000
            for step in 0..<60 {
                // Mostly forward in time, sometimes backward (an injected clock may do that).
                time = UInt64(Int64(time) + Int64.random(in: -86_400_000...(5 * 86_400_000), using: &generator))
                let entry = SpendEntry(
                    timeMilliseconds: time, amount: Int64.random(in: 1...1_000, using: &generator),
                    // Now and then a name that is not ASCII (dropping then decodes the log).
                    vendor: step % 17 == 16 ? "vé\(step % 3)" : "v\(step % 3)",
                    member: step % 4 == 0 ? "kid" : nil,
                    // Server-created IDs are stored as their sequence; anything else as text.
                    transaction: ["tx-\(step)", "tx-0\(step)", "tx-", "tx-+\(step)", "x\(step)", "tx-\(UInt64.max)"][step % 6])
                let horizon = time > LedgerFold.spendRetentionMilliseconds ? time - LedgerFold.spendRetentionMilliseconds : 0
                reference.removeAll { $0.timeMilliseconds <= horizon }
                reference.append(entry)
                stored = try SpendLog.adding(entry, to: stored, horizon: horizon)
                #expect(try SpendLog.decode(stored!) == reference)
                #expect(stored! == SpendLog.encode(reference), "the appended log has the bytes of a fresh encoding")
            }
        }
        // The in-place drop (`SpendLog.dropping`) gives what decoding, dropping and encoding
        // give; it leaves to the decoder a log with a name that is not ASCII, or a damaged one.
        var log: [SpendEntry] = []
        for step in 0..<40 {
            let transaction = step % 5 == 0 ? "custom-\(step)" : "tx-\(step)"
            let time = UInt64(step) * 86_400_000
            log.append(SpendEntry(timeMilliseconds: time, amount: Int64(step + 1), vendor: "v\(step % 3)", member: step % 2 == 0 ? "kid" : nil, transaction: transaction))
        }
        let following = SpendEntry(timeMilliseconds: 41 * 86_400_000, amount: 7, vendor: "v1", member: nil, transaction: "tx-41")
        for horizon: UInt64 in [0, 3 * 86_400_000 + 1, 39 * 86_400_000, 40 * 86_400_000] {
            let dropped = try #require(SpendLog.dropping(through: horizon, from: SpendLog.encode(log), adding: following))
            #expect(dropped == SpendLog.encode(log.filter { $0.timeMilliseconds > horizon } + [following]), "horizon \(horizon)")
        }
        var accented = log
        accented[3].vendor = "vé"
        #expect(SpendLog.dropping(through: 86_400_000, from: SpendLog.encode(accented), adding: following) == nil)
        #expect(try SpendLog.adding(following, to: SpendLog.encode(accented), horizon: 86_400_000)
            == SpendLog.encode(accented.filter { $0.timeMilliseconds > 86_400_000 } + [following]))
        var damaged = SpendLog.encode(log)
        damaged.removeLast()
        #expect(SpendLog.dropping(through: 86_400_000, from: damaged, adding: following) == nil)
        #expect(throws: RecordCodingError.self) { try SpendLog.adding(following, to: damaged, horizon: 86_400_000) }
        // Bytes changed anywhere, never a trap. A log that still decodes (a changed amount, a
        // letter of a name) is one adding treats as what it decodes to; one that does not may be
        // refused, or (appending leaves the stored entries unread) carried on as it is.
        var random = TestValues(seed: 7)
        var decodable = 0
        for round in 0..<3_000 {
            let changed = random.damaged(SpendLog.encode(log), significant: Array(0...255))
            let entries = try? SpendLog.decode(changed)
            for horizon: UInt64 in [0, 20 * 86_400_000] {
                let added = try? SpendLog.adding(following, to: changed, horizon: horizon)
                guard let entries else { continue }
                decodable += 1
                let expected = entries.filter { $0.timeMilliseconds > horizon } + [following]
                #expect(try added.map(SpendLog.decode) == expected, "round \(round), horizon \(horizon)")
            }
        }
        #expect(decodable > 100)
        // A header that does not match the entries is refused: a changed first time would move
        // every entry's time, a changed smallest time would keep old entries from being dropped.
        let clean = SpendLog.encode(log)
        for offset in [1, 8, 9, 16] {
            var changed = clean
            changed[offset] ^= 0x01
            #expect(throws: RecordCodingError.self, "header byte \(offset)") { try SpendLog.decode(changed) }
            // Adding with a drop reads the times too: it refuses the log rather than write the
            // moved times back under a header of its own. (A smallest time changed to one after
            // the horizon, byte 16, takes the append path, which reads no entry: the log is
            // carried on as it is, and decoding it still refuses it.)
            #expect(SpendLog.dropping(through: 20 * 86_400_000, from: changed, adding: following) == nil, "header byte \(offset)")
            if offset != 16 {
                #expect(throws: RecordCodingError.self, "header byte \(offset)") {
                    try SpendLog.adding(following, to: changed, horizon: 20 * 86_400_000)
                }
            } else {
                #expect(throws: RecordCodingError.self) { try SpendLog.decode(try SpendLog.adding(following, to: changed, horizon: 20 * 86_400_000)) }
            }
        }
        // The first entry's time is the base: a first delta that is not 0 is refused too.
        var moved = SpendLog.encode([following])
        moved[SpendLog.headerBytes] = 2   // zigzag(+1)
        #expect(throws: RecordCodingError.self) { try SpendLog.decode(moved) }
        #expect(SpendLog.dropping(through: 0, from: moved, adding: following) == nil)

        // The first binary layout (tag 0xA6: absolute times, transactions as text) still reads,
        // and is rewritten in the current layout on the next purchase.
        let first = [SpendEntry(timeMilliseconds: 70 * 86_400_000, amount: 9, vendor: "v", member: "m", transaction: "tx-12"),
                     SpendEntry(timeMilliseconds: 5, amount: 1, vendor: "w", member: nil, transaction: "custom")]
        var writer = ByteWriter(tag: SpendLog.firstLayoutTag)
        withUnsafeBytes(of: UInt64(5).littleEndian) { writer.bytes.append(contentsOf: $0) }
        for entry in first {
            writer.unsigned(entry.timeMilliseconds)
            writer.signed(entry.amount)
            writer.string(entry.vendor)
            writer.optionalString(entry.member)
            writer.string(entry.transaction)
        }
        #expect(try SpendLog.decode(writer.bytes) == first)
        let later = SpendEntry(timeMilliseconds: 71 * 86_400_000, amount: 4, vendor: "v", member: nil, transaction: "tx-13")
        let rewritten = try SpendLog.adding(later, to: writer.bytes, horizon: 41 * 86_400_000)
        #expect(rewritten.first == RecordTag.spending)
        #expect(try SpendLog.decode(rewritten) == [first[0], later])

        // A JSON list from before the binary log converts on the next purchase.
        let old = [SpendEntry(timeMilliseconds: 5, amount: 1, vendor: "v", member: nil, transaction: "tx-1"),
                   SpendEntry(timeMilliseconds: 90 * 86_400_000, amount: 2, vendor: "v", member: "m", transaction: "tx-2")]
        let json = Array(try LedgerEvent.encoder.encode(old))
        #expect(try SpendLog.decode(json) == old)
        let next = SpendEntry(timeMilliseconds: 91 * 86_400_000, amount: 3, vendor: "w", member: nil, transaction: "tx-3")
        let converted = try SpendLog.adding(next, to: json, horizon: 61 * 86_400_000)
        #expect(try SpendLog.decode(converted) == [old[1], next])
    }

    static func captured(_ variant: Int) -> PurchaseCaptured {
        let terms = terms(variant)
        return PurchaseCaptured(
            transaction: "tx-\(variant)", user: "u\(variant)", member: variant % 2 == 0 ? Self.odd : nil, vendor: "shop",
            terms: terms, oneStep: variant % 2 == 0,
            sources: [FundingSource(account: "wallet:u\(variant):\(terms.currency)", amount: terms.price)],
            fee: Int64(variant), royalties: [RoyaltyPayment(holder: "h0", amount: 0), RoyaltyPayment(holder: "h1", amount: 12)],
            rounding: royaltyRoundingRule, entitlement: terms.access,
            postings: [Posting(debit: .wallet(user: "u\(variant)", currency: terms.currency),
                               credit: .vendorPayable(vendor: "shop", currency: terms.currency), amount: terms.price)],
            idempotency: variant % 3 == 0 ? nil : IdempotencyMark(vendor: "shop", key: "k/\(variant)\"", requestDigest: "ff"),
            timeMilliseconds: 1_764_000_000_000 + UInt64(variant))
    }

    /// The two payloads are the same JSON document (compared as parsed objects).
    static func sameDocument(_ lhs: [UInt8], _ rhs: Data) throws -> Bool {
        let left = try JSONSerialization.jsonObject(with: Data(lhs)) as! NSDictionary
        let right = try JSONSerialization.jsonObject(with: rhs) as! NSDictionary
        return left.isEqual(right)
    }

    @Test("hand-written PurchaseCaptured and PurchaseAuthorized JSON decode to the same event and equal JSONEncoder's document")
    func purchaseEvents() throws {
        for variant in 0..<12 {
            let event = Self.captured(variant)
            let draft = try LedgerEvent.purchaseCaptured(event).draft()
            #expect(draft.typeName == "PurchaseCaptured")
            #expect(try LedgerEvent(typeName: draft.typeName, payload: draft.payload) == .purchaseCaptured(event))
            #expect(try Self.sameDocument(draft.payload, try LedgerEvent.encoder.encode(event)))

            let authorized = PurchaseAuthorized(
                transaction: event.transaction, user: event.user, member: event.member, vendor: event.vendor, terms: event.terms,
                holdExpiresAtMilliseconds: UInt64(variant) * 60_000, sources: event.sources,
                postings: [Posting(debit: .wallet(user: event.user, currency: event.terms.currency),
                                   credit: .holds(user: event.user, currency: event.terms.currency), amount: event.terms.price)],
                idempotency: event.idempotency, timeMilliseconds: event.timeMilliseconds)
            let held = try LedgerEvent.purchaseAuthorized(authorized).draft()
            #expect(try LedgerEvent(typeName: held.typeName, payload: held.payload) == .purchaseAuthorized(authorized))
            #expect(try Self.sameDocument(held.payload, try LedgerEvent.encoder.encode(authorized)))
        }
    }

    @Test("the writer's layout is read member by member without the general loop, and anything else falls back to it")
    func writerLayout() throws {
        func layoutOnly<T>(_ payload: [UInt8], _ read: (inout JSONCursor) throws(JSONReadError) -> T?) throws -> T? {
            try JSONCursor.read(payload) { (cursor: inout JSONCursor) throws(JSONReadError) -> T? in
                let value = try cursor.inWriterLayout(read)
                if value == nil {
                    // Back where it began; the rest is for the general loop, which is not asked here.
                    #expect(cursor.index == 0 && cursor.depth == 0)
                    cursor.index = cursor.bytes.count
                }
                return value
            }
        }
        for variant in 0..<12 {
            let event = Self.captured(variant)
            let payload = EventJSON.purchaseCaptured(event)
            #expect(try layoutOnly(payload) { (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerPurchaseCaptured() } == event)
            // JSONEncoder's sorted keys are the same layout (its escaped slashes are read as any escape).
            let encoded = Array(try LedgerEvent.encoder.encode(event))
            #expect(try layoutOnly(encoded) { (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerPurchaseCaptured() } == event)
            // A space, a member out of order, an unknown member: not the layout, and the whole reader still gives the event.
            let spaced = [UInt8(ascii: "{"), UInt8(ascii: " ")] + payload.dropFirst()
            var reordered = payload
            let fee = Array(",\"fee\":\(event.fee)".utf8)
            reordered.replaceSubrange(reordered.firstRange(of: fee)!, with: [])
            reordered.insert(contentsOf: fee, at: reordered.count - 1)
            let unknown = Array(payload.dropLast()) + Array(",\"zzz\":1}".utf8)
            for other in [spaced, reordered, unknown] {
                #expect(try layoutOnly(other) { (cursor: inout JSONCursor) throws(JSONReadError) in try cursor.writerPurchaseCaptured() } == nil)
                #expect(try EventJSONReader.purchaseCaptured(other) == event)
            }
            let authorized = PurchaseAuthorized(
                transaction: event.transaction, user: event.user, member: event.member, vendor: event.vendor, terms: event.terms,
                holdExpiresAtMilliseconds: UInt64(variant) * 60_000, sources: event.sources, postings: event.postings,
                idempotency: event.idempotency, timeMilliseconds: event.timeMilliseconds)
            #expect(try layoutOnly(EventJSON.purchaseAuthorized(authorized)) { (cursor: inout JSONCursor) throws(JSONReadError) in
                try cursor.writerPurchaseAuthorized()
            } == authorized)
        }
    }

    @Test("the writer's word-at-a-time escape check finds every byte that needs an escape, at every position, and no other")
    func escapeCheck() {
        func needsEscape(_ bytes: [UInt8], slashes: Bool) -> Bool {
            bytes.withUnsafeBufferPointer { JSONWriter.needsEscape($0, slashes: slashes) }
        }
        func scalar(_ bytes: [UInt8], slashes: Bool) -> Bool {
            bytes.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || (slashes && $0 == UInt8(ascii: "/")) }
        }
        // Neighbours that a borrow in the word arithmetic could disturb: 0x00, 0x01, 0x1F, 0x20,
        // 0x21, the characters themselves and their neighbours, high bytes.
        let fillers: [UInt8] = [0x20, 0x21, 0x23, 0x2E, 0x30, 0x5B, 0x5D, 0x61, 0x7F, 0x80, 0xC3, 0xFF]
        for length in 0...20 {
            for filler in fillers {
                let plain = [UInt8](repeating: filler, count: length)
                for slashes in [false, true] {
                    #expect(needsEscape(plain, slashes: slashes) == scalar(plain, slashes: slashes))
                }
                for position in 0..<length {
                    for byte in UInt8(0)...UInt8(255) {
                        var bytes = plain
                        bytes[position] = byte
                        for slashes in [false, true] where needsEscape(bytes, slashes: slashes) != scalar(bytes, slashes: slashes) {
                            Issue.record("length \(length), filler \(filler), byte \(byte) at \(position), slashes \(slashes)")
                        }
                    }
                }
            }
        }
        var writer = JSONWriter(capacity: 1, escapeSlashes: true)
        for _ in 0..<100 { writer.string(Self.odd) }
        let one = Array(try! JSONEncoder().encode([Self.odd]).dropFirst().dropLast())
        #expect(writer.bytes == Array((0..<100).map { _ in one }.joined()), "growth from the smallest buffer keeps every byte")
    }

    @Test("the request digest's hand-written form is byte for byte JSONEncoder's sorted-keys form")
    func digestForm() throws {
        let names = ["u1", "p-500", Self.odd, "a/b", "é", ""]
        for user in names {
            for content in names {
                for member in [nil, "kid", Self.odd] {
                    let command = LedgerCommand.purchase(user: user, member: member, vendor: "v/\(content)", content: .catalog(content))
                    let expected = Array(try LedgerEvent.encoder.encode(command))
                    #expect(EventJSON.digestForm(command) == expected, "\(String(decoding: expected, as: UTF8.self))")
                }
            }
        }
        #expect(EventJSON.digestForm(.capture(vendor: "v", transaction: "t")) == nil)
    }

    @Test("a batch of purchases through executeBatch: replay from empty equals the live write model, in the new layouts")
    func batchReplay() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000_000)
        try await fixture.givenUser("bob", funds: 1_000_000)
        try await fixture.run(.addMember(user: "bob", member: "kid"))
        try await fixture.run(.setSpendingLimit(user: "bob", limit: SpendingLimit(kind: .perDay, currency: .usd, amount: 5_000)))
        try await fixture.run(.registerContent(vendor: "shop", terms: LedgerFixture.terms("cat", price: 30)))
        var commands: [(command: LedgerCommand, idempotencyKey: String?)] = []
        for index in 0..<300 {
            let user = index % 2 == 0 ? "alice" : "bob"
            let command: LedgerCommand = index % 3 == 0
                ? .purchase(user: user, member: user == "bob" && index % 5 == 0 ? "kid" : nil, vendor: "shop", content: .catalog("cat"))
                : .purchase(user: user, vendor: "shop", content: .inline(LedgerFixture.terms("i\(index)", price: Int64(1 + index))))
            commands.append((command, "k\(index)"))
        }
        let results = try await fixture.ledger.executeBatch(commands)
        let accepted = results.filter { if case .success = $0 { true } else { false } }.count
        #expect(accepted > 100 && accepted < 300, "bob's daily limit refuses some")
        // The same keys again: every accepted one replays, nothing new is appended.
        let head = fixture.journal.head
        let again = try await fixture.ledger.executeBatch(commands)
        #expect(fixture.journal.head == head)
        for (first, second) in zip(results, again) {
            if case .success(let result) = first, case .success(let replay) = second {
                #expect(replay.replayed && replay.events == result.events)
            }
        }
        let live = try fixture.ledger.writeModel()
        #expect(try Ledger.replay(fixture.journal.storage) == live)
        #expect(live["user/alice"]?.first == RecordTag.user)
        #expect(live["spend/bob"]?.first == RecordTag.spending)
        #expect(try fixture.balancesSumToZero())
        let spent = try fixture.ledger.read { try $0.spending("bob") }
        #expect(spent.reduce(0) { $0 + $1.amount } <= 5_000)
    }
}
