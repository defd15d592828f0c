import Foundation
import Journal
import Ledger
import Logging
import ServiceLifecycle
import Synchronization
import TallyCrypto

/// The ledger's clock-driven work, done by the server so that nobody has to remember it:
///
/// - a hold whose timeout has passed is released (`expireHold`), so held funds never stay
///   stuck when a vendor neither captures nor voids;
/// - an incentive lot past its expiry is expired (what is left returns to its issuer);
/// - a vendor whose settlement policy is met (amount threshold reached, or period elapsed) is
///   settled (`settle(force: false)`: the ledger decides whether it is due);
/// - a referred user's referral reward is paid once the ledger's policy is met.
///
/// It learns what to watch by tailing the journal (only the few event types that matter are
/// decoded). Every action is an ordinary ledger command: a refusal (already captured, not yet
/// due) changes nothing and is simply not retried until something changes.
///
/// What it has learnt is small (open holds, lots with an expiry, vendors with a policy,
/// referred users), but learning it reads every purchase of the journal: about 25 s of CPU per
/// 10 million events at each start. So it keeps a checkpoint (`statePath`): its state and the
/// sequence and hash of the last event it folded, saved every `checkpointEvents` events and at
/// shutdown, checked by a SHA-256 of its bytes. A restart resumes from it if this journal holds
/// that event with that hash; a missing, damaged or foreign checkpoint is set aside with a
/// warning and the journal is read from the start, as before. The checkpoint is only ever a
/// shortcut: the journal decides.
public final class Sweeper: Sendable {
    struct State: Codable, Equatable {
        var next: UInt64 = 1
        var holds: [String: UInt64] = [:]
        var lots: [String: UInt64] = [:]
        /// Vendors with a settlement policy, by currency they have earned in.
        var payables: Set<String> = []
        var policies: [String: SettlementPolicy] = [:]
        /// Referred users not yet rewarded, and whether they have bought since the last try.
        var referred: [String: Bool] = [:]
        /// Referred users to try again at a time: a purchase too recent to count when they were
        /// tried counts once the policy's confirmation window has passed.
        var referralRetries: [String: UInt64] = [:]
        var lastSettleAttempt: UInt64 = 0
    }

    let ledger: Ledger
    let clock: @Sendable () -> UInt64
    let logger: Logger
    let state = Mutex(State())
    /// Where the checkpoint is kept; nil keeps none.
    let statePath: String?
    /// Events folded between two checkpoints.
    let checkpointEvents: UInt64
    /// The last sequence saved (or resumed from), and whether the checkpoint was looked for.
    private let checkpointed = Mutex((through: UInt64(0), restored: false))
    static let watched: Set<String> = [
        "PurchaseAuthorized", "PurchaseCaptured", "PurchaseVoided", "IncentiveIssued", "IncentiveExpired", "VendorRegistered",
        "VendorUpdated", "AccountOpened", "ReferralRewarded", "DisputeResolved", "PurchaseRefunded",
    ]
    /// How often due settlements and referral rewards are tried.
    let settleEveryMilliseconds: UInt64 = 10_000

    public init(
        ledger: Ledger, clock: @escaping @Sendable () -> UInt64, logger: Logger, statePath: String? = nil,
        checkpointEvents: UInt64 = 100_000
    ) {
        self.ledger = ledger
        self.clock = clock
        self.logger = logger
        self.statePath = statePath
        self.checkpointEvents = checkpointEvents
    }

    /// The checkpoint of a data directory's sweeper.
    public static func statePath(in dataDirectory: String) -> String {
        ServerSecrets.directory(in: dataDirectory) + "/sweeper.state"
    }

    /// Folds the journal's new events into what the sweeper watches (from its checkpoint, at
    /// the first call), and saves a checkpoint when `checkpointEvents` more have been folded.
    func catchUp() throws {
        restoreOnce()
        var next = state.withLock { $0.next }
        while true {
            let events = try ledger.journal.events(from: next, limit: 4096)
            guard let last = events.last else { break }
            var decoded: [Watched] = []
            for stored in events where Self.watched.contains(stored.typeName) {
                // A purchase, by far the most common, is read only as far as the sweeper needs.
                if stored.typeName == "PurchaseCaptured", let summary = CaptureSummary(purchaseCaptured: stored.payload) {
                    decoded.append(.captured(summary))
                } else {
                    decoded.append(.event(try LedgerEvent(typeName: stored.typeName, payload: stored.payload)))
                }
            }
            state.withLock { state in
                for watched in decoded {
                    switch watched {
                    case .captured(let summary): Self.noteCapture(summary, in: &state)
                    case .event(let event): Self.note(event, in: &state)
                    }
                }
                state.next = last.sequence + 1
            }
            next = last.sequence + 1
        }
        if next - 1 >= checkpointed.withLock({ $0.through }) + checkpointEvents { saveCheckpoint() }
    }

