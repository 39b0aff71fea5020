import Crypto
import Foundation
@testable import JesterGateway
import JesterTesting
import NIOHTTP1
import Testing

@Suite struct BasicAuthFilterTests {
    static func sha256(_ text: String) -> [UInt8] { Array(SHA256.hash(data: Array(text.utf8))) }

    static var hashes: (sha256: String, ssha256: String, sha1: String, ssha: String, salted: String) {
        let salt = Array("pepper!".utf8)
        let sha256 = "{SHA256}" + Base64URL.encode(Self.sha256("s3cret"), url: false)
        var ssha = SHA256()
        ssha.update(data: Array("hunter2".utf8))
        ssha.update(data: salt)
        let ssha256 = "{SSHA256}" + Base64URL.encode(Array(ssha.finalize()) + salt, url: false)
        let sha1 = "{SHA}" + Base64URL.encode(Array(Insecure.SHA1.hash(data: Array("password".utf8))), url: false)
        var sha1Salted = Insecure.SHA1()
        sha1Salted.update(data: Array("letmein".utf8))
        sha1Salted.update(data: salt)
        let ssha1 = "{SSHA}" + Base64URL.encode(Array(sha1Salted.finalize()) + salt, url: false)
        let salted = "sha256:NaCl:" + Self.sha256("NaClopen sesame").map { String(format: "%02x", $0) }.joined()
        return (sha256, ssha256, sha1, ssha1, salted)
    }

    static func authorization(_ user: String, _ password: String) -> (String, String) {
        ("Authorization", "Basic " + Base64URL.encode(Array("\(user):\(password)".utf8), url: false))
    }

    @Test func acceptsEverySupportedHashForm() throws {
        let h = Self.hashes
        let filter = try FilterTests.make(
            BasicAuthFilter.self,
            #"{"users": {"alice": "\#(h.sha256)", "bob": "\#(h.ssha256)", "carol": "\#(h.sha1)", "dave": "\#(h.ssha)", "erin": "\#(h.salted)"}, "user_header": "X-User"}"#
        )
        for (user, password) in [("alice", "s3cret"), ("bob", "hunter2"), ("carol", "password"), ("dave", "letmein"), ("erin", "open sesame")] {
            let exchange = FilterTests.exchange(headers: [Self.authorization(user, password), ("x-user", "mallory")])
            #expect(filter.onRequest(exchange).isProceed, "\(user)")
            #expect(exchange.requestHeaders["x-user"] == [user])
            #expect(!exchange.requestHeaders.contains(name: "authorization"))
        }
    }

