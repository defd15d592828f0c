import Foundation
import TallyTestSupport
import Testing

/// `tally call`, the command-line client, run as a real process against a real `tally serve`.
@Suite("tally call, the command-line client")
struct CallCommandTests {
    static func call(_ arguments: [String], input: Data? = nil, environment: [String: String] = [:]) throws -> ChildRun {
        try ChildRun.run(ServeProcessTests.tallyPath, ["call"] + arguments, input: input, environment: environment)
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test("customer service, a vendor (signed) and a user each call the real server; a retry with the printed key is answered byte for byte")
    func rolesAgainstTheRealServer() async throws {
        let directory = TemporaryDirectory()
        let server = try await ServeProcessTests.serving(directory.path + "/data", extra: ServeProcessTests.withAdmin)
        defer { server.process.terminate(); server.process.waitUntilExit() }
        let url = ["--url", "http://127.0.0.1:\(server.port)"]

        // Customer service registers a vendor with the admin key.
        let registered = try Self.call(url + ["--bearer", ServeProcessTests.adminKey, "POST", "/v1/admin/vendors",
            #"{"name":"News","sites":["https://news.example/"],"feeBasisPoints":500,"settlement":{"thresholdAmount":100000}}"#])
        #expect(registered.status == 0, "\(registered.summary)")
        #expect(registered.errors.hasPrefix("HTTP/1.1 201"))
        let vendor = Self.json(registered.output)
        let keyID = try #require(vendor["keyId"] as? String, "\(registered.summary)")
        let secret = try #require(vendor["secret"] as? String)

        // The vendor registers content from a file: the request is signed, and a fresh
        // idempotency key is generated and printed.
        let contentFile = directory.path + "/article.json"
        let content = #"{"content":"a1","title":"An article","price":250,"currency":"USD","url":"https://news.example/a1","description":"words","access":{"views":3,"days":30},"royalties":[{"holder":"author-1","basisPoints":1000}]}"#
        try Data(content.utf8).write(to: URL(fileURLWithPath: contentFile))
        let asVendor = url + ["--vendor-key", keyID, "--vendor-secret", secret]
        let first = try Self.call(asVendor + ["POST", "/v1/vendor/content", "@" + contentFile])
        #expect(first.status == 0, "\(first.summary)")
        #expect(Self.json(first.output)["content"] as? String == "a1")
        let printed = try #require(first.errors.firstMatch(of: /Idempotency-Key: (call-[0-9a-f]+)/)?.output.1, "\(first.summary)")

        // A retry with that key returns the first answer byte for byte; nothing new is appended.
        let retry = try Self.call(asVendor + ["--idempotency-key", String(printed), "-i", "POST", "/v1/vendor/content", "@" + contentFile])
        #expect(retry.status == 0, "\(retry.summary)")
        #expect(retry.output == first.output)
        #expect(retry.errors.lowercased().contains("idempotent-replayed: true"), "\(retry.summary)")

        // A signed read, with credentials from the environment.
        let contentSequence = try #require((Self.json(first.output)["sequence"] as? NSNumber)?.intValue)
        let settlement = try Self.call(url + ["GET", "/v1/vendor/settlement?minSequence=\(contentSequence)"],
                                       environment: ["TALLY_VENDOR_KEY": keyID, "TALLY_VENDOR_SECRET": secret])
        #expect(settlement.status == 0, "\(settlement.summary)")
        #expect((Self.json(settlement.output)["data"] as? [String: Any])?["name"] as? String == "News")

        // A wrong secret is refused by the server: exit 1, the problem document on stdout.
        let forged = try Self.call(url + ["--vendor-key", keyID, "--vendor-secret", String(repeating: "ab", count: 32), "GET", "/v1/vendor/settlement"])
        #expect(forged.status == 1)
        #expect(forged.errors.hasPrefix("HTTP/1.1 401"))
        #expect(Self.json(forged.output)["type"] as? String == "https://tally.example/problems/signature-invalid")

        // A user signs up with the body on stdin, logs in, and reads the wallets with the session.
        let signup = try Self.call(url + ["POST", "/v1/signup", "-"],
                                   input: Data(#"{"login":"ann","password":"a long password","name":"Ann","email":"ann@example.org"}"#.utf8))
        #expect(signup.status == 0, "\(signup.summary)")
        let login = try Self.call(url + ["POST", "/v1/login", #"{"login":"ann","password":"a long password"}"#])
        let session = try #require(Self.json(login.output)["session"] as? String, "\(login.summary)")
        let opened = try Self.call(url + ["--bearer", session, "POST", "/v1/me/wallets", #"{"currency":"USD"}"#])
        #expect(opened.status == 0, "\(opened.summary)")
        let walletSequence = try #require((Self.json(opened.output)["sequence"] as? NSNumber)?.intValue, "\(opened.summary)")
        let wallets = try Self.call(url + ["GET", "/v1/me/wallets?minSequence=\(walletSequence)"], environment: ["TALLY_BEARER": session])
        #expect(wallets.status == 0, "\(wallets.summary)")
        #expect(wallets.output.contains(#""currency":"USD""#), "\(wallets.summary)")

        // The change feed streams (chunked) until the wait bound ends the call: exit 3, with
        // the events it had printed.
        let feed = try Self.call(asVendor + ["--timeout", "1", "GET", "/v1/vendor/feed?from=1"])
        #expect(feed.status == 3, "\(feed.summary)")
        #expect(feed.output.contains("event: VendorRegistered"), "\(feed.summary)")
        #expect(feed.output.contains("event: ContentRegistered"), "\(feed.summary)")
        #expect(feed.errors.contains("timed out waiting for the server"), "\(feed.summary)")
    }

    @Test("a stopping server ends the change feed it serves: the client sees the stream finish, not a broken connection")
    func feedEndsWhenTheServerStops() async throws {
        let directory = TemporaryDirectory()
        let auditorKey = "call-test-auditor-key-0123456789"
        let server = try await ServeProcessTests.serving(
            directory.path + "/data", extra: ServeProcessTests.withAdmin + ["--auditor-key", auditorKey])
        defer { if server.process.isRunning { server.process.terminate(); server.process.waitUntilExit() } }

        let client = Process()
        client.executableURL = URL(fileURLWithPath: ServeProcessTests.tallyPath)
        client.arguments = ["call", "--url", "http://127.0.0.1:\(server.port)", "--bearer", auditorKey, "--timeout", "0",
                            "GET", "/v1/audit/feed?from=1"]
        let output = Pipe()
        let errors = Pipe()
        client.standardOutput = output
        client.standardError = errors
        try client.run()
        defer { if client.isRunning { client.terminate() } }
        let clientErrors = StreamCollector(errors.fileHandleForReading)
        let clientOutput = StreamCollector(output.fileHandleForReading)
        for _ in 0..<400 where !clientErrors.text.contains("HTTP/1.1 200") {
            try await Task.sleep(for: .milliseconds(25))
        }
        try #require(clientErrors.text.contains("HTTP/1.1 200"), "the feed was not served: \(clientErrors.text)")

        server.process.terminate()
        // A liveness bound, not a timing: before, the server never stopped while a feed was open.
        for _ in 0..<1200 where server.process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        if server.process.isRunning {
            Issue.record("the server did not stop within 60 s of SIGTERM while a change feed was open")
            kill(server.process.processIdentifier, SIGKILL)
        }
        server.process.waitUntilExit()
        client.waitUntilExit()
        clientOutput.waitForEnd()
        #expect(server.process.terminationStatus == 0, "\(server.log)")
        // Before, the feed held the stop open until the server cut the connection mid-stream
        // (the client then exits 3: "closed the connection inside the chunk size line").
        #expect(client.terminationStatus == 0, "\(clientErrors.text)")
    }

    @Test("a usage error exits 64 and names the rule; nothing is sent", arguments: [
        (["FETCH", "/health"], "METHOD must be one of"),
        (["GET", "health"], "PATH must start with /"),
        (["GET", "/a b"], "PATH must start with /"),
        (["GET", "/health", "{}"], "a GET request takes no body"),
        (["--vendor-key", "vk_1", "GET", "/health"], "needs its secret"),
        (["--vendor-secret", "00ff", "GET", "/health"], "needs its key ID"),
        (["--vendor-key", "vk_1", "--vendor-secret", "xyz", "GET", "/health"], "the vendor secret must be hex"),
        (["--bearer", "a", "--vendor-key", "vk_1", "--vendor-secret", "00", "GET", "/health"], "not both"),
        (["--url", "https://127.0.0.1:1", "GET", "/health"], "--url must start with http://"),
        (["--url", "http://127.0.0.1:1/v1", "GET", "/health"], "without a path"),
        (["--url", "http://127.0.0.1:99999", "GET", "/health"], "bad port"),
        (["--idempotency-key", "", "POST", "/v1/signup"], "--idempotency-key must be"),
        (["--timeout", "4000", "GET", "/health"], "--timeout must be"),
        (["POST", "/v1/signup", "@/nonexistent/body.json"], "cannot read the body file"),
    ])
    func usageErrors(arguments: [String], rule: String) throws {
        // Port 1 is never served here: had anything been sent, the exit would be 3, not 64.
        let run = try Self.call(["--url", "http://127.0.0.1:1"] + arguments)
        #expect(run.status == 64, "\(run.summary)")
        #expect(run.errors.contains(rule), "\(run.summary)")
        #expect(run.output.isEmpty)
    }

    @Test("both credentials in the environment are refused until a flag chooses")
    func ambiguousEnvironment() throws {
        let environment = ["TALLY_BEARER": "some-session", "TALLY_VENDOR_KEY": "vk_1", "TALLY_VENDOR_SECRET": "00ff"]
        let run = try Self.call(["--url", "http://127.0.0.1:1", "GET", "/health"], environment: environment)
        #expect(run.status == 64, "\(run.summary)")
        #expect(run.errors.contains("both TALLY_BEARER and TALLY_VENDOR_KEY"), "\(run.summary)")
    }

    @Test("a server that cannot be reached exits 3 and says where it tried")
    func unreachable() throws {
        let run = try Self.call(["--url", "http://127.0.0.1:1", "GET", "/health"])
        #expect(run.status == 3, "\(run.summary)")
        #expect(run.errors.contains("cannot connect to 127.0.0.1:1"), "\(run.summary)")
    }
}
