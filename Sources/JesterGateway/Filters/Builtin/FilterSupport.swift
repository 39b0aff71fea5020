import JesterConfig
import JesterManifest
import JesterRuntime
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Small pieces the built-in filters share: config readers, base64 and hex, constant-time
/// comparison, header-list edits and the wall clock.
enum FilterSupport {
    // MARK: Config

    /// A duration written as `"250ms"`, `"10s"`, `"1m"`, `"1m30s"` (the config's duration form).
    static func duration(_ value: JSONValue?, path: String, allowZero: Bool = false) throws(FilterConfigError) -> TimeAmount? {
        guard let value else { return nil }
        guard let text = value.stringValue else {
            throw FilterConfigError(path, "must be a duration such as \"250ms\", \"10s\" or \"1m\"")
        }
        switch ValueParsers.duration(text) {
        case .success(let duration):
            guard allowZero || duration.milliseconds > 0 else {
                throw FilterConfigError(path, "must be longer than 0", fix: "Write a duration such as \"250ms\" or \"10s\"")
            }
            return .milliseconds(duration.milliseconds)
        case .failure(let problem):
            throw FilterConfigError(path, problem.message, fix: "Write a duration such as \"250ms\", \"10s\" or \"1m\"")
        }
    }

    /// A size written as an integer number of bytes or a string such as `"64KiB"`.
    static func size(_ value: JSONValue?, path: String) throws(FilterConfigError) -> Int? {
        guard let value else { return nil }
        if let integer = value.integerValue {
            guard integer >= 0 else { throw FilterConfigError(path, "must not be negative") }
            return Int(integer)
        }
        guard let text = value.stringValue else { throw FilterConfigError(path, "must be a size such as 65536 or \"64KiB\"") }
        switch ValueParsers.size(text) {
        case .success(let bytes): return Int(bytes)
        case .failure(let problem): throw FilterConfigError(path, problem.message, fix: "Write a size such as 65536, \"64KiB\" or \"1MiB\"")
        }
    }

    /// The schema of a duration value.
    static func durationSchema(_ description: String, default value: String? = nil) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("type", "string"), ("minLength", 1), ("description", .string(description)),
        ]
        if let value { members.append(("default", .string(value))) }
        return .object(members)
    }

    /// Checks that `name` can be used as a header name.
    static func headerName(_ name: String, path: String) throws(FilterConfigError) -> String {
        guard HeaderNames.isToken(name) else {
            throw FilterConfigError(path, "\"\(name)\" is not a header name", fix: "Header names are letters, digits and !#$%&'*+-.^_`|~")
        }
        return name.lowercased()
    }

    // MARK: Encodings

    /// Lower-case hex of `bytes`.
    static func hex(_ bytes: some Sequence<UInt8>) -> String { Hex.encode(bytes) }

    /// The bytes of a hex string (either case), or nil.
    static func unhex(_ text: some StringProtocol) -> [UInt8]? { Hex.decode(text) }

    /// Decodes base64 (`+/`) or base64url (`-_`), with or without `=` padding; nil when malformed.
    static func base64Decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        var count = 0
        for byte in text {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="):
                padding += 1
                count += 1
                continue
            default: return nil
            }
            guard padding == 0 else { return nil }  // data after padding
            count += 1
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // A lone sextet cannot encode a byte; padding, when present, completes a quantum of four.
        guard count % 4 != 1, padding <= 2, padding == 0 || count % 4 == 0 else { return nil }
        // Leftover bits must be zero (canonical encoding).
        guard accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }

    /// Compares two byte strings in time that depends only on their lengths.
    static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    // MARK: Headers

    /// Adds `token` to the comma-separated list header `name` unless it is there already
    /// (case-insensitive), as `Vary` needs.
    static func addListToken(_ token: String, to name: String, in headers: inout HTTPHeaders) {
        for value in headers[name] {
            for part in value.split(separator: ",") {
                let trimmed = part.strippingSpaces()
                if trimmed == "*" || trimmed.caseInsensitiveEquals(token) { return }
            }
        }
        headers.add(name: name, value: token)
    }

    // MARK: Files

    /// `path` resolved against `directory` unless absolute.
    static func resolve(_ path: String, in directory: String) -> String {
        if path.hasPrefix("/") || directory.isEmpty { return path }
        return directory.hasSuffix("/") ? directory + path : directory + "/" + path
    }

    /// The bytes of a file of at most `limit` bytes, or a message saying why not.
    static func readFile(_ path: String, limit: Int = 16 << 20) -> Result<[UInt8], FileProblem> {
        guard let file = fopen(path, "rb") else {
            return .failure(FileProblem(message: "cannot open \(path): \(String(cString: strerror(errno)))"))
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
            guard bytes.count <= limit else { return .failure(FileProblem(message: "\(path) is larger than \(limit) bytes")) }
            if count < chunk.count {
                if ferror(file) != 0 { return .failure(FileProblem(message: "cannot read \(path): \(String(cString: strerror(errno)))")) }
                return .success(bytes)
            }
        }
    }

    struct FileProblem: Error {
        var message: String
    }

    // MARK: Time

    /// Seconds since the Unix epoch.
    static func wallClock() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    func strippingSpaces() -> SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start, self[index(before: end)] == " " || self[index(before: end)] == "\t" { end = index(before: end) }
        return self[start..<end]
    }

    /// ASCII case-insensitive equality.
    func caseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        let a = utf8
        let b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z"))
        }
    }

    /// Whether the string starts with `prefix`, ignoring ASCII case.
    func hasCaseInsensitivePrefix(_ prefix: some StringProtocol) -> Bool {
        guard utf8.count >= prefix.utf8.count else { return false }
        return utf8.prefix(prefix.utf8.count).elementsEqual(prefix.utf8) { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z"))
        }
    }
}
