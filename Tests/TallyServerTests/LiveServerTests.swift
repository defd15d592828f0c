import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TallyCrypto
import TallyTestSupport
import Testing
@testable import TallyServer

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The API over real HTTP against the real `tally serve` process on 127.0.0.1, including a
/// SIGKILL of the server: what it acknowledged is there after the restart.
@Suite("Live server over HTTP", .serialized)
struct LiveServerTests {
    static let adminKey = "adm_live_test_key_0123456789"

    struct HTTP {
        let base: String

        func call(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8]? = nil) async throws -> (Int, [String: Any]) {
            var request = URLRequest(url: URL(string: base + path)!)
            request.httpMethod = method
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            if let body {
                request.httpBody = Data(body)
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            let (data, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            return (status, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
        }

        func json(_ object: Any) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object)) }

        func admin(_ path: String, _ object: Any) async throws -> (Int, [String: Any]) {
            try await call("POST", path, headers: ["Authorization": "Bearer \(LiveServerTests.adminKey)"], body: json(object))
        }

        func user(_ session: String, _ method: String, _ path: String, _ object: Any? = nil) async throws -> (Int, [String: Any]) {
            try await call(method, path, headers: ["Authorization": "Bearer \(session)"], body: object.map(json))
        }

        func vendor(keyID: String, secret: [UInt8], _ path: String, _ object: Any, key: String) async throws -> (Int, [String: Any]) {
            let body = json(object)
            let timestamp = "\(Int(Date().timeIntervalSince1970))"
            let nonce = Hex.encode(SecureRandom.bytes(12))
            let signature = VendorSignature.sign(
                secret: secret, method: "POST", pathAndQuery: path, timestamp: timestamp, nonce: nonce, idempotencyKey: key, body: body)
            return try await call("POST", path, headers: [
                "Tally-Key": keyID, "Tally-Timestamp": timestamp, "Tally-Nonce": nonce, "Tally-Signature": signature, "Idempotency-Key": key,
            ], body: body)
        }
    }

    @Test("a vendor sells to a user over real HTTP; after SIGKILL and restart every acknowledged purchase is there")
    func purchaseSurvivesKill() async throws {
        let directory = TemporaryDirectory()
        let data = directory.path + "/data"
        let arguments = ["--admin-key", Self.adminKey, "--scrypt-log2n", "10"]
        var (process, output, errors) = try ServeProcessTests.start(dataDirectory: data, extra: arguments)
        var port = try #require(try await ServeProcessTests.port(from: output, process: process), "no address printed: \(errors.current)")
        var http = HTTP(base: "http://127.0.0.1:\(port)")

        let (vendorStatus, vendor) = try await http.admin("/v1/admin/vendors", [
            "name": "Live", "sites": ["https://live.example/"], "feeBasisPoints": 500, "settlement": ["thresholdAmount": 100_000],
        ])
        #expect(vendorStatus == 201)
        let keyID = try #require(vendor["keyId"] as? String)
        let secretHex = try #require(vendor["secret"] as? String)
        let secret = try #require(Hex.decode(secretHex))
        let (signupStatus, _) = try await http.call("POST", "/v1/signup", body: http.json([
            "login": "live-user", "password": "a long enough password", "name": "Live User", "email": "live@example.org",
        ]))
        #expect(signupStatus == 201)
        let (_, login) = try await http.call("POST", "/v1/login", body: http.json(["login": "live-user", "password": "a long enough password"]))
        let session = try #require(login["session"] as? String)
        #expect(try await http.user(session, "POST", "/v1/me/wallets", ["currency": "USD"]).0 == 201)
        #expect(try await http.user(session, "POST", "/v1/me/funds", ["currency": "USD", "amount": 10_000, "method": "card"]).0 == 201)
        let (_, tokenReply) = try await http.user(session, "POST", "/v1/me/purchase-token")
        let token = try #require(tokenReply["purchaseToken"] as? String)

        var acknowledged: [String] = []
        for index in 0..<20 {
            let (status, purchase) = try await http.vendor(keyID: keyID, secret: secret, "/v1/vendor/purchases", [
                "purchaseToken": token,
                "inline": ["content": "item-\(index)", "title": "Item", "price": 100 + index, "currency": "USD", "url": "https://live.example/\(index)"],
            ], key: "live-\(index)")
            #expect(status == 201)
            if status == 201, let transaction = purchase["transaction"] as? String { acknowledged.append(transaction) }
        }
        let spent = (0..<20).reduce(0) { $0 + 100 + $1 }

        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        (process, output, errors) = try ServeProcessTests.start(dataDirectory: data, extra: arguments)
        port = try #require(try await ServeProcessTests.port(from: output, process: process), "no address after restart: \(errors.current)")
        http = HTTP(base: "http://127.0.0.1:\(port)")
        let (_, relogin) = try await http.call("POST", "/v1/login", body: http.json(["login": "live-user", "password": "a long enough password"]))
        let newSession = try #require(relogin["session"] as? String)
        let (_, summary) = try await http.user(newSession, "GET", "/v1/me/purchases?minSequence=1")
        let transactions = ((summary["data"] as? [String: Any])?["purchases"] as? [[String: Any]])?.compactMap { $0["transaction"] as? String } ?? []
        #expect(Set(acknowledged).isSubset(of: Set(transactions)), "every acknowledged purchase survived the kill")
        let (_, wallets) = try await http.user(newSession, "GET", "/v1/me/wallets")
        let usd = ((wallets["data"] as? [String: Any])?["wallets"] as? [[String: Any]])?.first
        #expect(usd?["balance"] as? Int == 10_000 - spent)
        // A retry of an acknowledged purchase after the restart is answered, not charged again.
        let (retryStatus, retry) = try await http.vendor(keyID: keyID, secret: secret, "/v1/vendor/purchases", [
            "purchaseToken": token,
            "inline": ["content": "item-0", "title": "Item", "price": 100, "currency": "USD", "url": "https://live.example/0"],
        ], key: "live-0")
        #expect(retryStatus == 201)
        #expect(retry["transaction"] as? String == acknowledged.first)
        process.terminate()
        process.waitUntilExit()
    }
}

