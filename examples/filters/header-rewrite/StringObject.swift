// The gateway passes a config value that is not a string as its JSON text, so the `rename`
// table arrives as `{"x-legacy-user":"x-user"}`. Embedded Swift has no Foundation and no
// JSONDecoder; this reads a flat JSON object of strings, which is all the filter needs.

/// The members of a JSON object whose values are all strings, in order. Stops at the first
/// thing it does not understand (and logs it), keeping the members read until then.
func parseStringObject(_ text: String) -> [(String, String)] {
    var reader = JSONReader(Array(text.utf8))
    var members: [(String, String)] = []
    guard reader.consume(UInt8(ascii: "{")) else {
        Log.warn("config rename is not a JSON object: \(text)")
        return members
    }
    if reader.consume(UInt8(ascii: "}")) { return members }
    while true {
        guard let name = reader.string(), reader.consume(UInt8(ascii: ":")), let value = reader.string() else {
            Log.warn("config rename must map header names to header names: \(text)")
            return members
        }
        members.append((name, value))
        if reader.consume(UInt8(ascii: ",")) { continue }
        if !reader.consume(UInt8(ascii: "}")) { Log.warn("config rename: expected , or } in \(text)") }
        return members
    }
}

/// Reads JSON tokens from UTF-8 bytes.
struct JSONReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Skips white space, then `byte` if it is next.
    mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// Skips white space, then reads a string with its escapes decoded; `nil` if no string is next.
    mutating func string() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        var utf8: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: utf8, as: UTF8.self) }
            guard byte == UInt8(ascii: "\\"), index < bytes.count else {
                utf8.append(byte)
                continue
            }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "u"):
                guard let unit = hex4() else { return nil }
                var scalar = unit
                if (0xD800...0xDBFF).contains(unit), index + 1 < bytes.count,
                    bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                {
                    // A high surrogate and, if it is there, the low one that completes it.
                    let mark = index
                    index += 2
                    if let low = hex4(), (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        index = mark
                    }
                }
                appendUTF8(scalar, to: &utf8)
            default: utf8.append(escape)  // \" \\ \/
            }
        }
        return nil
    }

    /// Appends `scalar` as UTF-8 (a lone surrogate as U+FFFD).
    private func appendUTF8(_ scalar: UInt32, to utf8: inout [UInt8]) {
        let scalar = (0xD800...0xDFFF).contains(scalar) ? 0xFFFD : scalar
        switch scalar {
        case ..<0x80:
            utf8.append(UInt8(scalar))
        case ..<0x800:
            utf8 += [UInt8(0xC0 | scalar >> 6), UInt8(0x80 | scalar & 0x3F)]
        case ..<0x10000:
            utf8 += [UInt8(0xE0 | scalar >> 12), UInt8(0x80 | scalar >> 6 & 0x3F), UInt8(0x80 | scalar & 0x3F)]
        default:
            utf8 += [
                UInt8(0xF0 | scalar >> 18), UInt8(0x80 | scalar >> 12 & 0x3F), UInt8(0x80 | scalar >> 6 & 0x3F),
                UInt8(0x80 | scalar & 0x3F),
            ]
        }
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value * 16 + UInt32(digit)
        }
        index += 4
        return value
    }

    private mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }
}
