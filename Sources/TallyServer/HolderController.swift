import Foundation
import Hummingbird
import Projections

/// `/v1/holder/…`: what a rights holder reads with its own read key (`Authorization: Bearer
/// hk_…`, issued by customer service): its royalty statement and the royalties paid out to it.
/// Nothing else, and nobody else's.
struct HolderController: Sendable {
    let api: TallyAPI

    func addRoutes(to router: Router<TallyContext>) {
        let group = router.group("v1/holder")
        group.get("royalties") { request, _ in
            let holder = try api.authenticateHolder(request)
            let before = try request.queryUInt("before")
            let limit = Int(try request.queryUInt("limit", min: 1, max: 1000) ?? 100)
            // 404 until the holder's first royalty.
            return try await api.snapshot(request, missing: "royalty statement") { try $0.royaltyStatementPage(holder: holder, before: before, limit: limit) }
        }
        group.get("payouts") { request, _ in
            let holder = try api.authenticateHolder(request)
            let (before, limit) = try UserController.page(request)
            return try await api.snapshot(request, missing: "royalty payouts") { try $0.royaltyPayouts(holder: holder, before: before, limit: limit) }
        }
    }
}