@Suite("Live server connections", .serialized)
struct LiveConnectionTests {
    /// A TCP connection that says nothing.
    static func connect(port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(descriptor >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(descriptor)
            throw POSIXError(.ECONNREFUSED)
        }
        return descriptor
    }

    /// Sends `request` raw on a new connection and returns what the server answers until it
    /// closes the connection (or 10 s pass). A write the server refuses early is not an error.
    static func exchange(port: Int, _ request: [UInt8]) throws -> String {
        let descriptor = try connect(port: port)
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var offset = 0
        while offset < request.count {
            let sent = request[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { break }
            offset += sent
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test("a chunked body over the limit is refused with 413, broken chunk framing with 400: the client's fault, never a 500")
    func streamedBodies() async throws {
        let directory = TemporaryDirectory()
        let (process, output, errors) = try ServeProcessTests.start(dataDirectory: directory.path + "/data")
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let port = try #require(try await ServeProcessTests.port(from: output, process: process), "no address printed: \(errors.current)")
        let head = "POST /v1/signup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"

        var large = Array(head.utf8)
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 8192)
        for _ in 0..<9 { large += Array("2000\r\n".utf8) + chunk + Array("\r\n".utf8) }
        large += Array("0\r\n\r\n".utf8)
        let tooLarge = try Self.exchange(port: port, large)
        #expect(tooLarge.hasPrefix("HTTP/1.1 413"), "\(tooLarge.prefix(300))")
        #expect(tooLarge.contains("body-too-large"))

        let broken = try Self.exchange(port: port, Array((head + "zz\r\n{}\r\n0\r\n\r\n").utf8))
        #expect(broken.hasPrefix("HTTP/1.1 400"), "\(broken.prefix(300))")
        #expect(!broken.contains("internal"))
    }

    /// Sends `bytes` on `descriptor` one every `interval` on a thread of its own, until they
    /// are all sent, a send fails (the server closed) or `stop()` is called.
    final class Trickle: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        private(set) var sent = 0

        init(descriptor: Int32, _ bytes: [UInt8], interval: TimeInterval) {
            Thread.detachNewThread { [self] in
                for byte in bytes {
                    if lock.withLock({ stopped }) { return }
                    var one = byte
                    guard send(descriptor, &one, 1, Int32(MSG_NOSIGNAL)) == 1 else { return }
                    lock.withLock { sent += 1 }
                    Thread.sleep(forTimeInterval: interval)
                }
            }
        }

        var count: Int { lock.withLock { sent } }
        func stop() { lock.withLock { stopped = true } }
    }

    /// What the server says on `descriptor` until it closes the connection, and whether it did
    /// (rather than `seconds` passing with nothing more said).
    static func readUntilClosed(_ descriptor: Int32, seconds: Int) -> (answer: String, closed: Bool) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count == 0 { return (String(decoding: answer, as: UTF8.self), true) }
            if count < 0 { return (String(decoding: answer, as: UTF8.self), errno == ECONNRESET) }
            answer += buffer[0..<count]
        }
    }

    @Test("a body trickled in a byte at a time gets 408 once the body timeout has passed, and its connection is closed")
    func slowBody() async throws {
        let directory = TemporaryDirectory()
        let serving = try await ServeProcessTests.serving(directory.path + "/data", extra: ["--body-timeout", "2", "--idle-timeout", "60"])
        defer {
            serving.process.terminate()
            serving.process.waitUntilExit()
        }
        // A route that reads the body (signup) answers 408; one that answers without reading it
        // (logout, refused for want of a session) has its connection closed all the same.
        for (path, status) in [("/v1/signup", "408"), ("/v1/logout", "401")] {
            let descriptor = try Self.connect(port: serving.port)
            defer { close(descriptor) }
            let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"
            _ = Array(head.utf8).withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // 200 of the 400 bytes at 4 a second: the body is never complete, and each byte
            // comes well within the idle timeout.
            let trickle = Trickle(descriptor: descriptor, [UInt8](repeating: UInt8(ascii: " "), count: 200), interval: 0.25)
            defer { trickle.stop() }
            let (answer, closed) = Self.readUntilClosed(descriptor, seconds: 30)
            #expect(answer.hasPrefix("HTTP/1.1 \(status)"), "\(path): \(answer.prefix(300))")
            #expect(closed, "\(path): the server closed the connection (got \(answer.prefix(300)))")
            #expect(trickle.count < 200, "\(path): closed while the body was still coming")
            if status == "408" {
                #expect(answer.contains("body-timeout"))
                #expect(answer.lowercased().contains("connection: close"))
            }
        }
        // The server still answers.
        let health = try Self.exchange(port: serving.port, Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        #expect(health.hasPrefix("HTTP/1.1 200"))
    }

    @Test("a request head trickled a byte at a time is cut off once the idle timeout has passed")
    func slowHead() async throws {
        let directory = TemporaryDirectory()
        let serving = try await ServeProcessTests.serving(directory.path + "/data", extra: ["--idle-timeout", "5"])
        defer {
            serving.process.terminate()
            serving.process.waitUntilExit()
        }
        // A head that never ends, one byte every 0.25 s: each byte comes well within the idle
        // timeout, which must not restart with it (it counts whole heads and pieces of body),
        // or the client could hold the connection for as long as it liked.
        let slow = try Self.connect(port: serving.port)
        defer { close(slow) }
        let head = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + String(repeating: "a", count: 200)
        let trickle = Trickle(descriptor: slow, Array(head.utf8), interval: 0.25)
        defer { trickle.stop() }
        let (answer, closed) = Self.readUntilClosed(slow, seconds: 30)
        #expect(closed, "the server closed the connection (got \(answer.prefix(300)))")
        #expect(answer.isEmpty, "no answer to a request that never arrived: \(answer.prefix(300))")
        #expect(trickle.count < head.utf8.count, "closed while the head was still coming")
    }

    @Test("a request that is not HTTP gets a problem document (400, or 431 for headers over the limits) and its connection is closed")
    func malformedRequests() async throws {
        let directory = TemporaryDirectory()
        let serving = try await ServeProcessTests.serving(directory.path + "/data")
        defer {
            serving.process.terminate()
            serving.process.waitUntilExit()
        }
        let garbage = [
            "GET /health HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",  // a header without a colon
            "GET /he alth HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  // a space in the target
            "\u{1}\u{2}\u{3} not HTTP at all\r\n\r\n",
        ]
        for request in garbage {
            let answer = try Self.exchange(port: serving.port, Array(request.utf8))
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(request.debugDescription): \(answer.prefix(300))")
            #expect(answer.lowercased().contains("content-type: application/problem+json"), "\(answer.prefix(300))")
            #expect(answer.lowercased().contains("connection: close"), "\(answer.prefix(300))")
            let body = try #require(answer.range(of: "\r\n\r\n").map { answer[$0.upperBound...] })
            let problem = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "\(body)")
            #expect(problem["type"] as? String == ProblemDocument.typeBase + "malformed-request")
            #expect(problem["status"] as? Int == 400)
        }
        // Behind a pipelined request: its answer first, then the problem.
        let pipelined = try Self.exchange(port: serving.port, Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGARBAGE\r\n\r\n".utf8))
        #expect(pipelined.hasPrefix("HTTP/1.1 200"), "\(pipelined.prefix(300))")
        let second = try #require(pipelined.range(of: "HTTP/1.1 400"), "\(pipelined)")
        #expect(pipelined[second.lowerBound...].contains("malformed-request"), "\(pipelined)")
        // 1,001 header fields: one over the decoder's count.
        let many = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (0..<1001).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        let tooMany = try Self.exchange(port: serving.port, Array(many.utf8))
        #expect(tooMany.hasPrefix("HTTP/1.1 431"), "\(tooMany.prefix(300))")
        #expect(tooMany.contains("headers-too-large"))
        // A well-formed request on a fresh connection is still answered.
        let health = try Self.exchange(port: serving.port, Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        #expect(health.hasPrefix("HTTP/1.1 200"))
    }

    @Test("an idle connection is closed by the server after the idle timeout")
    func idleTimeout() async throws {
        let directory = TemporaryDirectory()
        let (process, output, errors) = try ServeProcessTests.start(dataDirectory: directory.path + "/data", extra: ["--idle-timeout", "1"])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let port = try #require(try await ServeProcessTests.port(from: output, process: process), "no address printed: \(errors.current)")
        let descriptor = try Self.connect(port: port)
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        // Blocks until the server closes the connection (0 = end of stream), or 10 s pass (-1).
        let count = read(descriptor, &byte, 1)
        #expect(count == 0, "the server closed the idle connection (read gave \(count), errno \(errno))")
    }
}
