@testable import JesterGateway
import JesterManifest
import NIOCore
import NIOHTTP1
import Testing

@Suite struct RequestIDFilterTests {
    @Test func generatesAUUIDWhenTheClientSentNone() throws {
        let filter = try FilterTests.make(RequestIDFilter.self, "{}")
        let exchange = FilterTests.exchange()
        #expect(filter.onRequest(exchange).isProceed)
        let id = try #require(exchange.requestHeaders.first(name: "x-request-id"))
        let groups = id.split(separator: "-").map(\.count)
        #expect(groups == [8, 4, 4, 4, 12])
        #expect(id.split(separator: "-")[2].hasPrefix("4"))
        #expect(["8", "9", "a", "b"].contains(id.split(separator: "-")[3].prefix(1)))
        #expect(filter.onResponse(exchange).isProceed)
        #expect(exchange.responseHeaders["x-request-id"] == [id])
    }

    @Test func keepsAValidIncomingIDAndReplacesABadOne() throws {
        let filter = try FilterTests.make(RequestIDFilter.self, #"{"max_length": 20}"#)
        let kept = FilterTests.exchange(headers: [("X-Request-ID", "abc-123_x.y:z")])
        _ = filter.onRequest(kept)
        #expect(kept.requestHeaders["x-request-id"] == ["abc-123_x.y:z"])

        for bad in ["has space", "a\"quote", String(repeating: "a", count: 21), "é"] {
            let exchange = FilterTests.exchange(headers: [("x-request-id", bad)])
            _ = filter.onRequest(exchange)
            let ids = exchange.requestHeaders["x-request-id"]
            #expect(ids.count == 1 && ids[0] != bad && ids[0].count == 36, "\(bad)")
        }
        let twice = FilterTests.exchange(headers: [("x-request-id", "a"), ("x-request-id", "b")])
        _ = filter.onRequest(twice)
        #expect(twice.requestHeaders["x-request-id"].count == 1)
        #expect(twice.requestHeaders["x-request-id"] != ["a"])
    }

    @Test func untrustedIncomingIDsAreReplacedAndHexIsConfigurable() throws {
        let filter = try FilterTests.make(RequestIDFilter.self, #"{"header": "x-trace", "trust_incoming": false, "format": "hex", "response_header": false}"#)
        let exchange = FilterTests.exchange(headers: [("x-trace", "client-chosen")])
        _ = filter.onRequest(exchange)
        let id = try #require(exchange.requestHeaders.first(name: "x-trace"))
        #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
        _ = filter.onResponse(exchange)
        #expect(!exchange.responseHeaders.contains(name: "x-trace"))
        // Ids differ.
        let other = FilterTests.exchange()
        _ = filter.onRequest(other)
        #expect(other.requestHeaders.first(name: "x-trace") != id)
    }

    @Test func refusesABadHeaderName() {
        let problem = FilterTests.problem(RequestIDFilter.self, #"{"header": "x id"}"#)
        #expect(problem?.path == "$.header")
        #expect(problem?.message.contains("not a header name") == true)
        #expect(FilterTests.problem(RequestIDFilter.self, #"{"format": "ulid"}"#)?.path == "$.format")
    }
}

@Suite struct TimeoutFilterTests {
    @Test func setsTheUpstreamTimeoutFromADurationOrMilliseconds() throws {
        let filter = try FilterTests.make(TimeoutFilter.self, #"{"duration": "1m30s"}"#)
        let exchange = FilterTests.exchange()
        #expect(filter.onRequest(exchange).isProceed)
        #expect(exchange.upstreamTimeout == .seconds(90))

        let ms = try FilterTests.make(TimeoutFilter.self, #"{"ms": 250}"#)
        _ = ms.onRequest(exchange)
        #expect(exchange.upstreamTimeout == .milliseconds(250))
        // A longer timeout from a later entry does not loosen a shorter one.
        _ = filter.onRequest(exchange)
        #expect(exchange.upstreamTimeout == .milliseconds(250))
    }

    @Test func configErrors() {
        #expect(FilterTests.problem(TimeoutFilter.self, "{}")?.message.contains("needs the timeout") == true)
        #expect(FilterTests.problem(TimeoutFilter.self, #"{"duration": "5s", "ms": 5}"#)?.message.contains("both") == true)
        let bad = FilterTests.problem(TimeoutFilter.self, #"{"duration": "5 parsecs"}"#)
        #expect(bad?.path == "$.duration")
        #expect(bad?.message.contains("not a duration") == true)
        #expect(FilterTests.problem(TimeoutFilter.self, #"{"duration": "0s"}"#)?.message.contains("longer than 0") == true)
        #expect(FilterTests.problem(TimeoutFilter.self, #"{"duration": "25h"}"#)?.path == "$.duration")
        #expect(FilterTests.problem(TimeoutFilter.self, #"{"ms": 0}"#)?.path == "$.ms")
    }
}

@Suite struct RetryFilterTests {
    @Test func buildsThePolicyWithDefaults() throws {
        let filter = try FilterTests.make(RetryFilter.self, "{}")
        let exchange = FilterTests.exchange(.POST)
        #expect(filter.onRequest(exchange).isProceed)
        let policy = try #require(exchange.retryPolicy)
        #expect(policy == RetryPolicy(attempts: 2, perTryTimeout: nil, backoff: .milliseconds(25), retryOnStatuses: [502, 503, 504], retryNonIdempotent: false, maxReplayBodyBytes: 65536))
    }

    @Test func readsEveryKey() throws {
        let filter = try FilterTests.make(
            RetryFilter.self,
            #"{"attempts": 4, "per_try_timeout": "2s", "backoff": "100ms", "retry_on": [429, 503], "retry_non_idempotent": true, "max_replay_body_bytes": "1MiB", "methods": ["get", "POST"]}"#
        )
        let post = FilterTests.exchange(.POST)
        _ = filter.onRequest(post)
        #expect(post.retryPolicy == RetryPolicy(attempts: 4, perTryTimeout: .seconds(2), backoff: .milliseconds(100), retryOnStatuses: [429, 503], retryNonIdempotent: true, maxReplayBodyBytes: 1 << 20))
        let get = FilterTests.exchange(.GET)
        _ = filter.onRequest(get)
        #expect(get.retryPolicy?.attempts == 4)
        // Methods not listed get no retries.
        let delete = FilterTests.exchange(.DELETE)
        _ = filter.onRequest(delete)
        #expect(delete.retryPolicy == nil)
    }

    @Test func configErrors() {
        let post = FilterTests.problem(RetryFilter.self, #"{"methods": ["GET", "POST"]}"#)
        #expect(post?.path == "$.methods[1]")
        #expect(post?.message.contains("retry_non_idempotent") == true)
        #expect(FilterTests.problem(RetryFilter.self, #"{"attempts": 1}"#)?.path == "$.attempts")
        #expect(FilterTests.problem(RetryFilter.self, #"{"attempts": 11}"#)?.path == "$.attempts")
        #expect(FilterTests.problem(RetryFilter.self, #"{"retry_on": [200]}"#)?.path == "$.retry_on[0]")
        #expect(FilterTests.problem(RetryFilter.self, #"{"backoff": "soon"}"#)?.path == "$.backoff")
        #expect(FilterTests.problem(RetryFilter.self, #"{"max_replay_body_bytes": "lots"}"#)?.path == "$.max_replay_body_bytes")
        #expect(FilterTests.problem(RetryFilter.self, #"{"backoff": "0ms"}"#) == nil)
    }
}
