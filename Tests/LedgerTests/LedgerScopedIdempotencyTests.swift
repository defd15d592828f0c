import Journal
import Testing
@testable import Ledger

/// Idempotency keys on the commands of users and customer service that move money (funds,
/// transfers, payouts, the provider's incentives): a retry returns the first answer and moves
/// nothing more; the same key for another request is a conflict; keys are unique per scope.
@Suite("Ledger: idempotency keys of users and customer service")
struct LedgerScopedIdempotencyTests {
    static let alice = IdempotencyScope.user("alice")
    static let service = IdempotencyScope.customerService

    @Test("a retried funding, transfer, payout or incentive returns the first result and moves nothing more; another request with the key is refused")
    func retries() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        try await fixture.givenUser("bob", funds: 0)
        let commands: [(LedgerCommand, String, String)] = [
            (.addFunds(funding: "f-k1", user: "alice", currency: .usd, amount: 200, method: .card), "funds", Self.alice),
            (.transfer(from: "alice", to: "bob", currency: .usd, amount: 150), "gift", Self.alice),
            (.returnFunds(payout: "p-k1", user: "alice", currency: .usd, amount: 50, method: .card, representative: "rep-1"), "payout", Self.service),
            (.issueIncentive(lot: "l-k1", user: "bob", currency: .usd, amount: 25, issuer: nil, expiresAtMilliseconds: nil, vendors: nil), "promo", Self.service),
        ]
        for (command, key, scope) in commands {
            let first = try await fixture.run(command, key: key, scope: scope)
            #expect(!first.replayed)
            #expect(first.events.first?.idempotency == IdempotencyMark(vendor: scope, key: key, requestDigest: try Ledger.requestDigest(command)))
            let head = fixture.journal.head
            let model = try fixture.ledger.writeModel()
            let again = try await fixture.run(command, key: key, scope: scope)
            #expect(again.replayed && again.events == first.events && again.sequences == first.sequences, "\(command)")
            #expect(fixture.journal.head == head, "a retry of \(command) appended")
            #expect(try fixture.ledger.writeModel() == model, "a retry of \(command) changed the write model")
        }
        #expect(try fixture.wallet("alice") == 1_000 + 200 - 150 - 50)
        #expect(try fixture.wallet("bob") == 150)

        // The same key for another request of the same scope is refused, naming the header.
        let conflict = try await fixture.reject(.transfer(from: "alice", to: "bob", currency: .usd, amount: 151), .idempotencyConflict,
                                                key: "gift", scope: Self.alice)
        #expect(conflict?.field == "idempotencyKey")
        try await fixture.reject(.addFunds(funding: "f-k2", user: "alice", currency: .usd, amount: 200, method: .card), .idempotencyConflict,
                                 key: "funds", scope: Self.alice)
        // Another scope's key of the same name is another key.
        try await fixture.run(.transfer(from: "bob", to: "alice", currency: .usd, amount: 10), key: "gift", scope: IdempotencyScope.user("bob"))
        try await fixture.run(.addFunds(funding: "f-k3", user: "alice", currency: .usd, amount: 5, method: .phone), key: "gift", scope: Self.service)
        #expect(try Ledger.replay(fixture.journal.storage) == fixture.ledger.writeModel())
    }

    @Test("keys only where the events record them, and only in a user's or customer service's scope; a vendor's key is its own")
    func scopes() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let funds = LedgerCommand.addFunds(funding: "f-s", user: "alice", currency: .usd, amount: 1, method: .card)
        // A command whose events cannot record a key refuses one.
        let credit = try await fixture.reject(.approveCreditLine(user: "alice", currency: .usd, limit: 100), .invalidIdentifier,
                                              key: "k", scope: Self.service)
        #expect(credit?.field == "idempotencyKey")
        // No scope, an unknown scope, a vendor's ID as a scope, an invalid account: refused.
        for scope in [nil, "admin", "shop", "user:", "user:has space", "service:other"] as [String?] {
            try await fixture.reject(funds, .invalidIdentifier, key: "k", scope: scope)
        }
        try await fixture.reject(funds, .invalidIdentifier, key: "", scope: Self.alice)
        try await fixture.reject(funds, .invalidIdentifier, key: "has space", scope: Self.alice)
        // A vendor command keeps its vendor's scope: another one is refused.
        let purchase = LedgerCommand.purchase(user: "alice", vendor: "shop", content: .inline(LedgerFixture.terms()))
        try await fixture.reject(purchase, .invalidIdentifier, key: "order", scope: Self.service)
        let bought = try await fixture.run(purchase, key: "order", scope: "shop")
        #expect(bought.events.first?.idempotency?.vendor == "shop")
    }

    @Test("the key survives a restart: the reopened ledger still returns the first answer")
    func restart() async throws {
        let fixture = try LedgerFixture()
        try await fixture.givenShopAndAlice(funds: 1_000)
        let command = LedgerCommand.returnFunds(payout: "p-r", user: "alice", currency: .usd, amount: 100, method: .card, representative: "rep-1")
        let first = try await fixture.run(command, key: "payout-r", scope: Self.service)
        fixture.journal.close()
        var configuration = Journal.Configuration(directory: fixture.directory.path)
        let clock = fixture.clock
        configuration.clock = { clock.now }
        let reopened = try Journal.open(configuration)
        defer { reopened.close() }
        let ledger = Ledger(journal: reopened)
        let again = try await ledger.execute(command, idempotencyKey: "payout-r", scope: Self.service)
        #expect(again.replayed && again.events == first.events)
        #expect(try ledger.read { try $0.balance(.wallet(user: "alice", currency: .usd)) } == 900)
    }
}
