import Ledger
import Projections

// The replies of the hottest reads (a user's wallets and history, in a `Snapshot`), written by
// hand: `JSONEncoder` was the largest single cost of a read (≈ 19 % of the server's CPU at
// 4,000 reads/s). The views' writers are in Projections (ViewJSON.swift, shared with the
// canonical dump); `ReadReplyTests` compares the replies with `JSONResponse.encoder`.

extension Snapshot: HandWrittenJSON where Value: HandWrittenJSON {
    func writeJSON(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.key("data", first: true); data.writeJSON(to: &writer)
            writer.key("sequence"); writer.unsigned(sequence)
        }
    }
}

extension WalletsView: HandWrittenJSON {}
extension HistoryPage: HandWrittenJSON {}