    @Test func refusesWrongCredentialsWithAChallenge() throws {
        let filter = try FilterTests.make(BasicAuthFilter.self, #"{"users": {"alice": "\#(Self.hashes.sha256)"}, "realm": "Back office", "user_header": "x-user"}"#)
        let cases: [[(String, String)]] = [
            [],
            [Self.authorization("alice", "wrong")],
            [Self.authorization("alice", "s3cret ")],
            [Self.authorization("mallory", "s3cret")],
            [("Authorization", "Basic !!!")],
            [("Authorization", "Bearer abc")],
            [("Authorization", "Basic " + Base64URL.encode(Array("alice".utf8), url: false))],
            [Self.authorization("alice", "s3cret"), Self.authorization("alice", "s3cret")],
        ]
        for headers in cases {
            let exchange = FilterTests.exchange(headers: headers + [("x-user", "alice")])
            let response = try #require(filter.onRequest(exchange).response, "\(headers)")
            #expect(response.status == .unauthorized)
            #expect(response.headers["www-authenticate"] == [#"Basic realm="Back office", charset="UTF-8""#])
            #expect(!exchange.requestHeaders.contains(name: "x-user"))
        }
        // The scheme is case-insensitive.
        let lower = FilterTests.exchange(headers: [("authorization", "basic " + Base64URL.encode(Array("alice:s3cret".utf8), url: false))])
        #expect(filter.onRequest(lower).isProceed)
    }

    @Test func forwardsCredentialsWhenAsked() throws {
        let filter = try FilterTests.make(BasicAuthFilter.self, #"{"users": {"alice": "\#(Self.hashes.sha256)"}, "forward_credentials": true}"#)
        let exchange = FilterTests.exchange(headers: [Self.authorization("alice", "s3cret")])
        #expect(filter.onRequest(exchange).isProceed)
        #expect(exchange.requestHeaders.contains(name: "authorization"))
    }

    @Test func readsAnHtpasswdFileRelativeToTheConfig() throws {
        let directory = try JesterFixtures.temporaryDirectory("basic-auth")
        let h = Self.hashes
        let text = "# admins\r\n\nalice:\(h.sha256)\r\n  carol:\(h.sha1)\n"
        try text.write(toFile: directory + "/users.htpasswd", atomically: true, encoding: .utf8)
        let filter = try FilterTests.make(BasicAuthFilter.self, #"{"file": "users.htpasswd", "users": {"erin": "\#(h.salted)"}}"#, directory: directory)
        for (user, password) in [("alice", "s3cret"), ("carol", "password"), ("erin", "open sesame")] {
            #expect(filter.onRequest(FilterTests.exchange(headers: [Self.authorization(user, password)])).isProceed, "\(user)")
        }
    }

    @Test func configErrorsNameTheUserOrFileLine() throws {
        let bcrypt = FilterTests.problem(BasicAuthFilter.self, #"{"users": {"alice": "$2y$10$abcdefghijklmnopqrstuu5Ws7ZJcT6.oCw0rX8l4Uq0Vtbkrxk1a"}}"#)
        #expect(bcrypt?.path == "$.users.alice")
        #expect(bcrypt?.message.contains("bcrypt hashes are not supported") == true)
        #expect(bcrypt?.message.contains("{SHA256}") == true)
        #expect(FilterTests.problem(BasicAuthFilter.self, #"{"users": {"alice": "{SHA256}c2hvcnQ="}}"#)?.message.contains("32-byte") == true)
        #expect(FilterTests.problem(BasicAuthFilter.self, #"{"users": {"alice": "plain"}}"#)?.message.contains("not in a supported form") == true)
        #expect(FilterTests.problem(BasicAuthFilter.self, #"{"users": {"alice": "sha256:salt:abc"}}"#)?.path == "$.users.alice")
        #expect(FilterTests.problem(BasicAuthFilter.self, "{}")?.message.contains("defines no user") == true)
        #expect(FilterTests.problem(BasicAuthFilter.self, #"{"users": {"alice": "\#(Self.hashes.sha256)"}, "realm": "a\"b"}"#)?.path == "$.realm")

        let directory = try JesterFixtures.temporaryDirectory("basic-auth")
        try "alice:\(Self.hashes.sha256)\nbob:$apr1$xyz$abc\n".write(toFile: directory + "/a.htpasswd", atomically: true, encoding: .utf8)
        let apr = FilterTests.problem(BasicAuthFilter.self, #"{"file": "a.htpasswd"}"#, directory: directory)
        #expect(apr?.path == "$.file")
        #expect(apr?.message.contains("a.htpasswd:2") == true)
        #expect(apr?.message.contains("$apr1$") == true)

        try "alice:\(Self.hashes.sha256)\n".write(toFile: directory + "/b.htpasswd", atomically: true, encoding: .utf8)
        let duplicate = FilterTests.problem(BasicAuthFilter.self, #"{"file": "b.htpasswd", "users": {"alice": "\#(Self.hashes.sha256)"}}"#, directory: directory)
        #expect(duplicate?.message.contains("already defined at $.users.alice") == true)

        let missing = FilterTests.problem(BasicAuthFilter.self, #"{"file": "nope.htpasswd"}"#, directory: directory)
        #expect(missing?.path == "$.file")
        #expect(missing?.message.contains("cannot open") == true)
    }
}
