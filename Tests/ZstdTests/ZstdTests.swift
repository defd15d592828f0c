import Testing
import Zstd

@Suite("zstd wrapper")
struct ZstdTests {
    static let sample: [UInt8] = Array((0..<2000).map { "line \($0): tally journal segment\n" }.joined().utf8)

    @Test("compression round-trips and shrinks repetitive data")
    func roundTrip() throws {
        let compressed = try Zstd.compress(Self.sample, level: 3)
        #expect(compressed.count * 4 < Self.sample.count)
        #expect(try Zstd.decompress(compressed, maximumSize: Self.sample.count) == Self.sample)
        #expect(try Zstd.decompress(try Zstd.compress([]), maximumSize: 0) == [])
    }

    @Test("corrupt, truncated and oversized frames are refused with their kind")
    func refusals() throws {
        let compressed = try Zstd.compress(Self.sample)
        #expect { try Zstd.decompress(Array("not zstd at all".utf8), maximumSize: 1 << 20) } throws: {
            ($0 as? ZstdError)?.kind == .corruptInput
        }
        #expect { try Zstd.decompress(Array(compressed.prefix(compressed.count / 2)), maximumSize: 1 << 20) } throws: {
            ($0 as? ZstdError)?.kind == .corruptInput
        }
        var flipped = compressed
        flipped[flipped.count / 2] ^= 0xff
        #expect { try Zstd.decompress(flipped, maximumSize: 1 << 20) } throws: {
            ($0 as? ZstdError)?.kind == .corruptInput
        }
        #expect { try Zstd.decompress(compressed, maximumSize: 100) } throws: {
            ($0 as? ZstdError)?.kind == .tooLarge
        }
    }
}
