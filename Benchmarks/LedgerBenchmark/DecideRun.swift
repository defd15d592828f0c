import Foundation
import Ledger
import TallyCrypto
import BenchmarkSupport

// Section 1: decide-and-fold with no I/O, on one core. The write model lives in a dictionary
// (the same base `Ledger.replay` folds into); purchases are decided and folded through the
// public `Ledger.decideAndFold` into a `LedgerState` staged over it, BATCH commands per state
// (the shape of `Ledger.executeBatch`), and each batch's staged changes are merged back.

/// The write model in memory: key → value, as the journal's state database holds it.
final class MemoryWriteModel {
    var entries: [String: [UInt8]] = [:]

    func state() -> LedgerState {
        LedgerState(base: { [unowned self] key in self.entries[key] })
    }

    func merge(_ state: LedgerState) {
        for change in state.stagedChanges { entries[change.key] = change.value }
    }
}

/// Fixed clock for the in-memory runs (2026-01-01), advanced by one millisecond per batch.
let memoryEpochMilliseconds: UInt64 = 1_767_225_600_000

struct MemoryWorld {
    var entries: [String: [UInt8]]
    var nextSequence: UInt64
    var commands: Int
    var seconds: Double
}

/// Builds the world (vendors, catalogs, users, wallets, funds) by deciding and folding its
/// commands, 1000 per staged state.
func buildMemoryWorld(_ workload: Workload) -> MemoryWorld {
    let model = MemoryWriteModel()
    let commands = workload.worldCommands()
    var sequence: UInt64 = 1
    let start = nowNanoseconds()
    var index = 0
    while index < commands.count {
        var state = model.state()
        for command in commands[index..<min(index + 1000, commands.count)] {
            do {
                let events = try Ledger.decideAndFold(
                    command, state: &state, timeMilliseconds: memoryEpochMilliseconds, nextSequence: sequence)
                sequence += UInt64(events.count)
            } catch {
                fail("building the world: \(command) was refused: \(error)")
            }
        }
        model.merge(state)
        index += 1000
    }
    return MemoryWorld(entries: model.entries, nextSequence: sequence, commands: commands.count, seconds: seconds(since: start))
}

struct DecideResult {
    var purchases: Int
    var accepted: Int
    var rejected: Int
    var seconds: Double
    var cpuSeconds: Double
    var totals: Totals
    /// Event payload bytes produced (only when encoding).
    var payloadBytes: Int
    var purchasesPerSecond: Double { Double(purchases) / seconds }
}

enum DecideVariant: String, CaseIterable {
    /// `Ledger.decideAndFold` and the merge of staged changes: the ledger's pure core.
    case decideFold = "decide_fold"
    /// The same, plus `LedgerEvent.draft()` (the JSON bytes the journal would store) and the
    /// idempotency digest `executeBatch` computes per keyed command (`Ledger.requestDigest`):
    /// the CPU work of the journal path minus the journal and the idempotency record.
    case decideFoldEncode = "decide_fold_encode"
}

func runDecide(
    world: MemoryWorld, workload: Workload, commands: [LedgerCommand], batch: Int, variant: DecideVariant
) -> DecideResult {
    let model = MemoryWriteModel()
    model.entries = world.entries
    // Own the copy (and room for what the run adds) before the clock starts.
    model.entries.reserveCapacity(world.entries.count + commands.count * 4)
    var sequence = world.nextSequence
    var accepted = 0
    var rejected = 0
    var payloadBytes = 0
    var time = memoryEpochMilliseconds

    let cpuStart = processCPUSeconds()
    let start = nowNanoseconds()
    var index = 0
    while index < commands.count {
        var state = model.state()
        // As `Ledger.executeBatch` does: room for what a batch stages, so the table never grows.
        state.reserveCapacity(batch * 4)
        time += 1
        for command in commands[index..<min(index + batch, commands.count)] {
            do {
                if variant == .decideFoldEncode {
                    payloadBytes += try Ledger.requestDigest(command).utf8.count
                }
                let events = try Ledger.decideAndFold(command, state: &state, timeMilliseconds: time, nextSequence: sequence)
                sequence += UInt64(events.count)
                accepted += 1
                if variant == .decideFoldEncode {
                    for event in events { payloadBytes += try event.draft().payload.count }
                }
            } catch is LedgerRejection {
                rejected += 1
            } catch {
                fail("decide-and-fold: \(error)")
            }
        }
        model.merge(state)
        index += batch
    }
    let elapsed = seconds(since: start)
    let cpu = processCPUSeconds() - cpuStart

    let totals: Totals
    do {
        totals = try workload.totals(in: model.state())
    } catch {
        fail("reading the totals back: \(error)")
    }
    return DecideResult(
        purchases: commands.count, accepted: accepted, rejected: rejected, seconds: elapsed, cpuSeconds: cpu,
        totals: totals, payloadBytes: payloadBytes)
}

