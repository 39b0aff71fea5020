/// Finds the line every key of a TOML document is written on.
///
/// TOMLKit reports a line and column for syntax errors only, so the loader scans the text itself
/// (after TOMLKit has accepted it) to put a line on every key path: `[table]` and
/// `[[array.of.tables]]` headers (each element numbered), dotted keys, inline tables, arrays over
/// several lines, and every kind of string and comment in between. The first place a path is
/// written wins: an implicit table (`[a.b]` before any `[a]`) is located at the first header
/// that mentions it.
package struct SourceLocator: Sendable {
    /// Where a path is first written: its 1-based line and the order in which paths appear.
    package struct Position: Sendable, Hashable {
        package var line: Int
        package var order: Int
    }

    package private(set) var positions: [ConfigKeyPath: Position]

    package init(text: String) {
        var scanner = LocatingScanner(bytes: Array(text.utf8))
        scanner.scanDocument()
        positions = scanner.positions
    }

    package func position(of path: ConfigKeyPath) -> Position? {
        positions[path]
    }
}

private struct LocatingScanner {
    let bytes: [UInt8]
    /// The offset each line starts at, to turn an offset into a line number.
    let lineStarts: [Int]
    var index = 0
    var order = 0
    var positions: [ConfigKeyPath: SourceLocator.Position] = [:]
    /// Each array of tables seen so far (by its resolved path) and how many elements it has.
    var arrayCounts: [ConfigKeyPath: Int] = [:]
    /// The table the key/value lines that follow belong to.
    var current = ConfigKeyPath.root

