import Foundation
import Testing
@testable import Ledger

/// The idempotency digest of a purchase or an authorisation is SHA-256 of the command's
/// `JSONEncoder` sorted-keys form. The hand-written form must be that form byte for byte, or a
/// retry after an upgrade would be refused as a different request.
@Suite("Request digest form")
struct DigestFormTests {
    static let names = ["u1", "p-500", LedgerCodecTests.odd, "a/b", "é", ""]

    static func expectSame(_ command: LedgerCommand) throws {
        let expected = Array(try LedgerEvent.encoder.encode(command))
        #expect(EventJSON.digestForm(command) == expected, "\(String(decoding: expected, as: UTF8.self))")
    }

    @Test("inline one-step purchases: every optional of the terms present and absent, odd strings")
    func inlinePurchases() throws {
        for variant in 0..<40 {
            let terms = LedgerCodecTests.terms(variant)
            for user in Self.names {
                for member in [nil, "kid", LedgerCodecTests.odd] {
                    try Self.expectSame(.purchase(user: user, member: member, vendor: "v/\(variant)", content: .inline(terms)))
                }
            }
        }
    }

    @Test("authorisations, catalog and inline, with hold times from 0 to the largest")
    func authorisations() throws {
        for holdSeconds: UInt64 in [0, 1, 9, 10, 86_400, UInt64(Int64.max), .max] {
            for member in [nil, "kid", LedgerCodecTests.odd] {
                for content in [ContentReference.catalog("c/1"), .catalog(LedgerCodecTests.odd), .inline(LedgerCodecTests.terms(Int(holdSeconds % 17)))] {
                    try Self.expectSame(.authorize(user: "u", member: member, vendor: "v", content: content, holdSeconds: holdSeconds))
                }
            }
        }
    }

    @Test("the digest differs when any field of the command differs")
    func distinct() throws {
        let base = LedgerCodecTests.terms(4)
        var cheaper = base
        cheaper.price -= 1
        var otherURL = base
        otherURL.url += "x"
        let commands: [LedgerCommand] = [
            .purchase(user: "u", vendor: "v", content: .inline(base)),
            .purchase(user: "u", vendor: "v", content: .inline(cheaper)),
            .purchase(user: "u", vendor: "v", content: .inline(otherURL)),
            .purchase(user: "u", member: "m", vendor: "v", content: .inline(base)),
            .purchase(user: "u", vendor: "v", content: .catalog(base.content)),
            .authorize(user: "u", vendor: "v", content: .inline(base), holdSeconds: 60),
            .authorize(user: "u", vendor: "v", content: .inline(base), holdSeconds: 61),
        ]
        let digests = try commands.map { try Ledger.requestDigest($0) }
        #expect(Set(digests).count == commands.count)
    }
}