// MARK: Components

/// One measured operation of the purchase path, per call.
struct Component {
    var name: String
    var microseconds: Double
    var bytes: Int
}

/// Times the record reads and writes a purchase makes, one at a time through the public API,
/// on the write model a decide run left behind (so that spend lists have their real length).
func measureComponents(world: MemoryWorld, workload: Workload, commands: [LedgerCommand]) -> [Component] {
    // A world with the purchases folded in.
    let model = MemoryWriteModel()
    model.entries = world.entries
    var sequence = world.nextSequence
    var lastEvent: LedgerEvent?
    var state = model.state()
    for (index, command) in commands.enumerated() {
        if index % 1000 == 0 {
            model.merge(state)
            state = model.state()
        }
        if let events = try? Ledger.decideAndFold(command, state: &state, timeMilliseconds: memoryEpochMilliseconds, nextSequence: sequence) {
            sequence += UInt64(events.count)
            lastEvent = events.last
        }
    }
    model.merge(state)
    state = model.state()
    guard let event = lastEvent, case .purchaseCaptured(let captured) = event else { fail("no purchase was accepted") }

    let user = captured.user
    let vendor = captured.vendor
    let content = captured.terms.content
    let transaction = captured.transaction
    let account = LedgerAccount.wallet(user: user, currency: workload.currency)
    let rounds = 20_000
    var components: [Component] = []
    var sink = 0

    func time(_ name: String, bytes: Int, _ body: () throws -> Int) {
        // Warm up, then time.
        for _ in 0..<200 { sink &+= (try? body()) ?? 0 }
        let start = nowNanoseconds()
        for _ in 0..<rounds { sink &+= (try? body()) ?? 0 }
        let elapsed = Double(nowNanoseconds() - start) / 1e3 / Double(rounds)
        components.append(Component(name: name, microseconds: elapsed, bytes: bytes))
    }
    func size(_ key: String) -> Int { model.entries[key]?.count ?? 0 }

    time("read balance (8 bytes)", bytes: 8) { Int(try state.balance(account) & 1) }
    time("decode UserRecord (user/)", bytes: size("user/" + user)) { try state.user(user)?.wallets.count ?? 0 }
    time("decode VendorRecord (vendor/)", bytes: size("vendor/" + vendor)) { try state.vendor(vendor)?.sites.count ?? 0 }
    time("decode ContentTerms (content/)", bytes: size("content/\(vendor)/\(content)")) {
        try state.content(vendor: vendor, content)?.royalties.count ?? 0
    }
    time("decode [SpendEntry] (spend/, \(try! state.spending(user).count) entries)", bytes: size("spend/" + user)) {
        try state.spending(user).count
    }
    time("decode TransactionRecord (txn/)", bytes: size("txn/" + transaction)) { try state.transaction(transaction)?.sources.count ?? 0 }
    time("idempotency lookup, miss (idem/)", bytes: 0) { try state.idempotency(vendor: vendor, key: "none") == nil ? 1 : 0 }

    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // (Records are encoded by the ledger's internal binary layouts, only at commit; the
    // public API has no per-record encoder to time.)
    let draft = try! event.draft()
    time("encode event: LedgerEvent.draft() (PurchaseCaptured)", bytes: draft.payload.count) { try event.draft().payload.count }
    time("decode event: LedgerEvent(typeName:payload:)", bytes: draft.payload.count) {
        if case .purchaseCaptured(let decoded) = try LedgerEvent(typeName: draft.typeName, payload: draft.payload) { return decoded.postings.count }
        return 0
    }
    let command = commands.last!
    let commandBytes = (try? encoder.encode(command).count) ?? 0
    time("idempotency digest: Ledger.requestDigest (SHA-256 of the canonical JSON)", bytes: commandBytes) {
        try Ledger.requestDigest(command).utf8.count
    }
    // The whole purchase through the public core, on a scratch state (discarded each round).
    let purchase = commands.last!
    time("Ledger.decideAndFold(purchase), whole", bytes: 0) {
        var scratch = model.state()
        return try Ledger.decideAndFold(purchase, state: &scratch, timeMilliseconds: memoryEpochMilliseconds, nextSequence: sequence).count
    }
    if sink == 42 { note("") }  // keep the results alive
    return components
}
