import Foundation
import Hummingbird
import TallyCrypto
import Testing
@testable import TallyServer

/// A vendor's signing keys: listed without their secrets, and revoked by customer service.
@Suite("Vendor signing keys")
struct VendorKeyTests {
    @Test("customer service lists a vendor's keys and revokes one: its signatures are refused at once, the other key still works, nothing else changes")
    func revoke() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let shop = try await client.registerVendor(name: "Shop")
            let other = try await client.registerVendor(name: "Other", sites: ["https://other.example/"])
            let created = try await client.admin(.post, "/v1/admin/vendors/\(shop.id)/keys")
            #expect(created.status == .created, "\(created.text)")
            let second = APIHarness.Vendor(id: shop.id, keyID: try #require(created.json["keyId"] as? String),
                                           secret: Hex.decode(try #require(created.json["secret"] as? String)) ?? [])
            // Both keys sign; the list shows both, oldest first, and no secret.
            #expect(try await client.vendor(second, .get, "/v1/vendor").status == .ok)
            let listed = try await client.admin(.get, "/v1/admin/vendors/\(shop.id)/keys")
            #expect(listed.status == .ok)
            let keys = try #require(listed.json["keys"] as? [[String: Any]])
            #expect(keys.map { $0["keyId"] as? String } == [shop.keyID, second.keyID])
            #expect(!listed.text.contains(Hex.encode(shop.secret)) && !listed.text.contains(Hex.encode(second.secret)))
            let own = try await client.vendor(shop, .get, "/v1/vendor/keys")
            #expect(own.status == .ok && (own.json["keys"] as? [[String: Any]])?.count == 2, "\(own.text)")
            #expect((try await client.vendor(other, .get, "/v1/vendor/keys").json["keys"] as? [[String: Any]])?.map { $0["keyId"] as? String } == [other.keyID])

            // Another vendor's key, an unknown key, an unknown vendor: 404, and nothing revoked.
            #expect(try await client.admin(.delete, "/v1/admin/vendors/\(other.id)/keys/\(second.keyID)").status == .notFound)
            #expect(try await client.admin(.delete, "/v1/admin/vendors/\(shop.id)/keys/vk_none").status == .notFound)
            #expect(try await client.admin(.get, "/v1/admin/vendors/v_none/keys").status == .notFound)
            #expect(try await client.vendor(second, .get, "/v1/vendor").status == .ok)

            let revoked = try await client.admin(.delete, "/v1/admin/vendors/\(shop.id)/keys/\(second.keyID)")
            #expect(revoked.status == .ok && revoked.json["revoked"] as? Bool == true, "\(revoked.text)")
            // At once: its next signed request, a read or a write, is refused and appends nothing.
            let head = harness.api.journal.head
            let read = try await client.vendor(second, .get, "/v1/vendor")
            #expect(read.status == .unauthorized && read.text.contains("unknown key"), "\(read.text)")
            let user = try await client.fundedUser("kay")
            let afterUser = harness.api.journal.head
            #expect(afterUser > head)
            let write = try await client.vendor(second, .post, "/v1/vendor/purchases", [
                "purchaseToken": try await client.purchaseToken(user), "inline": APIHarness.Client.inlineContent(),
            ])
            #expect(write.status == .unauthorized && harness.api.journal.head == afterUser, "\(write.text)")
            // The first key still works; the list shows it alone; revoking again is 404.
            #expect(try await client.vendor(shop, .get, "/v1/vendor").status == .ok)
            let after = try await client.admin(.get, "/v1/admin/vendors/\(shop.id)/keys")
            #expect((after.json["keys"] as? [[String: Any]])?.map { $0["keyId"] as? String } == [shop.keyID])
            #expect(try await client.admin(.delete, "/v1/admin/vendors/\(shop.id)/keys/\(second.keyID)").status == .notFound)
            // Revoked for good: still refused after the credential store is opened afresh.
            #expect(try harness.api.credentials.vendorKey(second.keyID) == nil)
        }
    }

    @Test("a revocation racing first uses of the key never leaves it usable: once revoked, every later lookup misses")
    func revokeRacingLookups() async throws {
        let harness = try APIHarness()
        try await harness.run { client in
            let shop = try await client.registerVendor(name: "Shop")
            let credentials = harness.api.credentials
            for _ in 0..<20 {
                let key = try credentials.createVendorKey(vendor: shop.id, now: 0)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 { group.addTask { _ = try credentials.vendorKey(key.keyID) } }
                    group.addTask {
                        let revoked = try credentials.revokeVendorKey(key.keyID, vendor: shop.id)
                        #expect(revoked)
                    }
                    try await group.waitForAll()
                }
                #expect(try credentials.vendorKey(key.keyID) == nil)
            }
        }
    }
}
