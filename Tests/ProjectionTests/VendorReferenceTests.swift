import Ledger
@testable import Projections
import Testing

/// A vendor's purchases listed under its own reference (`vendorData.reference`, `vr/`).
@Suite("Purchases by the vendor's reference")
struct VendorReferenceTests {
    @Test("purchases and holds are listed under their reference, newest first, paged; the list equals a fresh fold", arguments: [1, 64])
    func listed(batchEvents: Int) async throws {
        let fixture = try ProjectionFixture(batchEvents: batchEvents)
        try await fixture.givenShopAndAlice()
        func content(_ index: Int) -> ContentReference {
            .inline(ProjectionFixture.terms("song-\(index)", price: 10, url: ProjectionFixture.site + "songs/\(index)"))
        }
        var made: [String] = []
        for (index, reference) in ["ord-1", "ord-2", "ord-1", nil, "ord-1"].enumerated() {
            let data = reference.map { VendorData(reference: $0, parameters: ["step": "\(index)"]) }
            let command: LedgerCommand = index == 2
                ? .authorize(user: "alice", vendor: "shop", content: content(index), holdSeconds: 60, vendorData: data)
                : .purchase(user: "alice", vendor: "shop", content: content(index), vendorData: data)
            made.append(try #require(try await fixture.run(command).transaction))
        }
        // Capturing the hold lists it no second time.
        try await fixture.run(.capture(vendor: "shop", transaction: made[2]))
        try fixture.projections.catchUp()
        try fixture.projections.read { (reader: ProjectionReader) throws in
            let first = try reader.purchases(vendor: "shop", reference: "ord-1", limit: 2)
            #expect(first.purchases.map(\.transaction) == [made[4], made[2]])
            let before = try #require(first.nextBefore)
            let second = try reader.purchases(vendor: "shop", reference: "ord-1", before: before, limit: 2)
            #expect(second.purchases.map(\.transaction) == [made[0]] && second.nextBefore == nil)
            #expect(try reader.purchases(vendor: "shop", reference: "ord-2").purchases.map(\.transaction) == [made[1]])
            // A reference is matched whole, not as a prefix; other vendors have their own lists.
            #expect(try reader.purchases(vendor: "shop", reference: "ord-").purchases.isEmpty)
            #expect(try reader.purchases(vendor: "news", reference: "ord-1").purchases.isEmpty)
        }
        let live = try fixture.projections.canonicalDump()
        #expect(live.contains("vr/shop/ord-1"))
        #expect(live == (try fixture.freshDump()))
    }
}
