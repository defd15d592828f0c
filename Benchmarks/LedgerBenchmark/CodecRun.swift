import Foundation
import Ledger
import BenchmarkSupport

// Section "codec": the purchase events of the workload, encoded to the bytes the journal
// stores (`LedgerEvent.draft()`) and decoded back (`LedgerEvent(typeName:payload:)`), each
// over all N events in a row. Every reader of the journal (the read models' fold, catch-up,
// replay, rebuild, the full audit) decodes every purchase, and the ledger encodes each one it
// decides, so these two figures bound all of them.

struct CodecResult {
    var events: Int
    var bytes: Int
    var encodeSeconds: [Double]
    var decodeSeconds: [Double]
    /// Whether every decoded event equals the event that was encoded.
    var roundTrips: Bool
}

/// Decides the workload's purchases to get their events, then times `repeats` passes of
/// encoding and decoding all of them.
func measureCodec(world: MemoryWorld, commands: [LedgerCommand], repeats: Int) -> CodecResult {
    let model = MemoryWriteModel()
    model.entries = world.entries
    var sequence = world.nextSequence
    var events: [LedgerEvent] = []
    events.reserveCapacity(commands.count)
    var state = model.state()
    for (index, command) in commands.enumerated() {
        if index % 1000 == 0 {
            model.merge(state)
            state = model.state()
        }
        guard let decided = try? Ledger.decideAndFold(command, state: &state, timeMilliseconds: memoryEpochMilliseconds, nextSequence: sequence) else {
            continue
        }
        sequence += UInt64(decided.count)
        events.append(contentsOf: decided)
    }
    guard !events.isEmpty else { fail("no purchase was accepted") }

    var drafts: [(typeName: String, payload: [UInt8])] = []
    var encodeSeconds: [Double] = []
    var decodeSeconds: [Double] = []
    var sink = 0
    for _ in 0..<max(1, repeats) {
        drafts.removeAll(keepingCapacity: true)
        let start = nowNanoseconds()
        for event in events {
            do {
                let draft = try event.draft()
                drafts.append((draft.typeName, draft.payload))
            } catch {
                fail("encoding \(event.typeName): \(error)")
            }
        }
        encodeSeconds.append(seconds(since: start))

        let decodeStart = nowNanoseconds()
        for draft in drafts {
            do {
                if case .purchaseCaptured(let captured) = try LedgerEvent(typeName: draft.typeName, payload: draft.payload) {
                    sink &+= captured.postings.count
                }
            } catch {
                fail("decoding \(draft.typeName): \(error)")
            }
        }
        decodeSeconds.append(seconds(since: decodeStart))
    }
    // Untimed: the bytes decode to the events they came from.
    var roundTrips = sink > 0
    for (event, draft) in zip(events, drafts) where (try? LedgerEvent(typeName: draft.typeName, payload: draft.payload)) != event {
        roundTrips = false
        break
    }
    return CodecResult(
        events: events.count, bytes: drafts.reduce(0) { $0 + $1.payload.count }, encodeSeconds: encodeSeconds,
        decodeSeconds: decodeSeconds, roundTrips: roundTrips)
}
