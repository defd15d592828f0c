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
    func forwardedClient() throws {
        let proxy = "127.0.0.1"
        let trusted = try TrustedProxies([proxy, "10.0.0.2"])
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
        // A trusted network: every proxy in it is walked past.
        let subnet = try TrustedProxies(["10.1.0.0/16"])
        #expect(ClientAddress.resolve(peer: "10.1.2.3", forwardedFor: ["203.0.113.9, 10.1.200.7"], trusted: subnet) == "203.0.113.9")
        #expect(ClientAddress.resolve(peer: "10.1.2.3", forwardedFor: ["203.0.113.9, 10.2.0.1"], trusted: subnet) == "10.2.0.1")
    }

    @Test("trusted proxies by address or CIDR network, IPv4 (also IPv4-mapped IPv6) and IPv6; what is not one is refused with the reason")
    func trustedNetworks() throws {
        let proxies = try TrustedProxies(["10.0.0.0/8", "192.168.1.7", "2001:db8:abcd::/48", "172.16.5.9/12", "::1"])
        for inside in ["10.0.0.0", "10.255.255.255", "192.168.1.7", "::ffff:10.9.8.7", "::FFFF:192.168.1.7", "2001:db8:abcd:1::5",
                       "2001:DB8:ABCD::", "172.31.255.255", "172.16.0.1", "::1"] {
            #expect(proxies.contains(inside), "\(inside)")
        }
        for outside in ["11.0.0.0", "9.255.255.255", "192.168.1.8", "::ffff:11.0.0.1", "2001:db8:abce::1", "172.32.0.1", "::2",
                        "::10.0.0.1", "unknown", "", "10.0.0.1:80", "10.0.0.1/8"] {
            #expect(!proxies.contains(outside), "\(outside)")
        }
        #expect(!TrustedProxies().contains("127.0.0.1"))
        for (bad, says) in [("proxy.example", "not an IP address"), ("10.0.0.0/33", "1 to 32"), ("fd00::/129", "1 to 128"),
                            ("10.0.0.0/", "1 to 32"), ("10.0.0.0/+8", "1 to 32"), ("10.0.0.0/8/8", "1 to 32"), ("/8", "not an IP address"),
                            ("0.0.0.0/0", "every address"), ("::/0", "every address")] {
            #expect(throws: TrustedProxies.Invalid.self, "\(bad)") { try TrustedProxies([bad]) }
            do { _ = try TrustedProxies([bad]) } catch { #expect("\(error)".contains(says), "\(bad): \(error)") }
        }
        #expect(ClientAddress.normalized("::ffff:192.0.2.1") != nil)
    }
}
