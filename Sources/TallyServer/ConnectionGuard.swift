import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Hummingbird

/// Bounds how long a request's body may take to arrive, and answers a request that is not HTTP
/// with a problem document.
///
/// Hummingbird's idle timeout counts the request parts the HTTP decoder delivers: a head
/// trickled in a byte at a time delivers nothing until it is complete, so the idle timeout
/// bounds it, but every piece of a body restarts it.
///
/// - **Body deadline.** A request's body must arrive within `bodyTimeout` of its head. When
///   it does not, the inbound stream is failed with ``RequestBodyTimeout``: a route reading the
///   body gets it and answers 408 (``RequestBodies/bytes(_:limit:)``), and the connection is
///   closed once that answer (or any answer written after the deadline) has been sent, since
///   the rest of the body can no longer be told from the next request. A request whose answer
///   was sent before the deadline while its body still trickles in is closed the same way,
///   when the stream fails.
/// - **Malformed requests.** When NIO's parser refuses the bytes of a request's head, the
///   client gets an RFC 9457 document (400 `malformed-request`, or 431 `headers-too-large` for a
///   head over the decoder's limits) and the connection is closed, instead of Hummingbird's bare
///   400; behind pipelined requests, it comes after their answers. A body that breaks its
///   chunked framing after its head was read is left to the route reading it (400
///   `body-unreadable`).
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let bodyTimeout: TimeAmount
    private var bodyDeadline: Scheduled<Void>?
    private var bodyExpired = false
    /// Request heads read, request ends read and answers ended, on this connection.
    private var heads = 0
    private var ends = 0
    private var answered = 0
    private var closing = false
    /// A malformed head read behind requests not yet answered.
    private var malformed: HTTPParserError?

    init(bodyTimeout: TimeAmount) {
        self.bodyTimeout = bodyTimeout
    }


    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            heads += 1
            bodyDeadline?.cancel()
            let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            bodyDeadline = context.eventLoop.scheduleTask(in: bodyTimeout) {
                let (handler, context) = loopBound.value
                handler.bodyDeadline = nil
                handler.bodyExpired = true
                context.fireErrorCaught(RequestBodyTimeout())
            }
        case .body:
            break
        case .end:
            ends += 1
            bodyDeadline?.cancel()
            bodyDeadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        answered += 1
        if bodyExpired {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(data).always { _ in loopBound.value.close(promise: nil) }.cascade(to: promise)
            return
        }
        context.write(data, promise: promise)
        if let malformed, answered == heads {
            self.malformed = nil
            answer(malformed, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A parser error with a request open is one in its body: the route reading it answers.
        guard let parserError = error as? HTTPParserError, ends == heads, !closing else {
            context.fireErrorCaught(error)
            return
        }
        closing = true
        if answered == heads {
            answer(parserError, context: context)
        } else {
            // Pipelined behind requests still being answered: after their answers.
            malformed = parserError
        }
    }

    /// Answers a request whose head could not be parsed, and closes the connection.
    private func answer(_ parserError: HTTPParserError, context: ChannelHandlerContext) {
        let problem: ProblemDocument
        if case .headerOverflow = parserError {
            problem = ProblemDocument(
                rule: "headers-too-large", title: "The request's headers are too large", status: .requestHeaderFieldsTooLarge,
                detail: "the request line and headers are over the server's limits; the connection is closed")
        } else {
            problem = ProblemDocument(
                rule: "malformed-request", title: "The request is not well-formed HTTP/1.1", status: .badRequest,
                detail: "the request's head could not be parsed (\(parserError)); the connection is closed")
        }
        let body = ByteBuffer(bytes: problem.jsonBytes)
        let head = HTTPResponse(status: .init(code: problem.status), headerFields: [
            .contentType: "application/problem+json", .contentLength: String(body.readableBytes), .connection: "close",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadlines()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelDeadlines()
        context.fireChannelInactive()
    }

    private func cancelDeadlines() {
        bodyDeadline?.cancel()
        bodyDeadline = nil
    }
}

/// A request body did not arrive within ``ConnectionGuard``'s time.
struct RequestBodyTimeout: Error, Sendable {}
