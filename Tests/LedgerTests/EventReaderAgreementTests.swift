import Foundation
import Journal
import PropertyBased
import TallyTestSupport
import Testing
@testable import Ledger

/// Every event type the hand-written reader decodes, checked against `JSONDecoder` on JSON
/// written in many equivalent ways (key order, whitespace, escapes, explicit nulls, unknown
/// members) and in broken or doubtful ways (duplicate keys, fractions, wrong types, invalid
/// UTF-8, ...): `LedgerEvent(typeName:payload:)` always gives `JSONDecoder`'s answer, the reader
/// never accepts something `JSONDecoder` reads differently, and it does accept every clean form.
@Suite("Event reader agrees with JSONDecoder")
struct EventReaderAgreementTests {
    /// One event type of the fast path: its reader and `JSONDecoder`, both as `LedgerEvent`.
    struct FastType: Sendable {
        let name: String
        let fast: @Sendable ([UInt8]) -> LedgerEvent?
        let slow: @Sendable ([UInt8]) -> LedgerEvent?
    }

    static let types: [String: FastType] = [
        "PurchaseCaptured": FastType(
            name: "PurchaseCaptured", fast: { (try? EventJSONReader.purchaseCaptured($0)).map { .purchaseCaptured($0) } },
            slow: { (try? JSONDecoder().decode(PurchaseCaptured.self, from: Data($0))).map { .purchaseCaptured($0) } }),
        "PurchaseAuthorized": FastType(
            name: "PurchaseAuthorized", fast: { (try? EventJSONReader.purchaseAuthorized($0)).map { .purchaseAuthorized($0) } },
            slow: { (try? JSONDecoder().decode(PurchaseAuthorized.self, from: Data($0))).map { .purchaseAuthorized($0) } }),
        "FundsAdded": FastType(
            name: "FundsAdded", fast: { (try? EventJSONReader.fundsAdded($0)).map { .fundsAdded($0) } },
            slow: { (try? JSONDecoder().decode(FundsAdded.self, from: Data($0))).map { .fundsAdded($0) } }),
        "AccountOpened": FastType(
            name: "AccountOpened", fast: { (try? EventJSONReader.accountOpened($0)).map { .accountOpened($0) } },
            slow: { (try? JSONDecoder().decode(AccountOpened.self, from: Data($0))).map { .accountOpened($0) } }),
        "WalletOpened": FastType(
            name: "WalletOpened", fast: { (try? EventJSONReader.walletOpened($0)).map { .walletOpened($0) } },
            slow: { (try? JSONDecoder().decode(WalletOpened.self, from: Data($0))).map { .walletOpened($0) } }),
    ]

    /// The stored form of a decoded event, to compare two results scalar for scalar (`==` on
    /// strings is canonical equivalence, which would hide a difference in normalisation).
    static func stored(_ event: LedgerEvent?) -> [UInt8]? {
        guard let event else { return nil }
        return (try? event.draft())?.payload
    }

