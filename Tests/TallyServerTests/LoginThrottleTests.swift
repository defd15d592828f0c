import Testing
@testable import TallyServer

/// The login throttle counts failures per name and client, and per name from everywhere.
@Suite("Login throttle")
struct LoginThrottleTests {
    static let window = LoginThrottle.windowMilliseconds

    @Test("failures from one client lock the name for that client only, until the window has passed")
    func perClient() {
        let throttle = LoginThrottle()
        for _ in 0..<LoginThrottle.failuresMax { throttle.failed("nina", client: "203.0.113.9", now: 1_000) }
        let wait = throttle.wait("nina", client: "203.0.113.9", now: 2_000)
        #expect(wait == LoginThrottle.Wait(milliseconds: Self.window - 1_000, failures: LoginThrottle.failuresMax, fromEverywhere: false))
        // Nina herself, at home, and other names from the same client are not refused.
        #expect(throttle.wait("nina", client: "198.51.100.7", now: 2_000) == nil)
        #expect(throttle.wait("omar", client: "203.0.113.9", now: 2_000) == nil)
        #expect(throttle.wait("nina", client: "203.0.113.9", now: 1_000 + Self.window) == nil)
    }

    @Test("one failure short of the limit does not lock; a success clears that client's count but not the count from everywhere")
    func successClearsTheClient() {
        let throttle = LoginThrottle()
        for _ in 0..<(LoginThrottle.failuresMax - 1) { throttle.failed("nina", client: "a", now: 0) }
        #expect(throttle.wait("nina", client: "a", now: 0) == nil)
        throttle.succeeded("nina", client: "a")
        throttle.failed("nina", client: "a", now: 0)
        #expect(throttle.wait("nina", client: "a", now: 0) == nil, "the count started again after the success")
        #expect(throttle.entries.withLock { $0["nina"]?.failures } == LoginThrottle.failuresMax)
    }

    @Test("failures spread over many clients lock the name for everyone once they reach the limit from everywhere")
    func fromEverywhere() {
        let throttle = LoginThrottle()
        let clients = LoginThrottle.failuresFromEverywhereMax / LoginThrottle.failuresMax
        for client in 0..<clients {
            for _ in 0..<(LoginThrottle.failuresMax - 1) { throttle.failed("nina", client: "10.0.0.\(client)", now: 0) }
        }
        #expect(throttle.wait("nina", client: "home", now: 0) == nil)
        for client in 0..<clients { throttle.failed("nina", client: "10.0.1.\(client)", now: 0) }
        let wait = throttle.wait("nina", client: "home", now: 5)
        #expect(wait == LoginThrottle.Wait(milliseconds: Self.window - 5, failures: LoginThrottle.failuresFromEverywhereMax, fromEverywhere: true))
        #expect(throttle.wait("omar", client: "home", now: 5) == nil)
    }

    @Test("X-Forwarded-For is read from the right past the trusted proxies: the first other address is the client; what a client wrote before it is never reached")
    func forwardedClient() {
        let proxy = "127.0.0.1"
        let trusted: Set<String> = [proxy, "10.0.0.2"]
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: ["203.0.113.9"], trusted: trusted) == "203.0.113.9")
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: ["6.6.6.6, 203.0.113.9"], trusted: trusted) == "203.0.113.9")
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: ["6.6.6.6", "203.0.113.9"], trusted: trusted) == "203.0.113.9")
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: ["203.0.113.9 ,10.0.0.2"], trusted: trusted) == "203.0.113.9")
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: ["2001:DB8::1"], trusted: trusted) == "2001:db8::1")
        // A chain of trusted proxies only: the farthest of them.
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: ["10.0.0.2"], trusted: trusted) == "10.0.0.2")
        // Nothing forwarded, or an entry that is not an address: the walk stops at the last proxy.
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: [], trusted: trusted) == proxy)
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: ["203.0.113.9, unknown"], trusted: trusted) == proxy)
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: ["203.0.113.9, 203.0.113.9:443"], trusted: trusted) == proxy)
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: ["garbage, 10.0.0.2"], trusted: trusted) == "10.0.0.2")
        #expect(ClientAddress.normalized("") == nil && ClientAddress.normalized("localhost") == nil)
        #expect(ClientAddress.normalized("::ffff:192.0.2.1") != nil)
    }
}