    // MARK: Checkpoint

    /// The checkpoint's content; the file is this JSON, a newline, and its SHA-256 in hex.
    struct Checkpoint: Codable {
        static let currentVersion = 1
        var version: Int
        /// The last event folded into `state` (0: none), and its hash in hex.
        var through: UInt64
        var eventHash: String
        var state: State
    }

    struct CheckpointRefused: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    /// Saves the state as it is now. A failure is logged: the next save, or a full read of the
    /// journal after a restart, makes up for it.
    func saveCheckpoint() {
        guard let statePath else { return }
        let state = state.withLock { $0 }
        let through = state.next - 1
        do {
            let eventHash = through == 0 ? "" : try ledger.journal.event(at: through)?.hash.hex ?? ""
            let checkpoint = Checkpoint(version: Checkpoint.currentVersion, through: through, eventHash: eventHash, state: state)
            try Data(try Self.bytes(of: checkpoint)).write(to: URL(fileURLWithPath: statePath), options: .atomic)
            // Like the other files of `server/` (a directory only the owner may enter).
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: statePath)
            checkpointed.withLock { $0.through = through }
        } catch {
            logger.warning("sweeper: could not save its checkpoint", metadata: ["path": "\(statePath)", "error": "\(error)"])
        }
    }

    /// A checkpoint file's bytes.
    static func bytes(of checkpoint: Checkpoint) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = Array(try encoder.encode(checkpoint))
        return body + Array(("\n" + SHA256.hash(body).hex + "\n").utf8)
    }

    /// The checkpoint in `bytes`, checked against this journal.
    func checkpoint(from bytes: [UInt8]) throws -> Checkpoint {
        let digestLength = 64 + 1
        guard bytes.count > digestLength + 1, bytes.last == 0x0A, bytes[bytes.count - digestLength - 1] == 0x0A else {
            throw CheckpointRefused(reason: "it does not end in a newline and a SHA-256")
        }
        let body = Array(bytes[..<(bytes.count - digestLength - 1)])
        let digest = String(decoding: bytes[(bytes.count - digestLength)..<(bytes.count - 1)], as: UTF8.self)
        guard SHA256.hash(body).hex == digest else { throw CheckpointRefused(reason: "its SHA-256 does not match its bytes") }
        let checkpoint: Checkpoint
        do {
            checkpoint = try JSONDecoder().decode(Checkpoint.self, from: Data(body))
        } catch {
            throw CheckpointRefused(reason: "it does not decode: \(error)")
        }
        guard checkpoint.version == Checkpoint.currentVersion else {
            throw CheckpointRefused(reason: "version \(checkpoint.version), this server reads \(Checkpoint.currentVersion)")
        }
        guard checkpoint.through < .max, checkpoint.state.next == checkpoint.through + 1 else {
            throw CheckpointRefused(reason: "its state goes on from \(checkpoint.state.next), after event \(checkpoint.through)")
        }
        if checkpoint.through > 0 {
            guard let event = try ledger.journal.event(at: checkpoint.through) else {
                throw CheckpointRefused(reason: "it ends at event \(checkpoint.through), past the journal's last")
            }
            guard event.hash.hex == checkpoint.eventHash else {
                throw CheckpointRefused(reason: "event \(checkpoint.through) of this journal has another hash")
            }
        }
        return checkpoint
    }

    /// At the first catch-up: resumes from the checkpoint, or sets aside one that cannot be used.
    private func restoreOnce() {
        guard let statePath, !checkpointed.withLock({ $0.restored }) else { return }
        checkpointed.withLock { $0.restored = true }
        guard let data = FileManager.default.contents(atPath: statePath) else { return }
        do {
            let checkpoint = try checkpoint(from: Array(data))
            state.withLock { state in
                state = checkpoint.state
                // When settlements were last tried is the clock's, not the checkpoint's: try at once.
                state.lastSettleAttempt = 0
            }
            checkpointed.withLock { $0.through = checkpoint.through }
            logger.info("sweeper: resumed from its checkpoint", metadata: ["through": "\(checkpoint.through)"])
        } catch {
            logger.warning(
                "sweeper: its checkpoint is set aside; reading the journal from the start",
                metadata: ["path": "\(statePath)", "reason": "\(error)"])
        }
    }

    enum Watched {
        case captured(CaptureSummary)
        case event(LedgerEvent)
    }

    static func noteCapture(_ captured: CaptureSummary, in state: inout State) {
        state.holds.removeValue(forKey: captured.transaction)
        if state.policies[captured.vendor] != nil { state.payables.insert(captured.vendor + " " + captured.currency.code) }
        if state.referred[captured.user] != nil { state.referred[captured.user] = true }
    }

    static func note(_ event: LedgerEvent, in state: inout State) {
        switch event {
        case .purchaseAuthorized(let held):
            state.holds[held.transaction] = held.holdExpiresAtMilliseconds
        case .purchaseCaptured(let captured):
            noteCapture(CaptureSummary(transaction: captured.transaction, user: captured.user, vendor: captured.vendor, currency: captured.terms.currency), in: &state)
        case .purchaseVoided(let voided):
            state.holds.removeValue(forKey: voided.transaction)
            noteTokensBack(voided.postings, in: &state)
        case .disputeResolved(let resolved):
            noteTokensBack(resolved.postings, in: &state)
        case .purchaseRefunded(let refund):
            noteTokensBack(refund.postings, in: &state)
        case .incentiveIssued(let issued):
            if let expiry = issued.expiresAtMilliseconds { state.lots[issued.lot] = expiry }
        case .incentiveExpired(let expired):
            state.lots.removeValue(forKey: expired.lot)
        case .vendorRegistered(let registered):
            if registered.settlement.hasTrigger {
                state.policies[registered.vendor] = registered.settlement
            }
        case .vendorUpdated(let updated):
            if let policy = updated.settlement { state.policies[updated.vendor] = policy }
        case .accountOpened(let opened):
            if opened.referringVendor != nil { state.referred[opened.user] = false }
        case .referralRewarded(let rewarded):
            state.referred.removeValue(forKey: rewarded.user)
            state.referralRetries.removeValue(forKey: rewarded.user)
        default:
            break
        }
    }

    /// Tokens given back to a lot by a void or a refund after the lot expired would stay there
    /// for good: each such lot is looked at again (expired again at once if its time has
    /// passed; forgotten if it never expires).
    static func noteTokensBack(_ postings: [Posting], in state: inout State) {
        for posting in postings where posting.credit.hasPrefix("lot:") {
            let name = posting.credit.dropFirst(4)
            guard let colon = name.lastIndex(of: ":") else { continue }
            let lot = String(name[..<colon])
            if state.lots[lot] == nil { state.lots[lot] = 0 }
        }
    }

    /// One pass: catches up with the journal, then runs whatever is due at the clock's time.
    /// Returns the commands accepted (for tests and logs).
    @discardableResult
    public func sweep() async throws -> [LedgerCommand] {
        try catchUp()
        let now = clock()
        var commands: [LedgerCommand] = []
        let (holds, lots, payables, referred, bought, settleNow) = state.withLock { state -> ([String], [String], [String], [String], Set<String>, Bool) in
            let holds = state.holds.filter { $0.value <= now }.keys.sorted()
            let lots = state.lots.filter { $0.value <= now }.keys.sorted()
            var settleNow = false
            if now >= state.lastSettleAttempt + settleEveryMilliseconds {
                state.lastSettleAttempt = now
                settleNow = true
            }
            // Referred users who bought since their last try, and those whose retry is due.
            var bought = Set<String>()
            var referred: [String] = []
            if settleNow {
                bought = Set(state.referred.filter { $0.value }.keys)
                for user in bought { state.referred[user] = false }
                let retries = state.referralRetries.filter { $0.value <= now }.keys
                for user in retries { state.referralRetries.removeValue(forKey: user) }
                referred = bought.union(retries).sorted()
            }
            return (holds, lots, settleNow ? state.payables.sorted() : [], referred, bought, settleNow)
        }
        for transaction in holds {
            commands += await attempt(.expireHold(transaction: transaction)) { state in state.holds.removeValue(forKey: transaction) }
        }
        for lot in lots {
            commands += await attempt(.expireIncentive(lot: lot)) { state in state.lots.removeValue(forKey: lot) }
        }
        if settleNow {
            for entry in payables {
                let parts = entry.split(separator: " ")
                guard parts.count == 2, let currency = Currency(code: String(parts[1])) else { continue }
                commands += await attempt(.settle(vendor: String(parts[0]), currency: currency, force: false)) { _ in }
            }
            for user in referred {
                let tried = await attempt(.rewardReferral(user: user)) { _ in }
                commands += tried
                if tried.isEmpty && bought.contains(user) { scheduleReferralRetry(user, now: now) }
            }
        }
        return commands
    }

    /// Runs a command; on a refusal, `forget` drops what made the sweeper try it when the
    /// refusal is final (the hold was captured meanwhile, the lot is spent).
    private func attempt(_ command: LedgerCommand, forget: (inout State) -> Void) async -> [LedgerCommand] {
        do {
            _ = try await ledger.execute(command)
            return [command]
        } catch let rejection as LedgerRejection {
            switch rejection.rule {
            case .unknownTransaction, .unknownIncentive:
                state.withLock { forget(&$0) }
            case .transactionNotHeld:
                // Also the answer for a hold not yet expired by the ledger's clock: forget it
                // only once it is really no longer held (captured or voided meanwhile).
                if case .expireHold(let transaction) = command,
                    let record = try? ledger.read({ try $0.transaction(transaction) }), record.status != .held
                {
                    state.withLock { forget(&$0) }
                }
            case .nothingToSettle where isLotExpiry(command):
                state.withLock { forget(&$0) }
            case .incentiveNotExpired:
                // Looked at again after tokens came back: a lot that never expires is
                // forgotten; one that expires later waits for its time.
                if case .expireIncentive(let lot) = command, let record = try? ledger.read({ try $0.incentiveLot(lot) }) {
                    state.withLock { state in
                        if let expiry = record.expiresAtMilliseconds { state.lots[lot] = expiry } else { forget(&state) }
                    }
                }
            default:
                break
            }
            logger.debug("sweeper: refused", metadata: ["command": "\(command)", "rule": "\(rejection.rule.name)"])
            return []
        } catch {
            logger.warning("sweeper: command failed", metadata: ["command": "\(command)", "error": "\(error)"])
            return []
        }
    }

    /// After a referral reward was refused (not enough confirmed spending yet): try once more
    /// when every purchase made so far is past the policy's confirmation window. Tried again
    /// after that only when the user buys again.
    private func scheduleReferralRetry(_ user: String, now: UInt64) {
        guard let window = try? ledger.read({ state -> UInt64? in
            guard let vendor = try state.user(user)?.referringVendor, try state.referral(user: user) == nil else { return nil }
            return try state.referralPolicy(vendor: vendor)?.confirmationSeconds
        }) ?? nil else { return }
        let at = now + window * 1000 + 1_000
        self.state.withLock { state in
            guard state.referred[user] != nil else { return }
            state.referralRetries[user] = max(state.referralRetries[user] ?? 0, at)
        }
    }

    private func isLotExpiry(_ command: LedgerCommand) -> Bool {
        if case .expireIncentive = command { return true }
        return false
    }
}

/// Runs the sweeper once a second for the life of the application, and saves its checkpoint
/// when the application stops.
struct SweeperService: Service {
    let sweeper: Sweeper

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await sweeper.sweep()
                } catch {
                    sweeper.logger.warning("sweeper pass failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        sweeper.saveCheckpoint()
    }
}

extension Sweeper.State {
    /// A checkpoint written before referral retries were kept reads as having none, rather
    /// than being set aside (which would read the whole journal again).
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        next = try container.decode(UInt64.self, forKey: .next)
        holds = try container.decode([String: UInt64].self, forKey: .holds)
        lots = try container.decode([String: UInt64].self, forKey: .lots)
        payables = try container.decode(Set<String>.self, forKey: .payables)
        policies = try container.decode([String: SettlementPolicy].self, forKey: .policies)
        referred = try container.decode([String: Bool].self, forKey: .referred)
        referralRetries = try container.decodeIfPresent([String: UInt64].self, forKey: .referralRetries) ?? [:]
        lastSettleAttempt = try container.decode(UInt64.self, forKey: .lastSettleAttempt)
    }
}
