@testable import JesterGateway
import NIOHTTP1
import Synchronization
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    let nanoseconds = Atomic<Int64>(1_000_000_000)
    func advance(seconds: Double) { nanoseconds.add(Int64(seconds * 1e9), ordering: .relaxed) }
    var read: @Sendable () -> Int64 { { self.nanoseconds.load(ordering: .relaxed) } }
}

@Suite struct RateLimitFilterTests {
    @Test func bucketRefillsAtTheRateAndSaysWhenToRetry() {
        let clock = ManualClock()
        let buckets = TokenBuckets(perSecond: 2, burst: 3, maxKeys: 1000, clock: clock.read)
        #expect(buckets.take("a") == .init(remaining: 2, retryAfterSeconds: nil))
        #expect(buckets.take("a") == .init(remaining: 1, retryAfterSeconds: nil))
        #expect(buckets.take("a") == .init(remaining: 0, retryAfterSeconds: nil))
        #expect(buckets.take("a") == .init(remaining: 0, retryAfterSeconds: 1))
        #expect(buckets.take("b").retryAfterSeconds == nil)  // keys are independent
        clock.advance(seconds: 0.5)  // one token back
        #expect(buckets.take("a").retryAfterSeconds == nil)
        #expect(buckets.take("a").retryAfterSeconds == 1)
        clock.advance(seconds: 10)  // refills to the burst, not beyond
        #expect(buckets.take("a").remaining == 2)

        let slow = TokenBuckets(perSecond: 1.0 / 60, burst: 1, maxKeys: 1000, clock: clock.read)
        _ = slow.take("k")
        #expect(slow.take("k").retryAfterSeconds == 60)
        clock.advance(seconds: 15.5)
        #expect(slow.take("k").retryAfterSeconds == 45)
    }

    @Test func memoryStaysBounded() {
        let clock = ManualClock()
        let buckets = TokenBuckets(perSecond: 1, burst: 5, maxKeys: 160, clock: clock.read)
        // Busy keys beyond the limit: the least recently used go.
        for index in 0..<10_000 {
            _ = buckets.take("key-\(index)")
            clock.advance(seconds: 0.0001)
        }
        #expect(buckets.count <= 160)

        // Refilled buckets are dropped by the periodic sweep of each shard.
        let roomy = TokenBuckets(perSecond: 1, burst: 5, maxKeys: 16_000, clock: clock.read)
        for index in 0..<100 { _ = roomy.take("old-\(index)") }
        #expect(roomy.count == 100)
        clock.advance(seconds: 120)
        // 400 keys reach every one of the 16 shards (all but certainly), which sweeps it.
        for index in 0..<400 { _ = roomy.take("new-\(index)") }
        #expect(roomy.count == 400)
    }

    @Test func sharedBucketsAreExactUnderContention() async {
        let clock = ManualClock()  // frozen: no refill
        let buckets = TokenBuckets(perSecond: 1, burst: 100, maxKeys: 1000, clock: clock.read)
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var count = 0
                    for _ in 0..<1000 where buckets.take("shared").retryAfterSeconds == nil { count += 1 }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted == 100)
    }

    @Test func answers429WithRetryAfterAndHeaders() throws {
        let filter = try FilterTests.make(RateLimitFilter.self, #"{"rpm": 1, "burst": 2, "headers": true}"#)
        let first = FilterTests.exchange()
        #expect(filter.onRequest(first).isProceed)
        _ = filter.onResponse(first)
        #expect(first.responseHeaders["x-ratelimit-limit"] == ["2"])
        #expect(first.responseHeaders["x-ratelimit-remaining"] == ["1"])
        #expect(filter.onRequest(FilterTests.exchange()).isProceed)
        let refused = try #require(filter.onRequest(FilterTests.exchange()).response)
        #expect(refused.status == .tooManyRequests)
        let retryAfter = try #require(refused.headers.first(name: "retry-after").flatMap { Int($0) })
        #expect((55...60).contains(retryAfter))
        #expect(refused.headers["x-ratelimit-remaining"] == ["0"])
        // Another client has its own bucket.
        #expect(filter.onRequest(FilterTests.exchange(client: "198.51.100.1")).isProceed)
    }

    @Test func keysCombineParts() throws {
        let filter = try FilterTests.make(RateLimitFilter.self, #"{"rpm": 1, "burst": 1, "key": ["header:X-API-Key", "ip"]}"#)
        let a = FilterTests.exchange(headers: [("x-api-key", "a")])
        #expect(filter.key(for: a) == "a\u{1F}203.0.113.7")
        #expect(filter.key(for: FilterTests.exchange()) == "\u{1F}203.0.113.7")
        #expect(filter.onRequest(a).isProceed)
        #expect(filter.onRequest(FilterTests.exchange(headers: [("x-api-key", "a")])).response?.status == .tooManyRequests)
        #expect(filter.onRequest(FilterTests.exchange(headers: [("x-api-key", "b")])).isProceed)
        #expect(filter.onRequest(FilterTests.exchange()).isProceed)  // no header: its own (empty) key
        #expect(filter.onRequest(FilterTests.exchange()).response != nil)

        let byRoute = try FilterTests.make(RateLimitFilter.self, #"{"rps": 5, "key": ["route"]}"#)
        #expect(byRoute.key(for: FilterTests.exchange(route: "r1")) == "r1")
        #expect(byRoute.limiter.burst == 5)  // the default burst is a second's worth
    }

    @Test func configErrors() {
        #expect(FilterTests.problem(RateLimitFilter.self, "{}")?.message.contains("needs a rate") == true)
        #expect(FilterTests.problem(RateLimitFilter.self, #"{"rps": 1, "rpm": 60}"#)?.message.contains("both rps and rpm") == true)
        #expect(FilterTests.problem(RateLimitFilter.self, #"{"rps": 0}"#)?.path == "$.rps")
        let part = FilterTests.problem(RateLimitFilter.self, #"{"rps": 1, "key": ["ip", "cookie:x"]}"#)
        #expect(part?.path == "$.key[1]")
        #expect(part?.message.contains("header:NAME") == true)
        #expect(FilterTests.problem(RateLimitFilter.self, #"{"rps": 1, "key": ["header:"]}"#)?.path == "$.key[0]")
        #expect(FilterTests.problem(RateLimitFilter.self, #"{"rps": 1, "burst": 0}"#)?.path == "$.burst")
    }
}
