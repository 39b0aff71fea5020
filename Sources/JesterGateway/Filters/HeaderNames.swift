/// What HTTP allows in header names and values, and in a path or query, for anything a filter writes.
public enum HeaderNames {
    /// Whether `path` can replace a request's path: it starts with `/` and has no space, control
    /// character, `?` or `#`.
    public static func isPath(_ path: some StringProtocol) -> Bool {
        path.utf8.first == UInt8(ascii: "/") && allBytes(path) { $0 > 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }
    }

    /// Whether `query` (without `?`) can replace a request's query: no space, control character or `#`.
    public static func isQuery(_ query: some StringProtocol) -> Bool {
        allBytes(query) { $0 > 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "#") }
    }

    /// Whether `name` is an RFC 9110 token: letters, digits and ``!#$%&'*+-.^_`|~``, at least one.
    public static func isToken(_ name: some StringProtocol) -> Bool {
        !name.isEmpty && allBytes(name, isTokenByte)
    }

    /// Whether `value` can be sent as a header value: no CR, LF or NUL.
    public static func isValue(_ value: some StringProtocol) -> Bool {
        allBytes(value) { $0 != 0x0D && $0 != 0x0A && $0 != 0 }
    }

    /// Whether every UTF-8 byte of `text` satisfies `predicate`, over the string's contiguous
    /// bytes when it has them (native strings do): the generic `utf8.allSatisfy` took about 45
    /// instructions a byte on the WASM filter's path.
    @inline(__always)
    static func allBytes(_ text: some StringProtocol, _ predicate: (UInt8) -> Bool) -> Bool {
        if let result = text.utf8.withContiguousStorageIfAvailable({ bytes in
            for byte in bytes where !predicate(byte) { return false }
            return true
        }) {
            return result
        }
        return text.utf8.allSatisfy(predicate)
    }

    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
