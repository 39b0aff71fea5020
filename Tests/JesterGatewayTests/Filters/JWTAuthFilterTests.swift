import Crypto
import CryptoExtras
import Foundation
@testable import JesterGateway
import JesterTesting
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// Tokens signed with swift-crypto directly, so that jwt-kit is checked against an independent signer.
enum TestTokens {
    static let secret = "an HMAC secret that is long enough for HS256!"
    static let now: Double = 1_700_000_000
    static let ecKey = P256.Signing.PrivateKey()
    static let otherECKey = P256.Signing.PrivateKey()
    static let rsaKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    static func encode(_ json: String) -> String { Base64URL.encode(Array(json.utf8)) }

    static func make(header: String, payload: String, sign: ([UInt8]) throws -> [UInt8]) rethrows -> String {
        let input = encode(header) + "." + encode(payload)
        return input + "." + Base64URL.encode(try sign(Array(input.utf8)))
    }

    static func hs256(_ payload: String, secret: String = secret, header: String = #"{"alg":"HS256","typ":"JWT"}"#) -> String {
        make(header: header, payload: payload) { Array(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: Array(secret.utf8)))) }
    }

    static func es256(_ payload: String, kid: String? = "ec-1", key: P256.Signing.PrivateKey = ecKey) -> String {
        let header = kid.map { #"{"alg":"ES256","kid":"\#($0)"}"# } ?? #"{"alg":"ES256"}"#
        return try! make(header: header, payload: payload) { Array(try key.signature(for: $0).rawRepresentation) }
    }

    static func rs256(_ payload: String, kid: String = "rsa-1") -> String {
        try! make(header: #"{"alg":"RS256","kid":"\#(kid)"}"#, payload: payload) {
            Array(try rsaKey.signature(for: $0, padding: .insecurePKCS1v1_5).rawRepresentation)
        }
    }

    static func ecJWK(kid: String, key: P256.Signing.PrivateKey = ecKey) -> String {
        let raw = Array(key.publicKey.rawRepresentation)
        return #"{"kty":"EC","crv":"P-256","kid":"\#(kid)","use":"sig","x":"\#(Base64URL.encode(raw[0..<32]))","y":"\#(Base64URL.encode(raw[32..<64]))"}"#
    }

    static var rsaJWK: String {
        let primitives = try! rsaKey.publicKey.getKeyPrimitives()
        return #"{"kty":"RSA","kid":"rsa-1","alg":"RS256","n":"\#(Base64URL.encode(primitives.modulus))","e":"\#(Base64URL.encode(primitives.publicExponent))"}"#
    }

    static func jwks(_ keys: String...) -> String { #"{"keys":[\#(keys.joined(separator: ","))]}"# }

    /// A payload valid at ``now`` with extra members.
    static func claims(_ extra: String = "", exp: Double = now + 600) -> String {
        #"{"sub":"alice","exp":\#(Int(exp))\#(extra.isEmpty ? "" : "," + extra)}"#
    }
}

@Suite struct JWTAuthFilterTests {
    static func filter(_ json: String, directory: String = "/nonexistent") async throws -> JWTAuthFilter {
        var filter = try FilterTests.make(JWTAuthFilter.self, json, directory: directory)
        await filter.keys.loaded()
        filter.now = { TestTokens.now }
        return filter
    }

    static func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer " + token)] }

    static func rejection(_ verdict: FilterVerdict) -> String? {
        guard let response = verdict.response, response.status == .unauthorized else { return nil }
        return response.headers.first(name: "www-authenticate")
    }

    @Test func hs256TokensPassAndClaimsBecomeHeaders() async throws {
        let filter = try await Self.filter(#"{"secret": "\#(TestTokens.secret)", "claims_to_headers": {"sub": "x-user", "roles": "x-roles", "admin": "x-admin", "missing": "x-missing"}}"#)
        let token = TestTokens.hs256(TestTokens.claims(#""roles":["a","b"],"admin":true"#))
        let exchange = FilterTests.exchange(headers: Self.bearer(token) + [("x-user", "mallory"), ("x-missing", "spoofed")])
        let verdict = filter.onRequest(exchange)
        #expect(verdict.isProceed, "\(Self.rejection(verdict) ?? "")")
        #expect(exchange.requestHeaders["x-user"] == ["alice"])
        #expect(exchange.requestHeaders["x-roles"] == [#"["a","b"]"#])
        #expect(exchange.requestHeaders["x-admin"] == ["true"])
        #expect(!exchange.requestHeaders.contains(name: "x-missing"))
        #expect(exchange.requestHeaders.contains(name: "authorization"))
    }

    @Test func badTokensGet401WithTheReason() async throws {
        let filter = try await Self.filter(#"{"secret": "\#(TestTokens.secret)", "issuer": "https://issuer.test", "audience": ["api", "web"], "leeway": "30s", "realm": "api"}"#)
        let ok = #""iss":"https://issuer.test","aud":"api""#
        #expect(filter.onRequest(FilterTests.exchange(headers: Self.bearer(TestTokens.hs256(TestTokens.claims(ok))))).isProceed)
        // Within the leeway, an audience list that contains one of ours.
        let late = TestTokens.hs256(TestTokens.claims(#""iss":"https://issuer.test","aud":["other","web"]"#, exp: TestTokens.now - 20))
        #expect(filter.onRequest(FilterTests.exchange(headers: Self.bearer(late))).isProceed)

        let cases: [(String, String)] = [
            (TestTokens.hs256(TestTokens.claims(ok, exp: TestTokens.now - 31)), "the token has expired"),
            (TestTokens.hs256(TestTokens.claims(ok + #","nbf":\#(Int(TestTokens.now + 60))"#)), "the token is not valid yet"),
            (TestTokens.hs256(TestTokens.claims(#""iss":"https://evil.test","aud":"api""#)), "issuer is not accepted"),
            (TestTokens.hs256(TestTokens.claims(#""iss":"https://issuer.test","aud":"other""#)), "audience is not accepted"),
            (TestTokens.hs256(TestTokens.claims(#""iss":"https://issuer.test""#)), "audience is not accepted"),
            (TestTokens.hs256(#"{"sub":"alice","iss":"https://issuer.test","aud":"api"}"#), "has no exp claim"),
            (TestTokens.hs256(TestTokens.claims(ok), secret: "another secret that is long enough for HS256"), "signature does not verify"),
            (TestTokens.hs256(TestTokens.claims(ok), header: #"{"alg":"HS384"}"#), "alg is not accepted"),
            (TestTokens.hs256(TestTokens.claims(ok), header: #"{"alg":"HS256","crit":["exp"]}"#), "critical extensions"),
            (TestTokens.encode(#"{"alg":"none"}"#) + "." + TestTokens.encode(TestTokens.claims(ok)) + ".", "the token is not signed"),
            (TestTokens.encode(#"{"alg":"none"}"#) + "." + TestTokens.encode(TestTokens.claims(ok)) + ".AA", "alg is not accepted"),
            ("not-a-token", "not a signed JWT"),
            ("a.b.c", "not valid base64url"),
            (TestTokens.encode("[1]") + "." + TestTokens.encode("{}") + ".AA", "header is not a JSON object"),
        ]
        for (token, reason) in cases {
            let challenge = Self.rejection(filter.onRequest(FilterTests.exchange(headers: Self.bearer(token))))
            #expect(challenge?.hasPrefix(#"Bearer realm="api", error="invalid_token", error_description=""#) == true, "\(reason): \(challenge ?? "proceeded")")
            #expect(challenge?.contains(reason) == true, "\(reason): \(challenge ?? "proceeded")")
        }
        // Tampering with the payload breaks the signature.
        var parts = TestTokens.hs256(TestTokens.claims(ok)).split(separator: ".").map(String.init)
        parts[1] = TestTokens.encode(TestTokens.claims(ok + #","admin":true"#))
        #expect(Self.rejection(filter.onRequest(FilterTests.exchange(headers: Self.bearer(parts.joined(separator: "."))))) != nil)

        // No token at all: a challenge without an error.
        for headers in [[], [("Authorization", "Basic abc")], [("Authorization", "Bearer ")]] {
            #expect(Self.rejection(filter.onRequest(FilterTests.exchange(headers: headers))) == #"Bearer realm="api""#)
        }
    }

    @Test func findsTheTokenInTheConfiguredPlaces() async throws {
        let filter = try await Self.filter(#"{"secret": "\#(TestTokens.secret)", "header": "X-Token", "query": "access_token", "cookie": "session", "require_exp": false}"#)
        let token = TestTokens.hs256(#"{"sub":"alice"}"#)
        #expect(filter.onRequest(FilterTests.exchange(headers: [("x-token", token)])).isProceed)
        #expect(filter.onRequest(FilterTests.exchange(headers: [("x-token", "Bearer " + token)])).isProceed)
        #expect(filter.onRequest(FilterTests.exchange(query: "a=1&access_token=\(token)")).isProceed)
        #expect(filter.onRequest(FilterTests.exchange(headers: [("Cookie", "theme=dark; session=\(token)")])).isProceed)
        // Authorization is not one of the configured places.
        #expect(Self.rejection(filter.onRequest(FilterTests.exchange(headers: Self.bearer(token)))) == "Bearer")
    }

    @Test func verifiesES256AndRS256FromAKeySetFile() async throws {
        let directory = try JesterFixtures.temporaryDirectory("jwks")
        let set = TestTokens.jwks(TestTokens.ecJWK(kid: "ec-1"), TestTokens.rsaJWK, #"{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}"#)
        try set.write(toFile: directory + "/keys.json", atomically: true, encoding: .utf8)
        let filter = try await Self.filter(#"{"jwks_file": "keys.json", "claims_to_headers": {"sub": "x-user"}}"#, directory: directory)
        #expect(filter.keys.isLoaded)

        for token in [TestTokens.es256(TestTokens.claims()), TestTokens.rs256(TestTokens.claims()), TestTokens.es256(TestTokens.claims(), kid: nil)] {
            let exchange = FilterTests.exchange(headers: Self.bearer(token))
            let verdict = filter.onRequest(exchange)
            #expect(verdict.isProceed, "\(Self.rejection(verdict) ?? "\(verdict)")")
            #expect(exchange.requestHeaders["x-user"] == ["alice"])
        }
        let wrongKey = TestTokens.es256(TestTokens.claims(), key: TestTokens.otherECKey)
        #expect(Self.rejection(filter.onRequest(FilterTests.exchange(headers: Self.bearer(wrongKey))))?.contains("signature does not verify") == true)
        let unknownKid = TestTokens.es256(TestTokens.claims(), kid: "ec-9")
        #expect(Self.rejection(filter.onRequest(FilterTests.exchange(headers: Self.bearer(unknownKid))))?.contains("no key matches") == true)
        // An RS256 key's kid with an ES256 token, and an HMAC token signed with the public key's bytes: refused.
        let swapped = TestTokens.es256(TestTokens.claims(), kid: "rsa-1")
        #expect(Self.rejection(filter.onRequest(FilterTests.exchange(headers: Self.bearer(swapped)))) != nil)
        let confused = TestTokens.hs256(TestTokens.claims(), secret: TestTokens.rsaJWK)
        #expect(Self.rejection(filter.onRequest(FilterTests.exchange(headers: Self.bearer(confused))))?.contains("alg is not accepted") == true)
    }

    @Test func configErrors() throws {
        #expect(FilterTests.problem(JWTAuthFilter.self, "{}")?.message.contains("no key source") == true)
        #expect(FilterTests.problem(JWTAuthFilter.self, #"{"secret": "\#(TestTokens.secret)", "jwks_url": "https://a.test/k"}"#)?.message.contains("more than one key source") == true)
        let short = FilterTests.problem(JWTAuthFilter.self, #"{"secret": "short"}"#)
        #expect(short?.path == "$.secret")
        #expect(short?.message.contains("at least 32") == true)
        #expect(FilterTests.problem(JWTAuthFilter.self, #"{"secret": "\#(TestTokens.secret)", "algorithms": ["HS512"]}"#)?.message.contains("at least 64") == true)
        let mixed = FilterTests.problem(JWTAuthFilter.self, #"{"secret": "\#(TestTokens.secret)", "algorithms": ["HS256", "RS256"]}"#)
        #expect(mixed?.path == "$.algorithms[1]")
        #expect(FilterTests.problem(JWTAuthFilter.self, #"{"jwks_url": "https://a.test/k", "algorithms": ["HS256"]}"#)?.path == "$.algorithms[0]")
        #expect(FilterTests.problem(JWTAuthFilter.self, #"{"secret_env": "JESTER_TEST_UNSET_VARIABLE"}"#)?.message.contains("is not set") == true)
        #expect(FilterTests.problem(JWTAuthFilter.self, #"{"jwks_url": "ftp://a.test/k"}"#)?.path == "$.jwks_url")
        #expect(FilterTests.problem(JWTAuthFilter.self, #"{"jwks_file": "missing.json"}"#)?.path == "$.jwks_file")
        #expect(FilterTests.problem(JWTAuthFilter.self, #"{"secret": "\#(TestTokens.secret)", "claims_to_headers": {"sub": "x user"}}"#)?.path == "$.claims_to_headers.sub")
        #expect(FilterTests.problem(JWTAuthFilter.self, #"{"secret": "\#(TestTokens.secret)", "leeway": "a while"}"#)?.path == "$.leeway")
        #expect(FilterTests.problem(JWTAuthFilter.self, #"{"secret": "\#(TestTokens.secret)", "secret_encoding": "base64"}"#)?.message.contains("base64") == true)

        let directory = try JesterFixtures.temporaryDirectory("jwks")
        try #"{"keys": "none"}"#.write(toFile: directory + "/bad.json", atomically: true, encoding: .utf8)
        let bad = FilterTests.problem(JWTAuthFilter.self, #"{"jwks_file": "bad.json"}"#, directory: directory)
        #expect(bad?.path == "$.jwks_file")
        #expect(bad?.message.contains("no \"keys\" array") == true)
        try TestTokens.jwks(TestTokens.ecJWK(kid: "a")).write(toFile: directory + "/ec.json", atomically: true, encoding: .utf8)
        #expect(FilterTests.problem(JWTAuthFilter.self, #"{"jwks_file": "ec.json", "algorithms": ["RS256"]}"#, directory: directory)?.message.contains("holds no key for RS256") == true)
    }
}

/// The `jwks_url` key source against a real origin on loopback.
@Suite(.serialized) struct JWTKeySetURLTests {
    struct Outcome: Sendable {
        var verdict: FilterVerdict
        var headers: HTTPHeaders
        var waited: Bool
    }

    /// Runs the request phase on a real event loop, waiting for a `.later` verdict.
    static func run(_ filter: JWTAuthFilter, _ token: String) async throws -> Outcome {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        return try await loop.flatSubmit {
            let exchange = FilterTests.exchange(headers: [("Authorization", "Bearer " + token)], on: loop)
            let bound = NIOLoopBound(exchange, eventLoop: loop)
            let verdict = filter.onRequest(exchange)
            if case .later(let future) = verdict {
                return future.map { Outcome(verdict: $0, headers: bound.value.requestHeaders, waited: true) }
            }
            return loop.makeSucceededFuture(Outcome(verdict: verdict, headers: exchange.requestHeaders, waited: false))
        }.get()
    }

    static func origin(_ keySet: NIOLockedValueBox<(HTTPResponseStatus, String)>) async throws -> TestOrigin {
        try await TestOrigin { _ in
            let (status, body) = keySet.withLockedValue { $0 }
            return (status, HTTPHeaders([("content-type", "application/json")]), Array(body.utf8))
        }
    }

    static func filter(_ json: String) throws -> JWTAuthFilter {
        var filter = try FilterTests.make(JWTAuthFilter.self, json)
        filter.now = { TestTokens.now }
        return filter
    }

    @Test func requestsWaitForTheFirstFetch() async throws {
        let keySet = NIOLockedValueBox((HTTPResponseStatus.ok, TestTokens.jwks(TestTokens.ecJWK(kid: "ec-1"))))
        let origin = try await Self.origin(keySet)
        defer { Task { await origin.stop() } }
        let filter = try Self.filter(#"{"jwks_url": "\#(origin.url)/slow/700", "claims_to_headers": {"sub": "x-user"}}"#)
        let outcome = try await Self.run(filter, TestTokens.es256(TestTokens.claims()))
        #expect(outcome.waited)
        #expect(outcome.verdict.isProceed, "\(outcome.verdict)")
        #expect(outcome.headers["x-user"] == ["alice"])
        // Later requests are answered at once.
        let second = try await Self.run(filter, TestTokens.es256(TestTokens.claims()))
        #expect(!second.waited && second.verdict.isProceed)
        #expect(origin.requests.count == 1)
        #expect(origin.requests.first?.head.uri == "/slow/700")
        #expect(origin.requests.first?.head.headers["host"] == ["127.0.0.1:\(origin.port)"])
    }

    @Test func anUnknownKidRefetchesAtMostOncePerInterval() async throws {
        let keySet = NIOLockedValueBox((HTTPResponseStatus.ok, TestTokens.jwks(TestTokens.ecJWK(kid: "ec-1"))))
        let origin = try await Self.origin(keySet)
        defer { Task { await origin.stop() } }
        let filter = try Self.filter(#"{"jwks_url": "\#(origin.url)/jwks.json", "jwks_refetch_interval": "300ms"}"#)
        await filter.keys.loaded()
        #expect(origin.requests.count == 1)

        // The issuer rotates in a new key.
        keySet.withLockedValue { $0.1 = TestTokens.jwks(TestTokens.ecJWK(kid: "ec-1"), TestTokens.ecJWK(kid: "ec-2", key: TestTokens.otherECKey)) }
        try await Task.sleep(for: .milliseconds(350))
        let rotated = try await Self.run(filter, TestTokens.es256(TestTokens.claims(), kid: "ec-2", key: TestTokens.otherECKey))
        #expect(rotated.waited)
        #expect(rotated.verdict.isProceed, "\(rotated.verdict)")
        #expect(origin.requests.count == 2)

        // Another unknown kid right away: refused without a fetch.
        let unknown = TestTokens.es256(TestTokens.claims(), kid: "ec-3")
        let soon = try await Self.run(filter, unknown)
        #expect(!soon.waited)
        #expect(soon.verdict.response?.status == .unauthorized)
        #expect(origin.requests.count == 2)
        // After the interval: one more fetch, still unknown.
        try await Task.sleep(for: .milliseconds(350))
        let later = try await Self.run(filter, unknown)
        #expect(later.waited)
        #expect(later.verdict.response?.status == .unauthorized)
        #expect(origin.requests.count == 3)
    }

    @Test func anExpiredSetIsRefreshedInTheBackground() async throws {
        let keySet = NIOLockedValueBox((HTTPResponseStatus.ok, TestTokens.jwks(TestTokens.ecJWK(kid: "ec-1"))))
        let origin = try await Self.origin(keySet)
        defer { Task { await origin.stop() } }
        let filter = try Self.filter(#"{"jwks_url": "\#(origin.url)/jwks.json", "jwks_cache_ttl": "100ms", "jwks_refetch_interval": "100ms"}"#)
        await filter.keys.loaded()
        try await Task.sleep(for: .milliseconds(150))
        // The next request is answered with the old keys, and starts a fetch.
        let outcome = try await Self.run(filter, TestTokens.es256(TestTokens.claims()))
        #expect(!outcome.waited && outcome.verdict.isProceed)
        await filter.keys.loaded()
        #expect(origin.requests.count == 2)
    }

    @Test func aKeySetThatCannotBeFetchedFailsTheFilter() async throws {
        let keySet = NIOLockedValueBox((HTTPResponseStatus.internalServerError, "oops"))
        let origin = try await Self.origin(keySet)
        let filter = try Self.filter(#"{"jwks_url": "\#(origin.url)/jwks.json", "jwks_refetch_interval": "10m"}"#)
        await filter.keys.loaded()
        let outcome = try await Self.run(filter, TestTokens.es256(TestTokens.claims()))
        let failure = try #require(outcome.verdict.failure)
        #expect(failure.unavailable)
        #expect(failure.message.contains("answered 500"))

        // Nothing listens: the connection is refused.
        let port = origin.port
        await origin.stop()
        let closed = try Self.filter(#"{"jwks_url": "http://127.0.0.1:\#(port)/jwks.json", "jwks_timeout": "2s"}"#)
        await closed.keys.loaded()
        let refused = try await Self.run(closed, TestTokens.es256(TestTokens.claims()))
        #expect(refused.verdict.failure?.message.contains("cannot connect") == true)
    }
}
