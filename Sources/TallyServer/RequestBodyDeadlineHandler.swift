import NIOCore
import NIOHTTPTypes

/// Bounds the time a request's body may take to arrive, from its head to its end. The idle
/// timeout restarts with every byte read, so without this a client sending one byte every few
/// seconds holds a connection (and a request) open for ever.
///
/// When the deadline passes before the body's end, the inbound stream is failed with
/// ``RequestBodyTimeout``: a route reading the body gets it and answers 408
/// (``RequestBodies/bytes(_:limit:)``), and the connection is closed once that answer (or any
/// answer written after the deadline) has been sent, since the rest of the body can no longer
/// be told from the next request. A request whose answer was sent before the deadline while
/// its body still trickles in is closed the same way, when the stream fails.
final class RequestBodyDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var expired = false

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: timeout) {
                let (handler, context) = loopBound.value
                handler.deadline = nil
                handler.expired = true
                context.fireErrorCaught(RequestBodyTimeout())
            }
        case .body:
            break
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard expired, case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(data).always { _ in loopBound.value.close(promise: nil) }.cascade(to: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}

/// A request body did not arrive within ``RequestBodyDeadlineHandler``'s time.
struct RequestBodyTimeout: Error, Sendable {}
