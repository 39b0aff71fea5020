import Crypto
public import JesterManifest
import NIOHTTP1

/// `basic-auth`: HTTP Basic authentication against a fixed set of users.
///
/// Users come from `users` (`{ alice = "<hash>" }`) and/or an htpasswd-style `file` (one
/// `name:hash` per line, `#` comments), read once when the filter is made. Hashes:
///
/// - `{SHA256}<base64 of SHA-256(password)>`, `{SSHA256}<base64 of SHA-256(password ‖ salt) ‖ salt>`
/// - `{SHA}<base64 of SHA-1(password)>` (what `htpasswd -s` writes), `{SSHA}` (salted, as above)
/// - `sha256:<salt>:<hex of SHA-256(salt ‖ password)>`
///
/// bcrypt (`$2y$`), `$apr1$` and crypt(3) hashes are refused when the config is loaded: this build
/// has no bcrypt implementation. The unsalted forms are as weak as the passwords they hash; prefer
/// the salted ones with long random passwords. Digests are compared in constant time, and an unknown
/// user costs the same as a wrong password.
///
/// A request without valid credentials gets 401 with `WWW-Authenticate: Basic realm="…"`. The
/// `Authorization` header is removed before the upstream unless `forward_credentials`; with
/// `user_header`, the user name goes upstream in that header (a client's own copy is removed).
///
/// ```toml
/// [[routes.filters]]
/// type = "builtin"
/// name = "basic-auth"
/// config = { realm = "admin", file = "admin.htpasswd", user_header = "x-user" }
/// ```
public struct BasicAuthFilter: BuiltinFilter {
    public static let name = "basic-auth"
    public static let summary = "Require HTTP Basic credentials from a list of users with hashed passwords."

    public static let configSchema: JSONValue = [
        "type": "object",
        "description": "At least one of users and file.",
        "properties": [
            "users": [
                "type": "object", "additionalProperties": ["type": "string", "minLength": 1],
                "description": "User names and password hashes ({SHA256}…, {SSHA256}…, {SHA}…, {SSHA}…, sha256:salt:hex).",
            ],
            "file": ["type": "string", "minLength": 1, "description": "An htpasswd-style file (name:hash per line), relative to the config file."],
            "realm": [
                "type": "string", "minLength": 1, "maxLength": 128, "default": "Restricted",
                "description": "The realm shown by browsers.",
            ],
            "forward_credentials": ["type": "boolean", "default": false, "description": "Pass the Authorization header on to the upstream."],
            "user_header": ["type": "string", "minLength": 1, "description": "A request header that carries the authenticated user name upstream."],
        ],
        "additionalProperties": false,
    ]

    /// A stored password hash.
    enum Credential: Sendable {
        case sha1(digest: [UInt8], salt: [UInt8])
        case sha256(digest: [UInt8], salt: [UInt8], saltFirst: Bool)

        /// Parses a stored hash; nil with a reason when it is not a supported form.
        static func parse(_ text: String) -> Result<Credential, FilterSupport.FileProblem> {
            func decoded(_ body: Substring, digestSize: Int, salted: Bool) -> (digest: [UInt8], salt: [UInt8])? {
                guard let bytes = FilterSupport.base64Decode(body.utf8), salted ? bytes.count > digestSize : bytes.count == digestSize else {
                    return nil
                }
                return (Array(bytes[..<digestSize]), Array(bytes[digestSize...]))
            }
            let problem = { (message: String) in Result<Credential, FilterSupport.FileProblem>.failure(.init(message: message)) }
            if text.hasCaseInsensitivePrefix("{SHA256}") {
                guard let parts = decoded(text.dropFirst(8), digestSize: 32, salted: false) else { return problem("{SHA256} needs the base64 of a 32-byte digest") }
                return .success(.sha256(digest: parts.digest, salt: [], saltFirst: false))
            }
            if text.hasCaseInsensitivePrefix("{SSHA256}") {
                guard let parts = decoded(text.dropFirst(9), digestSize: 32, salted: true) else { return problem("{SSHA256} needs the base64 of a 32-byte digest followed by the salt") }
                return .success(.sha256(digest: parts.digest, salt: parts.salt, saltFirst: false))
            }
            if text.hasCaseInsensitivePrefix("{SHA}") {
                guard let parts = decoded(text.dropFirst(5), digestSize: 20, salted: false) else { return problem("{SHA} needs the base64 of a 20-byte digest") }
                return .success(.sha1(digest: parts.digest, salt: []))
            }
            if text.hasCaseInsensitivePrefix("{SSHA}") {
                guard let parts = decoded(text.dropFirst(6), digestSize: 20, salted: true) else { return problem("{SSHA} needs the base64 of a 20-byte digest followed by the salt") }
                return .success(.sha1(digest: parts.digest, salt: parts.salt))
            }
            if text.hasPrefix("sha256:") {
                let parts = text.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 3, !parts[1].isEmpty, let digest = FilterSupport.unhex(parts[2]), digest.count == 32 else {
                    return problem("sha256: hashes are written sha256:<salt>:<64 hex digits of SHA-256(salt followed by password)>")
                }
                return .success(.sha256(digest: digest, salt: Array(parts[1].utf8), saltFirst: true))
            }
            if text.hasPrefix("$2a$") || text.hasPrefix("$2b$") || text.hasPrefix("$2y$") || text.hasPrefix("$2x$") {
                return problem("bcrypt hashes are not supported by this build")
            }
            if text.hasPrefix("$apr1$") || text.hasPrefix("$1$") || text.hasPrefix("$5$") || text.hasPrefix("$6$") {
                return problem("crypt(3) and $apr1$ hashes are not supported")
            }
            return problem("the hash is not in a supported form")
        }