    /// The agreement every payload must meet; `mustBeFast` when it is a clean form.
    static func check(_ typeName: String, _ payload: [UInt8], mustBeFast: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        let type = types[typeName]!
        let slow = type.slow(payload)
        let fast = type.fast(payload)
        let combined = try? LedgerEvent(typeName: typeName, payload: payload)
        let fromBuffer = payload.withUnsafeBufferPointer { try? LedgerEvent(typeName: typeName, payload: $0) }
        let shown = String(decoding: payload.prefix(300), as: UTF8.self)
        #expect(fromBuffer == combined, "decoding from a buffer differs from decoding the array: \(shown)", sourceLocation: sourceLocation)
        #expect(stored(fromBuffer) == stored(combined), "stored forms differ from a buffer: \(shown)", sourceLocation: sourceLocation)
        #expect(combined == slow, "LedgerEvent(typeName:payload:) differs from JSONDecoder: \(shown)", sourceLocation: sourceLocation)
        #expect(stored(combined) == stored(slow), "stored forms differ: \(shown)", sourceLocation: sourceLocation)
        if let fast {
            #expect(fast == slow, "the reader accepted what JSONDecoder reads differently: \(shown)", sourceLocation: sourceLocation)
            #expect(stored(fast) == stored(slow), "the reader's strings differ from JSONDecoder's: \(shown)", sourceLocation: sourceLocation)
        }
        if mustBeFast {
            #expect(fast != nil, "the reader declined a clean form: \(shown)", sourceLocation: sourceLocation)
            #expect(slow != nil, "JSONDecoder declined a clean form: \(shown)", sourceLocation: sourceLocation)
        }
        // The sweeper's summary of a purchase: read from every clean form, and never different
        // from the whole event where both read it.
        if typeName == "PurchaseCaptured" {
            let summary = CaptureSummary(purchaseCaptured: payload)
            if mustBeFast { #expect(summary != nil, "the summary declined a clean form: \(shown)", sourceLocation: sourceLocation) }
            if let summary, case .purchaseCaptured(let whole)? = slow {
                let expected = CaptureSummary(transaction: whole.transaction, user: whole.user, vendor: whole.vendor, currency: whole.terms.currency)
                #expect(summary == expected, "the summary differs from the event: \(shown)", sourceLocation: sourceLocation)
                #expect(Array(summary.transaction.utf8) == Array(whole.transaction.utf8) && Array(summary.user.utf8) == Array(whole.user.utf8)
                    && Array(summary.vendor.utf8) == Array(whole.vendor.utf8), "the summary's strings differ: \(shown)", sourceLocation: sourceLocation)
            }
        }
    }

    // MARK: Random events

    static func extreme(_ random: inout TestValues) -> Int64 {
        switch Int.random(in: 0..<4, using: &random) {
        case 0: return [Int64.min, Int64.min + 1, -1, 0, 1, Int64.max - 1, Int64.max].randomElement(using: &random)!
        case 1: return Int64.random(in: -1_000...1_000, using: &random)
        default: return Int64.random(in: Int64.min...Int64.max, using: &random)
        }
    }

    static func time(_ random: inout TestValues) -> UInt64 {
        Bool.random(using: &random) ? [0, 1, UInt64(Int64.max), UInt64.max - 1, UInt64.max].randomElement(using: &random)!
            : UInt64.random(in: 0...UInt64.max, using: &random)
    }

    static func text(_ random: inout TestValues) -> String { EventJSONReaderTests.text(&random) }

    static func event(_ random: inout TestValues) -> LedgerEvent {
        switch Int.random(in: 0..<5, using: &random) {
        case 0:
            var captured = EventJSONReaderTests.captured(&random)
            captured.fee = extreme(&random)
            captured.royalties.append(RoyaltyPayment(holder: text(&random), amount: extreme(&random)))
            captured.terms.royalties.append(RoyaltyShare(holder: text(&random), basisPoints: extreme(&random)))
            captured.terms.price = extreme(&random)
            return .purchaseCaptured(captured)
        case 1:
            let event = EventJSONReaderTests.captured(&random)
            return .purchaseAuthorized(PurchaseAuthorized(
                transaction: event.transaction, user: event.user, member: event.member, vendor: event.vendor, terms: event.terms,
                holdExpiresAtMilliseconds: time(&random), sources: event.sources, postings: event.postings,
                idempotency: event.idempotency, timeMilliseconds: time(&random)))
        case 2:
            let currency = [Currency.usd, .eur, Currency(code: "XTK")!].randomElement(using: &random)!
            let user = text(&random)
            return .fundsAdded(FundsAdded(
                funding: text(&random), user: user, currency: currency, amount: extreme(&random),
                method: FundingMethod.allCases.randomElement(using: &random)!,
                throughVendor: Bool.random(using: &random) ? text(&random) : nil, pending: Bool.random(using: &random),
                postings: (0..<Int.random(in: 0...2, using: &random)).map { _ in
                    Posting(debitName: "funding:\(text(&random)):\(currency.code)", creditName: "wallet:\(user)-w:\(currency.code)",
                            amount: Int64.random(in: 1...Int64.max, using: &random), currency: currency)
                },
                idempotency: Bool.random(using: &random)
                    ? IdempotencyMark(vendor: "user:" + user, key: text(&random), requestDigest: text(&random)) : nil,
                timeMilliseconds: time(&random)))
        case 3:
            return .accountOpened(AccountOpened(
                user: text(&random), channel: AccountChannel.allCases.randomElement(using: &random)!,
                referringVendor: Bool.random(using: &random) ? text(&random) : nil,
                representative: Bool.random(using: &random) ? text(&random) : nil, timeMilliseconds: time(&random)))
        default:
            return .walletOpened(WalletOpened(
                user: text(&random), currency: [Currency.usd, .eur, Currency(code: "JPY")!].randomElement(using: &random)!,
                timeMilliseconds: time(&random)))
        }
    }

