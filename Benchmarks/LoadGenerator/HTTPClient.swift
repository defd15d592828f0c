import NIOCore
import NIOHTTP1
import NIOPosix

// A minimal HTTP/1.1 keep-alive client on SwiftNIO: one channel per connection, requests
// answered in order (a queue of promises, so pipelining would work, but the load generator keeps
// one request in flight per connection).

struct HTTPReply: Sendable {
    var status: Int
    var body: ByteBuffer

    var bytes: [UInt8] { Array(body.readableBytesView) }
    var text: String { String(decoding: body.readableBytesView, as: UTF8.self) }
}

struct ConnectionClosed: Error, CustomStringConvertible {
    var description: String { "the server closed the connection" }
}

/// A request travelling down the pipeline with the promise its reply completes.
struct OutboundRequest: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    var reply: EventLoopPromise<HTTPReply>
}

final class ClientHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = OutboundRequest
    typealias OutboundOut = HTTPClientRequestPart

    private var waiting = CircularBuffer<EventLoopPromise<HTTPReply>>(initialCapacity: 4)
    private var status = 0
    private var body: ByteBuffer?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        waiting.append(request.reply)
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if let body = request.body {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            body = nil
        case .body(var part):
            if body == nil { body = part } else { body!.writeBuffer(&part) }
        case .end:
            guard let reply = waiting.popFirst() else { return }
            let answer = HTTPReply(status: status, body: body ?? ByteBuffer())
            body = nil
            reply.succeed(answer)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ConnectionClosed())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        while let reply = waiting.popFirst() { reply.fail(error) }
    }
}

/// One keep-alive connection.
final class Connection: Sendable {
    let channel: any Channel
    let host: String

    init(channel: any Channel, host: String) {
        self.channel = channel
        self.host = host
    }

    static func connect(group: any EventLoopGroup, host: String, port: Int) async throws -> Connection {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ClientHandler())
                }
            }
            .connect(host: host, port: port).get()
        return Connection(channel: channel, host: "\(host):\(port)")
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    /// Sends one request; the future completes on the connection's event loop.
    func send(method: HTTPMethod, path: String, headers extra: [(String, String)], body: ByteBuffer?) -> EventLoopFuture<HTTPReply> {
        var headers = HTTPHeaders()
        headers.reserveCapacity(extra.count + 3)
        headers.add(name: "Host", value: host)
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
        } else if method == .POST {
            headers.add(name: "Content-Length", value: "0")
        }
        for (name, value) in extra { headers.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        let reply = channel.eventLoop.makePromise(of: HTTPReply.self)
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { reply.fail($0) }
        channel.writeAndFlush(OutboundRequest(head: head, body: body, reply: reply), promise: written)
        return reply.futureResult
    }

    func request(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> HTTPReply {
        try await send(method: method, path: path, headers: headers, body: body.map { ByteBuffer(bytes: $0) }).get()
    }

    func close() async {
        try? await channel.close()
    }
}

/// Host and port of an `http://host:port` URL.
func parseURL(_ url: String) throws -> (host: String, port: Int) {
    guard url.hasPrefix("http://") else { throw UsageError("TALLY_URL must be http://host:port, got '\(url)'") }
    var rest = url.dropFirst("http://".count)
    if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
    guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else {
        return (String(rest), 80)
    }
    return (String(rest[..<colon]), port)
}