        /// Whether `password` matches, in time independent of where they differ.
        func verify(_ password: [UInt8]) -> Bool {
            switch self {
            case .sha1(let digest, let salt):
                var hasher = Insecure.SHA1()
                hasher.update(data: password)
                hasher.update(data: salt)
                return FilterSupport.constantTimeEqual(Array(hasher.finalize()), digest)
            case .sha256(let digest, let salt, let saltFirst):
                var hasher = SHA256()
                if saltFirst { hasher.update(data: salt) }
                hasher.update(data: password)
                if !saltFirst { hasher.update(data: salt) }
                return FilterSupport.constantTimeEqual(Array(hasher.finalize()), digest)
            }
        }
    }

    static let supportedForms = "Use {SHA256}<base64 SHA-256>, {SSHA256}<base64 SHA-256 and salt>, {SHA}/{SSHA} (htpasswd -s) or sha256:<salt>:<hex SHA-256 of salt+password>, e.g. printf '%s%s' \"$SALT\" \"$PASSWORD\" | sha256sum"

    let users: [String: Credential]
    let challenge: String
    let forwardCredentials: Bool
    let userHeader: String?
    /// Checked when the user is unknown, so that the answer takes as long as for a wrong password.
    private let decoy = Credential.sha256(digest: [UInt8](repeating: 0, count: 32), salt: [], saltFirst: true)

    public init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError) {
        var users: [String: Credential] = [:]
        var origins: [String: String] = [:]
        for member in config["users"]?.objectValue ?? [] {
            let path = "$.users.\(member.key)"
            guard !member.key.isEmpty, !member.key.contains(":") else {
                throw FilterConfigError(path, "a user name cannot be empty or hold a colon")
            }
            switch Credential.parse(member.value.stringValue ?? "") {
            case .success(let credential): users[member.key] = credential
            case .failure(let problem): throw FilterConfigError(path, problem.message, fix: Self.supportedForms)
            }
            origins[member.key] = path
        }
        if let file = config["file"]?.stringValue {
            let path = FilterSupport.resolve(file, in: setup.directory)
            let bytes: [UInt8]
            switch FilterSupport.readFile(path) {
            case .success(let read): bytes = read
            case .failure(let problem): throw FilterConfigError("$.file", problem.message)
            }
            for (index, rawLine) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
                let where_ = "\(path):\(index + 1)"
                var line = String(decoding: rawLine, as: UTF8.self)
                if line.hasSuffix("\r") { line.removeLast() }
                let trimmed = line.strippingSpaces()
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                guard let colon = trimmed.firstIndex(of: ":"), colon != trimmed.startIndex else {
                    throw FilterConfigError("$.file", "\(where_): expected name:hash")
                }
                let name = String(trimmed[..<colon])
                if let first = origins[name] {
                    throw FilterConfigError("$.file", "\(where_): user \(name) is already defined at \(first)", fix: "Define each user once")
                }
                switch Credential.parse(String(trimmed[trimmed.index(after: colon)...])) {
                case .success(let credential): users[name] = credential
                case .failure(let problem): throw FilterConfigError("$.file", "\(where_): \(problem.message)", fix: Self.supportedForms)
                }
                origins[name] = where_
            }
        }
        guard !users.isEmpty else {
            throw FilterConfigError("$", "defines no user", fix: "Set users = { name = \"<hash>\" } or file = \"<htpasswd file>\"")
        }
        self.users = users
        let realm = config["realm"]?.stringValue ?? "Restricted"
        guard realm.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else {
            throw FilterConfigError("$.realm", "a realm cannot hold quotes, backslashes or control characters")
        }
        challenge = "Basic realm=\"\(realm)\", charset=\"UTF-8\""
        forwardCredentials = config["forward_credentials"]?.boolValue ?? false
        if let name = config["user_header"]?.stringValue {
            userHeader = try FilterSupport.headerName(name, path: "$.user_header")
        } else {
            userHeader = nil
        }
    }

    public func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        if let userHeader { exchange.requestHeaders.remove(name: userHeader) }
        guard let user = authenticate(exchange.requestHeaders["authorization"]) else {
            var headers = HTTPHeaders()
            headers.add(name: "www-authenticate", value: challenge)
            return .respond(.text(.unauthorized, "Unauthorized", headers: headers))
        }
        if !forwardCredentials { exchange.requestHeaders.remove(name: "authorization") }
        if let userHeader { exchange.requestHeaders.add(name: userHeader, value: user) }
        return .proceed
    }

    /// The user whose valid credentials the `Authorization` values carry, or nil.
    func authenticate(_ values: [String]) -> String? {
        guard values.count == 1 else { return nil }
        let value = values[0].strippingSpaces()
        guard value.hasCaseInsensitivePrefix("basic "), let decoded = FilterSupport.base64Decode(value.dropFirst(6).strippingSpaces().utf8),
            let colon = decoded.firstIndex(of: UInt8(ascii: ":"))
        else { return nil }
        let name = String(decoding: decoded[..<colon], as: UTF8.self)
        let password = Array(decoded[(colon + 1)...])
        guard let credential = users[name] else {
            _ = decoy.verify(password)
            return nil
        }
        guard credential.verify(password), HeaderNames.isValue(name) else { return nil }
        return name
    }
}
