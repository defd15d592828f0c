import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP/1.1 exchange over a plain TCP connection, for `tally call`: the request is written
/// whole with `Connection: close`, and the answer's body is handed on piece by piece as it
/// arrives (so that a change feed streams), de-chunked when it is sent in chunks.
///
/// Blocking sockets are enough for a command that makes one request; the server itself never
/// uses this. `timeoutSeconds` bounds the connection and each wait for bytes (0: no bound).
enum PlainHTTP {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    struct Head {
        let version: String
        let status: Int
        let reason: String
        let headers: [(name: String, value: String)]

        func value(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// Largest response head accepted.
    static let headBytesMax = 64 * 1024

    static func exchange(
        host: String, port: Int, request: [UInt8], timeoutSeconds: Int,
        head onHead: (Head) throws -> Void, body onBody: ([UInt8]) throws -> Void
    ) throws {
        let socket = try connect(host: host, port: port, timeoutSeconds: timeoutSeconds)
        defer { close(socket) }
        try writeAll(socket, request)
        var reader = Reader(socket: socket)
        let head = try reader.head()
        try onHead(head)
        if head.status / 100 == 1 || head.status == 204 || head.status == 304 { return }
        if let encoding = head.value("Transfer-Encoding") {
            guard encoding.lowercased() == "chunked" else { throw Failure("the server sent Transfer-Encoding \(encoding), which tally call cannot read") }
            try reader.chunks(onBody)
        } else if let length = head.value("Content-Length") {
            guard let count = Int(length), count >= 0 else { throw Failure("the server sent Content-Length \(length)") }
            try reader.exactly(count, onBody)
        } else {
            try reader.untilClosed(onBody)
        }
    }

    private static func connect(host: String, port: Int, timeoutSeconds: Int) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw Failure("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var lastError: Int32 = 0
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let socket = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard socket >= 0 else { lastError = errno; continue }
            var limit = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            if Glibc.connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return socket }
            lastError = errno
            close(socket)
        }
        throw Failure("cannot connect to \(host):\(port): \(String(cString: strerror(lastError)))")
    }

    private static func writeAll(_ socket: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { send(socket, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(errno == EAGAIN ? "timed out sending the request" : "cannot send the request: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Buffered reads from the socket.
    private struct Reader {
        let socket: Int32
        var buffer: [UInt8] = []
        var closed = false

        init(socket: Int32) { self.socket = socket }

        /// Reads more bytes into `buffer`; false once the server has closed the connection.
        mutating func fill() throws -> Bool {
            if closed { return false }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    buffer.append(contentsOf: chunk[0..<count])
                    return true
                }
                if count == 0 { closed = true; return false }
                if errno == EINTR { continue }
                throw Failure(errno == EAGAIN ? "timed out waiting for the server" : "cannot read the answer: \(String(cString: strerror(errno)))")
            }
        }

        /// The bytes up to `delimiter`, removed from the buffer with it.
        mutating func take(until delimiter: [UInt8], limit: Int, what: String) throws -> [UInt8] {
            var searchFrom = 0
            while true {
                if buffer.count >= delimiter.count {
                    let last = buffer.count - delimiter.count
                    if searchFrom <= last {
                        for start in searchFrom...last where buffer[start..<start + delimiter.count].elementsEqual(delimiter) {
                            let taken = Array(buffer[0..<start])
                            buffer.removeFirst(start + delimiter.count)
                            return taken
                        }
                        searchFrom = last + 1
                    }
                }
                guard buffer.count <= limit else { throw Failure("the server's \(what) is longer than \(limit) bytes") }
                guard try fill() else { throw Failure("the server closed the connection inside the \(what)") }
            }
        }

        mutating func head() throws -> Head {
            let text = String(decoding: try take(until: Array("\r\n\r\n".utf8), limit: PlainHTTP.headBytesMax, what: "response head"), as: UTF8.self)
            var lines = text.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]), (100...999).contains(status) else {
                throw Failure("the server's answer does not start with an HTTP/1.x status line")
            }
            var headers: [(name: String, value: String)] = []
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { throw Failure("malformed header line in the answer: \(line)") }
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
            return Head(version: String(statusLine[0]), status: status, reason: statusLine.count > 2 ? String(statusLine[2]) : "", headers: headers)
        }

        mutating func exactly(_ count: Int, _ onBody: ([UInt8]) throws -> Void) throws {
            var left = count
            while left > 0 {
                if buffer.isEmpty, try !fill() { throw Failure("the answer ended \(left) bytes before its Content-Length") }
                let piece = Array(buffer.prefix(left))
                buffer.removeFirst(piece.count)
                left -= piece.count
                try onBody(piece)
            }
        }

        mutating func untilClosed(_ onBody: ([UInt8]) throws -> Void) throws {
            repeat {
                if !buffer.isEmpty {
                    try onBody(buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            } while try fill()
        }

        mutating func chunks(_ onBody: ([UInt8]) throws -> Void) throws {
            while true {
                let line = String(decoding: try take(until: Array("\r\n".utf8), limit: 1024, what: "chunk size line"), as: UTF8.self)
                let sizeText = line.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                    throw Failure("malformed chunk size in the answer: \(line)")
                }
                if size == 0 {
                    // Trailers, if any, end with an empty line; nothing of them is used.
                    while try !take(until: Array("\r\n".utf8), limit: PlainHTTP.headBytesMax, what: "trailer").isEmpty {}
                    return
                }
                try exactly(size, onBody)
                guard try take(until: Array("\r\n".utf8), limit: 2, what: "chunk end").isEmpty else {
                    throw Failure("a chunk of the answer is longer than its size")
                }
            }
        }
    }
}