    // MARK: Writing a document in many ways

    /// A JSON document as a tree (read back from an event's JSON), to write it again in other ways.
    indirect enum Document: Decodable {
        case string(String)
        case integer(Int64)
        case unsigned(UInt64)
        case bool(Bool)
        case null
        case array([Document])
        case object([(String, Document)])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let value = try? container.decode(Bool.self) { self = .bool(value) }
            else if let value = try? container.decode(Int64.self) { self = .integer(value) }
            else if let value = try? container.decode(UInt64.self) { self = .unsigned(value) }
            else if let value = try? container.decode(String.self) { self = .string(value) }
            else if let value = try? container.decode([Document].self) { self = .array(value) }
            else { self = .object(try container.decode([String: Document].self).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }) }
        }
    }

    /// Optional keys of the fast types (an explicit null there means absent).
    static let optionalKeys: Set<String> = [
        "member", "idempotency", "throughVendor", "referringVendor", "representative", "views", "hours", "days", "expiresAtMilliseconds",
    ]

    /// Writes a document with random equivalent changes, and with `dirty`, now and then a
    /// change that may break it or change its meaning.
    struct Writer {
        var random: TestValues
        let dirty: Bool
        var out: [UInt8] = []
        var unknowns = 0

        mutating func chance(_ oneIn: Int) -> Bool { Int.random(in: 0..<oneIn, using: &random) == 0 }
        mutating func emit(_ text: String) { out.append(contentsOf: Array(text.utf8)) }

        mutating func space() {
            while chance(4) { out.append([0x20, 0x0A, 0x09, 0x0D].randomElement(using: &random)!) }
        }

        mutating func hex(_ unit: UInt16) { emit("\\u" + String(format: chance(2) ? "%04x" : "%04X", unit)) }

        /// A string value; `key`: a key, never escaped (the reader declines a key with an
        /// escape; the dirty writer escapes some on purpose).
        mutating func string(_ value: String, key: Bool = false) {
            out.append(UInt8(ascii: "\""))
            if dirty && chance(40) {
                // Invalid UTF-8, a lone surrogate, or a raw control character.
                switch Int.random(in: 0..<5, using: &random) {
                case 0: out.append(0xFF)
                case 1: out.append(contentsOf: [0xC0, 0x80])
                case 2: out.append(contentsOf: [0xED, 0xA0, 0x80])
                case 3: emit("\\ud800")
                default: out.append(0x01)
                }
            }
            for scalar in value.unicodeScalars {
                let escape = !key && chance(4)
                switch scalar {
                case "\"": emit(escape ? "\\u0022" : "\\\"")
                case "\\": emit(escape ? "\\u005C" : "\\\\")
                case "/": emit(escape ? "\\/" : "/")
                case "\n": emit(escape ? "\\u000a" : "\\n")
                case "\t": emit(escape ? "\\u0009" : "\\t")
                case "\r": emit("\\r")
                case "\u{08}": emit("\\b")
                case "\u{0C}": emit("\\f")
                default:
                    if scalar.value < 0x20 || escape {
                        for unit in String(scalar).utf16 { hex(unit) }
                    } else {
                        out.append(contentsOf: Array(String(scalar).utf8))
                    }
                }
            }
            out.append(UInt8(ascii: "\""))
        }

        mutating func number(_ text: String) {
            if dirty && chance(30) {
                emit([text + ".0", text + "e0", text + ".5", "0" + text, "\"" + text + "\"", text + "E1"].randomElement(using: &random)!)
            } else {
                emit(text)
            }
        }

        mutating func value(_ document: Document, depth: Int) {
            space()
            if dirty && chance(40) {
                // A wrong type, or null for a value that may be required.
                emit(["null", "true", "\"x\"", "[]", "{}", "1"].randomElement(using: &random)!)
                space()
                return
            }
            switch document {
            case .string(let value): string(value)
            case .integer(let value): number(String(value))
            case .unsigned(let value): number(String(value))
            case .bool(let value): emit(value ? "true" : "false")
            case .null: emit("null")
            case .array(let elements):
                out.append(UInt8(ascii: "["))
                for (index, element) in elements.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    value(element, depth: depth + 1)
                }
                if elements.isEmpty { space() }
                out.append(UInt8(ascii: "]"))
            case .object(let members):
                var members = members.shuffled(using: &random)
                for key in EventReaderAgreementTests.optionalKeys where !members.contains(where: { $0.0 == key }) && chance(6) {
                    members.insert((key, .null), at: Int.random(in: 0...members.count, using: &random))
                }
                if chance(5) {
                    unknowns += 1
                    members.insert(("other\(unknowns)é", unknown(depth: depth)), at: Int.random(in: 0...members.count, using: &random))
                }
                if dirty && chance(12), let member = members.randomElement(using: &random) {
                    // A duplicate key, with the same or another value.
                    members.append((member.0, chance(2) ? member.1 : .integer(7)))
                }
                if dirty && chance(20), !members.isEmpty {
                    members.remove(at: Int.random(in: 0..<members.count, using: &random))
                }
                out.append(UInt8(ascii: "{"))
                for (index, (key, member)) in members.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    space()
                    if dirty && chance(25), let first = key.unicodeScalars.first, first.isASCII {
                        // The same key, written with an escape.
                        emit("\"")
                        hex(UInt16(first.value))
                        out.append(contentsOf: Array(String(key.unicodeScalars.dropFirst()).utf8))
                        emit("\"")
                    } else {
                        string(key, key: true)
                    }
                    space()
                    out.append(UInt8(ascii: ":"))
                    value(member, depth: depth + 1)
                }
                if members.isEmpty { space() }
                out.append(UInt8(ascii: "}"))
            }
            space()
        }

        /// A value of a member the type does not have.
        mutating func unknown(depth: Int) -> Document {
            switch Int.random(in: 0..<(depth > 6 ? 4 : 6), using: &random) {
            case 0: return .integer(Int64.random(in: Int64.min...Int64.max, using: &random))
            case 1: return .string(EventReaderAgreementTests.text(&random))
            case 2: return .bool(chance(2))
            case 3: return .null
            case 4: return .array((0..<Int.random(in: 0...3, using: &random)).map { _ in unknown(depth: depth + 1) })
            default: return .object((0..<Int.random(in: 0...3, using: &random)).map { index in ("k\(index)", unknown(depth: depth + 1)) })
            }
        }

        mutating func document(_ document: Document) -> [UInt8] {
            value(document, depth: 0)
            if dirty && chance(20) { emit(["x", ",", "}", "{}", "\u{00}"].randomElement(using: &random)!) }
            return out
        }
    }

    static func check(_ event: LedgerEvent, seed: UInt64, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let draft = try event.draft()
        // As written (hand-written JSON for the purchases, JSONEncoder's for the others).
        check(draft.typeName, draft.payload, mustBeFast: true, sourceLocation: sourceLocation)
        #expect(types[draft.typeName]!.fast(draft.payload) == event, sourceLocation: sourceLocation)
        let document = try JSONDecoder().decode(Document.self, from: Data(draft.payload))
        for round in 0..<6 {
            var clean = Writer(random: TestValues(seed: seed &+ UInt64(round)), dirty: false)
            check(draft.typeName, clean.document(document), mustBeFast: true, sourceLocation: sourceLocation)
            var dirty = Writer(random: TestValues(seed: seed &+ UInt64(round) &+ 1_000), dirty: true)
            check(draft.typeName, dirty.document(document), mustBeFast: false, sourceLocation: sourceLocation)
        }
    }

    @Test("random events of every fast type, written in many ways: the reader and JSONDecoder agree")
    func property() async {
        await propertyCheck(count: 150, input: Gen.int(in: 0...Int.max)) { seed in
            var random = TestValues(seed: UInt64(seed))
            let event = Self.event(&random)
            try Self.check(event, seed: UInt64(seed))
        }
    }

    /// The writer's own bytes with a few bytes changed, dropped, doubled or inserted (JSON's
    /// structural bytes among them), or cut short: the writer-layout path meets each change at
    /// some member and must either read exactly what `JSONDecoder` reads or hand the document to
    /// the general loop, which must then agree too.
    @Test("the writer's bytes with a few bytes changed: the reader and JSONDecoder still agree")
    func mutatedWriterBytes() async {
        await propertyCheck(count: 400, input: Gen.int(in: 0...Int.max)) { seed in
            var random = TestValues(seed: UInt64(seed))
            let draft = try Self.event(&random).draft()
            for _ in 0..<8 {
                let bytes = random.damaged(draft.payload)
                Self.check(draft.typeName, bytes, mustBeFast: false)
            }
        }
    }

    @Test("every fast type on chosen payloads: escapes, optionals absent, present and null, limits, duplicates")
    func chosen() throws {
        let posting = #"{"amount":5,"credit":"wallet:u1:USD","currency":"USD","debit":"funding:card:USD"}"#
        let cases: [(String, String, Bool)] = [
            // Clean forms: the reader must decode them.
            ("WalletOpened", #"{"currency":"USD","timeMilliseconds":0,"user":"u1"}"#, true),
            ("WalletOpened", #" { "user" : "a\/b\u00e9\ud83c\udfb5\"\\\n" , "currency":"EUR", "timeMilliseconds":18446744073709551615 } "#, true),
            ("WalletOpened", #"{"currency":"\u0055SD","timeMilliseconds":1,"user":""}"#, true),
            ("WalletOpened", #"{"currency":"JPY","timeMilliseconds":1,"user":"u","extra":[1,{"a":null},"\/"]}"#, true),
            ("AccountOpened", #"{"channel":"providerSite","timeMilliseconds":5,"user":"u1"}"#, true),
            ("AccountOpened", #"{"channel":"vendorLink","referringVendor":"v\/1","representative":null,"timeMilliseconds":5,"user":"u1"}"#, true),
            ("AccountOpened", #"{"channel":"customerService","referringVendor":null,"representative":"r\u0000","timeMilliseconds":5,"user":"u1"}"#, true),
            ("FundsAdded", #"{"amount":9223372036854775807,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[\#(posting)],"timeMilliseconds":1,"user":"u1"}"#, true),
            ("FundsAdded", #"{"amount":-9223372036854775808,"currency":"USD","funding":"f1","method":"mailedBill","pending":true,"postings":[],"throughVendor":"https:\/\/v.example\/","timeMilliseconds":1,"user":"u1"}"#, true),
            ("FundsAdded", #"{"amount":-1,"currency":"USD","funding":"f1","method":"isp","pending":true,"postings":[],"throughVendor":null,"timeMilliseconds":1,"user":"u1"}"#, true),
            // Doubtful or broken forms: whatever JSONDecoder says.
            ("FundsAdded", #"{"amount":9223372036854775808,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":-9223372036854775809,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":18446744073709551616,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":-0,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":-1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"cash","pending":false,"postings":[],"timeMilliseconds":1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"ABC","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":0,"postings":[],"timeMilliseconds":1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[{"amount":0,"credit":"a:USD","currency":"USD","debit":"b:USD"}],"timeMilliseconds":1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[{"amount":1,"credit":"a:USD","currency":"USD","debit":"a:USD"}],"timeMilliseconds":1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[{"amount":1,"credit":"a:EUR","currency":"USD","debit":"b:USD"}],"timeMilliseconds":1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"amount":2,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":1,"user":"u1","x":1,"x":2}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":1,"user":"u1","x":1.5}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":1,"\u0075ser":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[],"timeMilliseconds":1,"user":"u1","\u0075ser":"u2"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":null,"timeMilliseconds":1,"user":"u1"}"#, false),
            ("FundsAdded", #"{"amount":1,"currency":"USD","funding":"f1","method":"card","pending":false,"timeMilliseconds":1,"user":"u1"}"#, false),
            ("AccountOpened", #"{"channel":"providerSite","timeMilliseconds":5,"user":null}"#, false),
            ("AccountOpened", #"{"channel":"providerSite","timeMilliseconds":5,"user":"u1","user":"u1"}"#, false),
            ("AccountOpened", #"{"channel":"providerSite","timeMilliseconds":5.0,"user":"u1"}"#, false),
            ("AccountOpened", #"{"channel":"providerSite","timeMilliseconds":5e0,"user":"u1"}"#, false),
            ("AccountOpened", #"{"channel":"providerSite","timeMilliseconds":05,"user":"u1"}"#, false),
            ("AccountOpened", #"{"channel":"providerSite","timeMilliseconds":5,"user":"\ud800"}"#, false),
            ("AccountOpened", #"{"channel":"providerSite","timeMilliseconds":5,"user":"u1"} x"#, false),
            ("AccountOpened", #"{"channel":"providerSite","timeMilliseconds":5,"user":"u1",}"#, false),
            ("AccountOpened", #"[{"channel":"providerSite","timeMilliseconds":5,"user":"u1"}]"#, false),
            ("WalletOpened", #"{"currency":"usd","timeMilliseconds":1,"user":"u"}"#, false),
            ("WalletOpened", #"{"currency":"USD","timeMilliseconds":1,"user":"u","deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#, false),
        ]
        for (typeName, text, clean) in cases {
            Self.check(typeName, Array(text.utf8), mustBeFast: clean)
        }
        // Raw bytes that are not UTF-8, inside a value and inside an unknown key.
        for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            let value = Array(#"{"currency":"USD","timeMilliseconds":1,"user":"u"#.utf8) + bad + Array(#""}"#.utf8)
            Self.check("WalletOpened", value, mustBeFast: false)
            #expect((try? EventJSONReader.walletOpened(value)) == nil)
            let key = Array(#"{"currency":"USD","timeMilliseconds":1,"user":"u",""#.utf8) + bad + Array(#"":1}"#.utf8)
            Self.check("WalletOpened", key, mustBeFast: false)
            #expect((try? EventJSONReader.walletOpened(key)) == nil)
        }
    }

    @Test("the stored purchase of a generated journal and of the ledger itself take the fast path")
    func generatedForms() throws {
        let captured = #"{"entitlement":{"views":3},"fee":1,"oneStep":true,"postings":[{"amount":30,"credit":"vendor:v1:USD","currency":"USD","debit":"wallet:u1:USD"},{"amount":1,"credit":"fees:USD","currency":"USD","debit":"vendor:v1:USD"}],"rounding":"\#(royaltyRoundingRule)","royalties":[{"amount":3,"holder":"h1"}],"sources":[{"account":"wallet:u1:USD","amount":30}],"terms":{"access":{"views":3},"content":"p30","currency":"USD","description":"","incentiveIDs":[],"price":30,"royalties":[{"basisPoints":1000,"holder":"h1"}],"title":"Item 30","url":"https://v1.example/p30"},"timeMilliseconds":1764000000000,"transaction":"t9","user":"u1","vendor":"v1"}"#
        Self.check("PurchaseCaptured", Array(captured.utf8), mustBeFast: true)
        // The rounding rule is returned without a copy only when it is exactly the rule.
        let fast = try EventJSONReader.purchaseCaptured(Array(captured.utf8))
        #expect(fast.rounding == royaltyRoundingRule)
        #expect(!royaltyRoundingRule.utf8.contains { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 })
        for other in ["", "x", String(royaltyRoundingRule.dropLast()), royaltyRoundingRule + "x", royaltyRoundingRule.replacingOccurrences(of: "/", with: "\\/")] {
            let text = captured.replacingOccurrences(of: #""rounding":"\#(royaltyRoundingRule)""#, with: #""rounding":"\#(other)""#)
            Self.check("PurchaseCaptured", Array(text.utf8), mustBeFast: true)
            let expected = other.replacingOccurrences(of: "\\/", with: "/")
            #expect(try EventJSONReader.purchaseCaptured(Array(text.utf8)).rounding == expected)
        }
    }

    /// Bytes at the edges of the UTF-8 ranges (Unicode table 3-7).
    static let edges: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
                                 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]

    static func utf8Agrees(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { JSONCursor.isUTF8($0) } == (String(validating: bytes, as: UTF8.self) != nil)
    }

    @Test("the reader's UTF-8 check agrees with the standard library's: every lead byte with edge bytes after it")
    func utf8Edges() {
        var disagreements: [[UInt8]] = []
        for lead in 0...255 {
            for second in Self.edges {
                if !Self.utf8Agrees([UInt8(lead)]) { disagreements.append([UInt8(lead)]) }
                if !Self.utf8Agrees([UInt8(lead), second]) { disagreements.append([UInt8(lead), second]) }
                for third in Self.edges {
                    if !Self.utf8Agrees([UInt8(lead), second, third]) { disagreements.append([UInt8(lead), second, third]) }
                    // Four-byte forms start with 0xF0...0xF7.
                    guard lead >= 0xF0 && lead <= 0xF7 else { continue }
                    for fourth in Self.edges where !Self.utf8Agrees([UInt8(lead), second, third, fourth]) {
                        disagreements.append([UInt8(lead), second, third, fourth])
                    }
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }

    @Test("the reader's UTF-8 check agrees with the standard library's on text with one byte changed")
    func utf8Check() async {
        await propertyCheck(count: 2_000, input: Gen.int(in: 0...Int.max)) { seed in
            var random = TestValues(seed: UInt64(seed))
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...4, using: &random) {
                let ranges: [ClosedRange<UInt32>] = [0...0x7F, 0x80...0x7FF, 0x800...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF]
                let scalar = Unicode.Scalar(UInt32.random(in: ranges.randomElement(using: &random)!, using: &random))!
                bytes.append(contentsOf: Array(String(scalar).utf8))
            }
            if !bytes.isEmpty && Int.random(in: 0..<10, using: &random) < 8 {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = Self.edges.randomElement(using: &random)!
            }
            #expect(Self.utf8Agrees(bytes), "\(bytes)")
        }
    }

    @Test("the posting check from bytes answers exactly as hasSuffix, also where graphemes join across the ':'")
    func currencySuffix() throws {
        let names = [":USD", "USD", "", ":", "a:USD", "wallet:u1:USD", "wallet:u1:EUR", "x:usd", "x:USD ", "x:USD\u{301}", "e\u{301}:USD",
                     "\u{600}:USD", "\u{600}", "\r:USD", "\n:USD", "\u{1F3B5}:USD", "\u{200D}:USD", "é:USD", "x::USD", "x:USDUSD", "x;USD"]
        for name in names {
            for currency in [Currency.usd, .eur, Currency(code: "XTK")!] {
                #expect(JSONCursor.hasCurrencySuffix(name, currency) == name.hasSuffix(":" + currency.code), "\(name.unicodeScalars.map { $0.value })")
            }
        }
        // A Prepend character before the ':' joins it into one grapheme: hasSuffix says no, and
        // so does the reader; JSONDecoder refuses the posting, and so does LedgerEvent.
        #expect(!"\u{600}:USD".hasSuffix(":USD"))
        let posting = #"{"amount":5,"credit":"wallet:u1:USD","currency":"USD","debit":"\u0600:USD"}"#
        let text = #"{"amount":5,"currency":"USD","funding":"f1","method":"card","pending":false,"postings":[\#(posting)],"timeMilliseconds":1,"user":"u1"}"#
        Self.check("FundsAdded", Array(text.utf8), mustBeFast: false)
        let plain = text.replacingOccurrences(of: "\\u0600", with: "x")
        Self.check("FundsAdded", Array(plain.utf8), mustBeFast: true)
    }
}
