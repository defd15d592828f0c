import Foundation
import Hummingbird
import HummingbirdTesting
import Journal
import TallyTestSupport
import Testing
@testable import TallyServer

@Suite("Health routes")
struct HealthRouteTests {
    @Test("/health answers ok and /ready reports the journal's sequence")
    func healthAndReady() async throws {
        let directory = TemporaryDirectory()
        let journal = try Journal.open(Journal.Configuration(directory: directory.path))
        _ = try await journal.append(EventDraft(typeName: "test.event", payload: [1]))
        let application = Application(router: TallyServer.makeRouter(journal: journal))
        try await application.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            }
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(body?["status"] as? String == "ready")
                #expect(body?["journalSequence"] as? Int == 1)
            }
        }
        journal.close()
    }

    @Test("an unknown path is a 404")
    func unknownPath() async throws {
        let directory = TemporaryDirectory()
        let journal = try Journal.open(Journal.Configuration(directory: directory.path))
        let application = Application(router: TallyServer.makeRouter(journal: journal))
        try await application.test(.router) { client in
            try await client.execute(uri: "/nothing-here", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
        journal.close()
    }
}
