import BenchmarkSupport
import Testing

/// The standard workload as the benchmarks draw it must be the one WORKLOAD.md defines: a run
/// that does not end on the spec's totals did not run the workload.
@Suite("Standard workload and benchmark output")
struct StandardWorkloadTests {
    @Test("splitmix64 gives the reference sequence (seed 0: 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F)")
    func splitmix() {
        var generator = SplitMix64(seed: 0)
        #expect([generator.next(), generator.next(), generator.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    @Test("the default parameters draw purchases whose totals are WORKLOAD.md's cross-check")
    func defaultTotals() {
        var totals = WorkloadTotals()
        var count = 0
        var users = Set<Int>(), vendors = Set<Int>()
        var prices = (min: Int64.max, max: Int64.min)
        StandardWorkload.draw(
            seed: StandardWorkload.defaultSeed, users: StandardWorkload.defaultUsers, vendors: StandardWorkload.defaultVendors,
            count: StandardWorkload.defaultPurchases
        ) { user, vendor, price in
            totals.add(price: price)
            count += 1
            users.insert(user)
            vendors.insert(vendor)
            prices = (min(prices.min, price), max(prices.max, price))
        }
        #expect(count == 200_000)
        #expect(totals == WorkloadTotals.defaults)
        #expect(totals.usersSpent == totals.vendorsNet + totals.fees + totals.royalties)
        #expect(users.allSatisfy { (0..<10_000).contains($0) } && vendors == Set(0..<100))
        #expect(prices == (1, 500))
        #expect(StandardWorkload.isDefault(users: 10_000, vendors: 100, purchases: 200_000, seed: 42, initial: 1_000_000, currency: "USD"))
        #expect(!StandardWorkload.isDefault(users: 10_000, vendors: 100, purchases: 200_000, seed: 43, initial: 1_000_000, currency: "USD"))
    }

    @Test("fees and royalties round down: 5 % and 10 % of the price in whole units")
    func rounding() {
        #expect([19, 20, 39, 40, 500].map(StandardWorkload.fee(of:)) == [0, 1, 1, 2, 25])
        #expect([9, 10, 19, 20, 500].map(StandardWorkload.royalty(of:)) == [0, 1, 1, 2, 50])
        var totals = WorkloadTotals()
        totals.add(price: 39)
        #expect(totals == WorkloadTotals(usersSpent: 39, vendorsNet: 39 - 1 - 3, fees: 1, royalties: 3))
    }

    @Test("numbers and JSON lines print as the benchmarks' figures need")
    func output() {
        #expect(fixed(1.25, 1) == "1.3" && fixed(-0.5, 2) == "-0.50" && fixed(3, 0) == "3")
        #expect(grouped(1_234_567.0) == "1,234,567" && grouped(Int64(-1_234)) == "-1,234" && grouped(Int64(999)) == "999" && grouped(-0.2) == "0")
        #expect(jsonNumber(.nan) == "null" && jsonNumber(.infinity) == "null" && jsonNumber(42) == "42" && jsonNumber(0.125) == "0.1250")
        #expect(jsonString("a \"b\"\\\n") == #""a \"b\"\\\n""#)
        var line = JSONLine()
        line.add("mode", "single")
        line.add("events", 200_000)
        line.add("ok", true)
        line.add("rate", 1.5)
        line.addRaw("batch", "null")
        #expect(line.text == #"{"mode":"single","events":200000,"ok":true,"rate":1.5000,"batch":null}"#)
    }
}