    init(bytes: [UInt8]) {
        self.bytes = bytes
        var starts = [0]
        for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            starts.append(offset + 1)
        }
        self.lineStarts = starts
    }

    var atEnd: Bool { index >= bytes.count }

    func byte(at offset: Int) -> UInt8? {
        offset < bytes.count ? bytes[offset] : nil
    }

    func isAt(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        return text.withUTF8Buffer { buffer in
            (0..<count).allSatisfy { bytes[index + $0] == buffer[$0] }
        }
    }

    /// The 1-based line of a byte offset.
    func line(of offset: Int) -> Int {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return low + 1
    }

    mutating func record(_ path: ConfigKeyPath, at offset: Int) {
        guard positions[path] == nil else { return }
        positions[path] = SourceLocator.Position(line: line(of: offset), order: order)
        order += 1
    }

    // MARK: Document structure

    mutating func scanDocument() {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }  // a UTF-8 byte order mark
        while !atEnd {
            skipTrivia(newlines: true)
            guard !atEnd else { break }
            let start = index
            if bytes[index] == UInt8(ascii: "[") {
                scanHeader()
            } else {
                scanKeyValue(in: current)
            }
            skipTrivia(newlines: false)
            if index == start { index += 1 }  // never loop on text TOMLKit should have refused
        }
    }

    /// `[a.b]` or `[[a.b]]`.
    mutating func scanHeader() {
        let start = index
        if byte(at: index + 1) == UInt8(ascii: "[") {
            index += 2
            let keys = scanKey()
            skipSpaces()
            if isAt("]]") { index += 2 }
            guard let last = keys.last else { return }
            let parent = recordPrefixes(keys.dropLast(), at: start)
            let array = parent.appending(last)
            record(array, at: start)
            let count = arrayCounts[array, default: 0]
            arrayCounts[array] = count + 1
            current = array.appending(index: count)
            record(current, at: start)
        } else {
            index += 1
            let keys = scanKey()
            skipSpaces()
            if byte(at: index) == UInt8(ascii: "]") { index += 1 }
            current = recordPrefixes(keys[...], at: start)
        }
    }

    /// Resolves header keys to a path, entering the latest element of every array of tables on the
    /// way, and records each prefix.
    mutating func recordPrefixes(_ keys: ArraySlice<String>, at offset: Int) -> ConfigKeyPath {
        var path = ConfigKeyPath.root
        for key in keys {
            path = path.appending(key)
            if let count = arrayCounts[path] {
                path = path.appending(index: count - 1)
            }
            record(path, at: offset)
        }
        return path
    }

    /// `key = value`, `a.b.c = value`, in a table or an inline table.
    mutating func scanKeyValue(in table: ConfigKeyPath) {
        let start = index
        let keys = scanKey()
        skipSpaces()
        guard !keys.isEmpty, byte(at: index) == UInt8(ascii: "=") else {
            skipToLineEnd()
            return
        }
        index += 1
        skipSpaces()
        var path = table
        for key in keys {
            path = path.appending(key)
            record(path, at: start)
        }
        scanValue(path)
    }

    mutating func scanValue(_ path: ConfigKeyPath) {
        guard !atEnd else { return }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            if isAt("\"\"\"") {
                skipMultilineString(quote: UInt8(ascii: "\""), escapes: true)
            } else {
                _ = scanBasicString()
            }
        case UInt8(ascii: "'"):
            if isAt("'''") {
                skipMultilineString(quote: UInt8(ascii: "'"), escapes: false)
            } else {
                _ = scanLiteralString()
            }
        case UInt8(ascii: "["):
            index += 1
            var element = 0
            while true {
                skipTrivia(newlines: true)
                guard !atEnd else { return }
                if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return
                }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                let elementPath = path.appending(index: element)
                record(elementPath, at: index)
                let before = index
                scanValue(elementPath)
                if index == before { index += 1 }
                element += 1
            }
        case UInt8(ascii: "{"):
            index += 1
            while true {
                skipTrivia(newlines: true)
                guard !atEnd else { return }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return
                }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                let before = index
                scanKeyValue(in: path)
                if index == before { index += 1 }
            }
        default:
            // A number, boolean or date-time (which may hold a space): up to the next delimiter.
            while !atEnd {
                switch bytes[index] {
                case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "#"), UInt8(ascii: "\n"),
                    UInt8(ascii: "\r"):
                    return
                default:
                    index += 1
                }
            }
        }
    }

    // MARK: Keys and strings

    /// A possibly dotted key; each part decoded (quotes and escapes removed).
    mutating func scanKey() -> [String] {
        var keys: [String] = []
        while true {
            skipSpaces()
            guard !atEnd else { return keys }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                keys.append(scanBasicString())
            case UInt8(ascii: "'"):
                keys.append(scanLiteralString())
            default:
                let start = index
                while !atEnd, Self.isBareKeyByte(bytes[index]) { index += 1 }
                guard index > start else { return keys }
                keys.append(String(decoding: bytes[start..<index], as: UTF8.self))
            }
            skipSpaces()
            guard byte(at: index) == UInt8(ascii: ".") else { return keys }
            index += 1
        }
    }

    static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return byte >= 0x80  // TOML 1.1 allows more in bare keys; be lenient.
        }
    }

    /// A one-line `"…"` string with its escapes decoded.
    mutating func scanBasicString() -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() {
            if !raw.isEmpty {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
        }
        while !atEnd, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\n") {
            if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count {
                flush()
                let escape = bytes[index + 1]
                index += 2
                switch escape {
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "e"): scalars.append("\u{1B}")
                case UInt8(ascii: "u"), UInt8(ascii: "U"), UInt8(ascii: "x"):
                    let digits = escape == UInt8(ascii: "u") ? 4 : escape == UInt8(ascii: "U") ? 8 : 2
                    let end = min(index + digits, bytes.count)
                    let hex = String(decoding: bytes[index..<end], as: UTF8.self)
                    index = end
                    if let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
                default: scalars.append(Unicode.Scalar(escape))
                }
            } else {
                raw.append(bytes[index])
                index += 1
            }
        }
        flush()
        if byte(at: index) == UInt8(ascii: "\"") { index += 1 }
        return String(scalars)
    }

    /// A one-line `'…'` string.
    mutating func scanLiteralString() -> String {
        index += 1
        let start = index
        while !atEnd, bytes[index] != UInt8(ascii: "'"), bytes[index] != UInt8(ascii: "\n") { index += 1 }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if byte(at: index) == UInt8(ascii: "'") { index += 1 }
        return text
    }

    /// `"""…"""` or `'''…'''`, which may span lines and end with up to two extra quotes.
    mutating func skipMultilineString(quote: UInt8, escapes: Bool) {
        index += 3
        while !atEnd {
            if escapes, bytes[index] == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if bytes[index] == quote, byte(at: index + 1) == quote, byte(at: index + 2) == quote {
                index += 3
                var extra = 0
                while extra < 2, byte(at: index) == quote {
                    index += 1
                    extra += 1
                }
                return
            }
            index += 1
        }
    }

    // MARK: Whitespace and comments

    mutating func skipSpaces() {
        while !atEnd, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
    }

    /// Spaces and comments, and newlines too when `newlines` is set.
    mutating func skipTrivia(newlines: Bool) {
        while !atEnd {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                index += 1
            case UInt8(ascii: "\n"):
                guard newlines else { return }
                index += 1
            case UInt8(ascii: "#"):
                while !atEnd, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            default:
                return
            }
        }
    }

    mutating func skipToLineEnd() {
        while !atEnd, bytes[index] != UInt8(ascii: "\n") { index += 1 }
    }
}
