import ArgumentParser
import Foundation
import TallyCrypto
import TallyServer

/// `tally call`: the command-line client. One request to a running server, authenticated the
/// way its caller would be (a vendor's HMAC signature, or a bearer key or session), the answer's
/// body on standard output and its status on standard error.
struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one request to a Tally server, signed as a vendor or with a bearer key, and print the answer.",
        discussion: """
            Who calls:
              --bearer TOKEN          customer service (the admin key), an auditor (the auditor key) or a
                                      user (a session from POST /v1/login); or $TALLY_BEARER
              --vendor-key ID --vendor-secret HEX
                                      a vendor: the request is signed with HMAC-SHA256 (Tally-Key,
                                      Tally-Timestamp, Tally-Nonce, Tally-Signature); or $TALLY_VENDOR_KEY
                                      and $TALLY_VENDOR_SECRET
              neither                 anonymous (signup, login, /health, /ready, /metrics)
            A flag wins over the environment. A vendor's write (any method but GET) carries an
            Idempotency-Key: --idempotency-key K, or a fresh one that is printed on standard error so
            that the same request can be retried safely with it.

            BODY is JSON text, @FILE for a file's contents, or - for standard input.

            The answer's body goes to standard output as received (a change feed streams until it is
            interrupted; --timeout 0 waits for it without a bound); the status line goes to standard
            error, with every header under --include.

            Exit codes: 0 for a 2xx answer, 1 for any other status (the problem document is printed),
            3 when the server cannot be reached or its answer cannot be read, 64 for a usage error.

            Examples:
              tally call --bearer "$(cat tally-data/server/admin.key)" POST /v1/admin/vendors \\
                  '{"name":"News","sites":["https://news.example/"],"feeBasisPoints":500,"settlement":{"thresholdAmount":100000}}'
              tally call --vendor-key vk_... --vendor-secret ... POST /v1/vendor/content @article.json
              tally call --vendor-key vk_... --vendor-secret ... GET '/v1/vendor/history?limit=5'
            """)

    @Option(help: "The server, http://HOST[:PORT] (default: $TALLY_URL or http://127.0.0.1:8080).")
    var url: String?

    @Option(help: "Bearer credential: admin key, auditor key or a user's session (default: $TALLY_BEARER).")
    var bearer: String?

    @Option(name: .customLong("vendor-key"), help: "A vendor's signing key ID (default: $TALLY_VENDOR_KEY).")
    var vendorKey: String?

    @Option(name: .customLong("vendor-secret"), help: "That key's secret, hex (default: $TALLY_VENDOR_SECRET).")
    var vendorSecret: String?

    @Option(name: .customLong("idempotency-key"), help: "Idempotency-Key of a write: a vendor's (default: a fresh one, printed), or a user's or customer service's that moves money.")
    var idempotencyKey: String?

    @Option(help: "Seconds to wait for the connection and for each part of the answer; 0 waits without a bound.")
    var timeout: Int = 30

    @Flag(name: .shortAndLong, help: "Print the answer's headers on standard error too.")
    var include = false

    @Argument(help: "GET, POST, PUT, PATCH or DELETE.")
    var method: String

    @Argument(help: "The path and query, starting with /, e.g. /v1/me/wallets or '/v1/vendor/history?limit=5'.")
    var path: String

    @Argument(help: "The request body: JSON text, @FILE, or - for standard input.")
    var body: String?

    /// Who the request is from, as resolved from flags and environment.
    enum Caller: Equatable {
        case anonymous
        case bearer(String)
        case vendor(keyID: String, secret: [UInt8])
    }

    static let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    static let defaultURL = "http://127.0.0.1:8080"

    func caller(environment: [String: String]) throws -> Caller {
        let flagVendor = vendorKey != nil || vendorSecret != nil
        if bearer != nil && flagVendor {
            throw ValidationError("give either --bearer or --vendor-key with --vendor-secret, not both")
        }
        var bearer = self.bearer
        var keyID = vendorKey
        var secret = vendorSecret
        if bearer == nil && !flagVendor {
            bearer = environment["TALLY_BEARER"]
            keyID = environment["TALLY_VENDOR_KEY"]
            secret = environment["TALLY_VENDOR_SECRET"]
            if bearer != nil && (keyID != nil || secret != nil) {
                throw ValidationError("both TALLY_BEARER and TALLY_VENDOR_KEY/TALLY_VENDOR_SECRET are set: choose with --bearer or --vendor-key")
            }
        }
        if let bearer {
            guard !bearer.isEmpty, bearer.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw ValidationError("the bearer credential must be printable ASCII without spaces")
            }
            return .bearer(bearer)
        }
        switch (keyID, secret) {
        case (nil, nil):
            return .anonymous
        case (let keyID?, let secret?):
            guard !keyID.isEmpty, keyID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw ValidationError("the vendor key ID must be printable ASCII without spaces")
            }
            guard let bytes = Hex.decode(secret), !bytes.isEmpty else {
                throw ValidationError("the vendor secret must be hex, as POST /v1/admin/vendors returned it")
            }
            return .vendor(keyID: keyID, secret: bytes)
        case (nil, _):
            throw ValidationError("a vendor secret needs its key ID (--vendor-key or TALLY_VENDOR_KEY)")
        case (_, nil):
            throw ValidationError("a vendor key ID needs its secret (--vendor-secret or TALLY_VENDOR_SECRET)")
        }
    }

    /// Host and port of `http://HOST[:PORT][/]`.
    static func server(_ url: String) throws -> (host: String, port: Int) {
        guard url.lowercased().hasPrefix("http://") else {
            throw ValidationError("--url must start with http:// (tally call speaks plain HTTP; got \(url))")
        }
        var rest = Substring(url.dropFirst("http://".count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@"), !rest.contains("?") else {
            throw ValidationError("--url must be http://HOST[:PORT], without a path (got \(url))")
        }
        if rest.hasPrefix("[") {  // [IPv6]:port
            guard let close = rest.firstIndex(of: "]") else { throw ValidationError("--url has an unclosed [ in \(url)") }
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.isEmpty { return (host, 80) }
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65535).contains(port) else {
                throw ValidationError("--url has a bad port in \(url)")
            }
            return (host, port)
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty else { throw ValidationError("--url has a bad host in \(url)") }
        if parts.count == 1 { return (String(parts[0]), 80) }
        guard let port = Int(parts[1]), (1...65535).contains(port) else { throw ValidationError("--url has a bad port in \(url)") }
        return (String(parts[0]), port)
    }

    func bodyBytes() throws -> [UInt8]? {
        guard let body else { return nil }
        if body == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        if body.hasPrefix("@") {
            let file = String(body.dropFirst())
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read the body file \(file)")
            }
            return Array(data)
        }
        return Array(body.utf8)
    }

    /// The request's bytes, and the idempotency key it carries when one was generated for it.
    static func request(
        method: String, path: String, host: String, port: Int, caller: Caller, idempotencyKey: String?, body: [UInt8]?
    ) -> (bytes: [UInt8], generatedKey: String?) {
        let hostName = host.contains(":") ? "[\(host)]" : host
        var headers: [(String, String)] = [
            ("Host", port == 80 ? hostName : "\(hostName):\(port)"),
            ("User-Agent", "tally-call"),
            ("Accept", "application/json, application/problem+json, text/event-stream"),
            ("Connection", "close"),
        ]
        if let body {
            headers.append(("Content-Type", "application/json"))
            headers.append(("Content-Length", String(body.count)))
        } else if method != "GET" {
            headers.append(("Content-Length", "0"))
        }
        var key = idempotencyKey
        var generatedKey: String?
        if case .vendor = caller, key == nil, method != "GET" {
            key = "call-" + Hex.encode(SecureRandom.bytes(12))
            generatedKey = key
        }
        switch caller {
        case .anonymous:
            break
        case .bearer(let token):
            headers.append(("Authorization", "Bearer \(token)"))
        case .vendor(let keyID, let secret):
            let timestamp = String(Int64(Date().timeIntervalSince1970))
            let nonce = Hex.encode(SecureRandom.bytes(16))
            let signature = VendorSignature.sign(
                secret: secret, method: method, pathAndQuery: path, timestamp: timestamp, nonce: nonce,
                idempotencyKey: key, body: body ?? [])
            headers.append(("Tally-Key", keyID))
            headers.append(("Tally-Timestamp", timestamp))
            headers.append(("Tally-Nonce", nonce))
            headers.append(("Tally-Signature", signature))
        }
        if let key { headers.append(("Idempotency-Key", key)) }
        var text = "\(method) \(path) HTTP/1.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        return (Array(text.utf8) + (body ?? []), generatedKey)
    }

    mutating func validate() throws {
        method = method.uppercased()
        guard Self.methods.contains(method) else {
            throw ValidationError("METHOD must be one of \(Self.methods.joined(separator: ", ")) (got \(method))")
        }
        guard path.hasPrefix("/"), !path.contains("#"), path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw ValidationError("PATH must start with / and hold only printable ASCII without spaces (encode them as %20)")
        }
        if method == "GET" && body != nil { throw ValidationError("a GET request takes no body") }
        guard (0...3600).contains(timeout) else { throw ValidationError("--timeout must be 0 to 3600 seconds") }
        if let idempotencyKey {
            guard (1...128).contains(idempotencyKey.utf8.count), idempotencyKey.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else {
                throw ValidationError("--idempotency-key must be 1 to 128 printable ASCII characters")
            }
        }
        let environment = ProcessInfo.processInfo.environment
        _ = try caller(environment: environment)
        _ = try Self.server(url ?? environment["TALLY_URL"] ?? Self.defaultURL)
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let caller = try caller(environment: environment)
        let (host, port) = try Self.server(url ?? environment["TALLY_URL"] ?? Self.defaultURL)
        let (request, generatedKey) = Self.request(
            method: method, path: path, host: host, port: port, caller: caller, idempotencyKey: idempotencyKey, body: try bodyBytes())
        let standardError = FileHandle.standardError
        if let generatedKey {
            standardError.write(Data("Idempotency-Key: \(generatedKey) (retry with --idempotency-key \(generatedKey))\n".utf8))
        }
        var status = 0
        var endsWithNewline = true
        do {
            try PlainHTTP.exchange(
                host: host, port: port, request: request, timeoutSeconds: timeout,
                head: { head in
                    status = head.status
                    var text = "\(head.version) \(head.status) \(head.reason)\n"
                    if include { for (name, value) in head.headers { text += "\(name): \(value)\n" } }
                    standardError.write(Data(text.utf8))
                },
                body: { piece in
                    FileHandle.standardOutput.write(Data(piece))
                    if let last = piece.last { endsWithNewline = last == 0x0a }
                })
        } catch let failure as PlainHTTP.Failure {
            standardError.write(Data("tally call: \(failure)\n".utf8))
            throw ExitCode(3)
        }
        // A JSON answer has no final newline; a terminal prompt should not follow it on its line.
        if !endsWithNewline && isatty(STDOUT_FILENO) != 0 { FileHandle.standardOutput.write(Data("\n".utf8)) }
        if !(200..<300).contains(status) { throw ExitCode(1) }
    }
}
