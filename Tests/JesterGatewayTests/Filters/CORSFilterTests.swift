@testable import JesterGateway
import NIOHTTP1
import Testing

@Suite struct CORSFilterTests {
    static let config = #"{"allowed_origins": ["https://app.example.com", "https://*.example.org", "localhost:3000"], "allowed_methods": ["GET", "POST", "DELETE"], "allowed_headers": ["Content-Type", "X-Token"], "exposed_headers": ["X-Total"], "allow_credentials": true, "max_age": 120}"#

    static func preflight(_ origin: String, method: String = "POST", headers: String? = nil) -> FilterExchange {
        var list = [("Origin", origin), ("Access-Control-Request-Method", method)]
        if let headers { list.append(("Access-Control-Request-Headers", headers)) }
        return FilterTests.exchange(.OPTIONS, "/api", headers: list)
    }

    @Test func answersAnAllowedPreflight() throws {
        let filter = try FilterTests.make(CORSFilter.self, Self.config)
        let verdict = filter.onRequest(Self.preflight("https://app.example.com", headers: "content-type, x-token"))
        let response = try #require(verdict.response)
        #expect(response.status == .noContent)
        #expect(response.headers["access-control-allow-origin"] == ["https://app.example.com"])
        #expect(response.headers["access-control-allow-credentials"] == ["true"])
        #expect(response.headers["access-control-allow-methods"] == ["GET, POST, DELETE"])
        #expect(response.headers["access-control-allow-headers"] == ["Content-Type, X-Token"])
        #expect(response.headers["access-control-max-age"] == ["120"])
        #expect(response.headers.first(name: "vary")?.contains("Origin") == true)
        #expect(response.body.readableBytes == 0)
    }

    @Test func refusesPreflightsForOtherOriginsMethodsAndHeaders() throws {
        let filter = try FilterTests.make(CORSFilter.self, Self.config)
        for exchange in [
            Self.preflight("https://evil.example.com"),
            Self.preflight("http://app.example.com"),  // scheme differs
            Self.preflight("https://example.org"),  // the wildcard needs a subdomain
            Self.preflight("https://app.example.com:8443"),  // port differs
            Self.preflight("https://app.example.com", method: "PUT"),
            Self.preflight("https://app.example.com", headers: "x-other"),
        ] {
            let response = try #require(filter.onRequest(exchange).response)
            #expect(response.status == .forbidden)
            #expect(!response.headers.contains(name: "access-control-allow-origin"))
        }
    }

    @Test func matchesWildcardSubdomainsAndSchemelessOrigins() throws {
        let filter = try FilterTests.make(CORSFilter.self, Self.config)
        #expect(filter.allows(origin: "https://a.example.org"))
        #expect(filter.allows(origin: "https://a.b.example.org"))
        #expect(filter.allows(origin: "HTTPS://A.Example.ORG"))
        #expect(!filter.allows(origin: "https://example.org"))
        #expect(!filter.allows(origin: "https://aexample.org"))
        #expect(!filter.allows(origin: "https://a.example.org.evil.com"))
        #expect(filter.allows(origin: "http://localhost:3000"))
        #expect(filter.allows(origin: "https://localhost:3000"))
        #expect(!filter.allows(origin: "http://localhost"))
        #expect(!filter.allows(origin: "null"))
        #expect(!filter.allows(origin: "app.example.com"))
    }

    @Test func addsHeadersToActualResponsesAndStripsThemForOtherOrigins() throws {
        let filter = try FilterTests.make(CORSFilter.self, Self.config)
        let allowed = FilterTests.exchange(.GET, headers: [("Origin", "https://x.example.org")])
        #expect(filter.onRequest(allowed).isProceed)
        allowed.responseHeaders = HTTPHeaders([("Vary", "Accept-Encoding")])
        #expect(filter.onResponse(allowed).isProceed)
        #expect(allowed.responseHeaders["access-control-allow-origin"] == ["https://x.example.org"])
        #expect(allowed.responseHeaders["access-control-allow-credentials"] == ["true"])
        #expect(allowed.responseHeaders["access-control-expose-headers"] == ["X-Total"])
        #expect(allowed.responseHeaders["vary"] == ["Accept-Encoding", "Origin"])

        let other = FilterTests.exchange(.GET, headers: [("Origin", "https://evil.com")])
        #expect(filter.onRequest(other).isProceed)
        other.responseHeaders = HTTPHeaders([("Access-Control-Allow-Origin", "*"), ("Vary", "origin")])
        _ = filter.onResponse(other)
        #expect(!other.responseHeaders.contains(name: "access-control-allow-origin"))
        #expect(other.responseHeaders["vary"] == ["origin"])

        // An OPTIONS request without Access-Control-Request-Method is not a preflight.
        let options = FilterTests.exchange(.OPTIONS, headers: [("Origin", "https://app.example.com")])
        #expect(filter.onRequest(options).isProceed)
    }

    @Test func anyOriginWithoutCredentialsAnswersAStar() throws {
        let filter = try FilterTests.make(CORSFilter.self, #"{"allowed_origins": ["*"], "allowed_methods": ["*"]}"#)
        let response = try #require(filter.onRequest(Self.preflight("https://anything.test", method: "PURGE", headers: "X-A,X-B")).response)
        #expect(response.status == .noContent)
        #expect(response.headers["access-control-allow-origin"] == ["*"])
        #expect(response.headers["access-control-allow-methods"] == ["PURGE"])
        #expect(response.headers["access-control-allow-headers"] == ["X-A, X-B"])
        #expect(!response.headers.contains(name: "access-control-allow-credentials"))

        let actual = FilterTests.exchange(.GET, headers: [("Origin", "https://anything.test")])
        _ = filter.onResponse(actual)
        #expect(actual.responseHeaders["access-control-allow-origin"] == ["*"])
        #expect(!actual.responseHeaders.contains(name: "vary"))
    }

    @Test func configErrors() {
        let star = FilterTests.problem(CORSFilter.self, #"{"allowed_origins": ["https://a.test", "*"], "allow_credentials": true}"#)
        #expect(star?.path == "$.allowed_origins[1]")
        #expect(star?.message.contains("allow_credentials") == true)
        #expect(FilterTests.problem(CORSFilter.self, "{}")?.message.contains("allowed_origins") == true)
        for bad in ["https://*", "https://a.*.test", "https://a.test/path", "https://a.test:port", "*://a.test"] {
            let problem = FilterTests.problem(CORSFilter.self, #"{"allowed_origins": ["\#(bad)"]}"#)
            #expect(problem?.path == "$.allowed_origins[0]", "\(bad)")
            #expect(problem?.message.contains("not an origin") == true, "\(bad)")
        }
        #expect(FilterTests.problem(CORSFilter.self, #"{"allowed_origins": ["https://a.test"], "allowed_headers": ["bad header"]}"#)?.path == "$.allowed_headers[0]")
        #expect(FilterTests.problem(CORSFilter.self, #"{"allowed_origins": ["https://a.test"], "exposed_headers": ["*"], "allow_credentials": true}"#)?.path == "$.exposed_headers")
    }
}
