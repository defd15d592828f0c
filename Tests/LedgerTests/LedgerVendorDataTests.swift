import Foundation
import Journal
import TallyCrypto
import Testing
@testable import Ledger

/// A vendor's own data about a purchase (claims 42–43): its reference and the form's
/// parameters, kept with the transaction exactly as sent.
@Suite("Ledger: the vendor's data on a purchase")
struct LedgerVendorDataTests {
    static let tracked = VendorData(reference: "order 42 / web", parameters: ["campaign": "winter-sale", "form.step": "2", "utm_source": "news"])

    @Test("a one-step purchase and an authorization keep the vendor's data in their event and record; a capture keeps the authorization's; replay agrees")
    func recorded() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let bought = try await fixture.run(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100)),
                                                     vendorData: Self.tracked))
        guard case .purchaseCaptured(let captured)? = bought.events.first else { Issue.record("no capture"); return }
        #expect(captured.vendorData == Self.tracked)
        #expect(try fixture.ledger.read { try $0.transaction(bought.transaction!) }?.vendorData == Self.tracked)

        let held = try await fixture.run(.authorize(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 50)),
                                                    holdSeconds: 60, vendorData: VendorData(reference: "hold-7")))
        guard case .purchaseAuthorized(let authorized)? = held.events.first else { Issue.record("no hold"); return }
        #expect(authorized.vendorData == VendorData(reference: "hold-7"))
        let capture = try await fixture.run(.capture(vendor: "shop", transaction: held.transaction!))
        guard case .purchaseCaptured(let paid)? = capture.events.first else { Issue.record("no capture"); return }
        #expect(paid.vendorData == nil)
        #expect(try fixture.ledger.read { try $0.transaction(held.transaction!) }?.vendorData == VendorData(reference: "hold-7"))

        // The stored events decode to what was decided (the hand-written reader declines them
        // and the decoder reads them whole).
        for (stored, decided) in zip(try fixture.journal.events(from: bought.sequences!.lowerBound, limit: 10), [bought.events[0], held.events[0]]) {
            #expect(try LedgerEvent(typeName: stored.typeName, payload: stored.payload) == decided)
        }
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("the vendor's data is part of the request: the same key and data replay the first answer, other data under that key is a conflict")
    func idempotency() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let command = LedgerCommand.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100)), vendorData: Self.tracked)
        let first = try await fixture.run(command, key: "k-1")
        let again = try await fixture.run(command, key: "k-1")
        #expect(again.replayed && again.events == first.events)
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100)),
                                           vendorData: VendorData(reference: "other")), .idempotencyConflict, key: "k-1")
        try await fixture.reject(.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 100))),
                                 .idempotencyConflict, key: "k-1")
        // Without vendor data the digest is the hand-written one, as before.
        let plain = LedgerCommand.purchase(user: "alice", vendor: "shop", content: .catalog("x"))
        #expect(EventJSON.digestForm(plain) != nil)
        #expect(EventJSON.digestForm(command) == nil)
        #expect(try Ledger.requestDigest(command) == SHA256.hash(Array(LedgerEvent.encoder.encode(command))).hex)
    }

    @Test("vendor data rejections: empty, a reference empty, too long or with a control character, no or too many parameters, a bad name, a value too long")
    func rejections() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        func buy(_ data: VendorData) -> LedgerCommand {
            .purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 10)), vendorData: data)
        }
        let cases: [(VendorData, LedgerRejection.Rule, String)] = [
            (VendorData(), .invalidText, "vendorData"),
            (VendorData(reference: ""), .invalidText, "vendorData.reference"),
            (VendorData(reference: String(repeating: "r", count: 201)), .invalidText, "vendorData.reference"),
            (VendorData(reference: "a\u{7}b"), .invalidText, "vendorData.reference"),
            (VendorData(parameters: [:]), .invalidText, "vendorData.parameters"),
            (VendorData(parameters: Dictionary(uniqueKeysWithValues: (0...20).map { ("p\($0)", "v") })), .invalidText, "vendorData.parameters"),
            (VendorData(parameters: ["no spaces": "v"]), .invalidIdentifier, "vendorData.parameters"),
            (VendorData(parameters: ["note": String(repeating: "v", count: 501)]), .invalidText, "vendorData.parameters.note"),
            (VendorData(parameters: ["note": "line\nbreak"]), .invalidText, "vendorData.parameters.note"),
        ]
        for (data, rule, field) in cases {
            let rejection = try await fixture.reject(buy(data), rule)
            #expect(rejection?.field == field, "\(data)")
        }
        try await fixture.reject(.authorize(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms(price: 10)), holdSeconds: 60,
                                            vendorData: VendorData(reference: "")), .invalidText)
        // At the bounds, accepted.
        try await fixture.run(buy(VendorData(reference: String(repeating: "r", count: 200),
                                             parameters: Dictionary(uniqueKeysWithValues: (1...20).map { ("p\($0)", String(repeating: "v", count: 500)) }))))
    }

    @Test("a purchase record with the vendor's data, with partial refunds, or both, round-trips; damaged flags are refused")
    func recordLayouts() throws {
        let base = LedgerFixture.capturedRecord()
        var withData = base
        withData.vendorData = Self.tracked
        var both = withData
        both.recordPartialRefund(50)
        var referenceOnly = base
        referenceOnly.vendorData = VendorData(reference: "r")
        for record in [withData, both, referenceOnly] {
            let bytes = record.binaryBytes
            #expect(bytes.first == 0xA9)
            #expect(try TransactionRecord.decodeStored(bytes) == record)
            for cut in 1 ..< bytes.count - base.binaryBytes.count + 1 {
                #expect(throws: (any Error).self) { try TransactionRecord.decodeStored(Array(bytes.dropLast(cut))) }
            }
        }
        var damaged = withData.binaryBytes
        let flagsAt = base.binaryBytes.count
        for flags: UInt8 in [0, 4, 0x82] {
            damaged[flagsAt] = flags
            #expect(throws: (any Error).self) { try TransactionRecord.decodeStored(damaged) }
        }
    }
}
