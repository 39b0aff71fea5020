// The bytes a plugin signature covers. docs/signing.md states the same rules for other languages.

extension JSONValue {
    /// The canonical form of the value: JSON Canonicalization Scheme (RFC 8785), UTF-8.
    ///
    /// - object members sorted by their keys' UTF-16 code units, no whitespace anywhere;
    /// - strings with only `"`, `\`, and the control characters below U+0020 escaped (`\b \t \n
    ///   \f \r` by name, the rest as `\u00xx` in lowercase hex), everything else as UTF-8;
    /// - numbers as ECMAScript's `Number.prototype.toString` writes them (`1`, `0.5`, `1e+21`).
    ///
    /// An integer beyond ±2^53 is refused, because JCS writes every number as an IEEE double and
    /// two different such integers would have the same canonical form.
    ///
    /// ```swift
    /// try JSONValue.parse(#"{"b": [1.0, "x"], "a": true}"#).canonicalForm()   // {"a":true,"b":[1,"x"]}
    /// ```
    ///
    /// - Throws: ``ManifestError`` naming the JSON path of a number that has no exact canonical form.
    public func canonicalForm() throws(ManifestError) -> [UInt8] {
        var out: [UInt8] = []
        var issues: [ManifestIssue] = []
        writeCanonical(to: &out, path: "$", issues: &issues)
        guard issues.isEmpty else { throw .invalid(issues, file: nil) }
        return out
    }

    private func writeCanonical(to out: inout [UInt8], path: String, issues: inout [ManifestIssue]) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let flag): out += Array((flag ? "true" : "false").utf8)
        case .integer(let number):
            guard number.magnitude <= 1 << 53 else {
                issues.append(ManifestIssue(path: path, message: "\(number) is beyond ±2^53, which the canonical form (RFC 8785) cannot write exactly; use a smaller number"))
                return
            }
            out += Array(String(number).utf8)
        case .double(let number):
            guard number.isFinite else {
                issues.append(ManifestIssue(path: path, message: "not a finite number"))
                return
            }
            out += Array(Self.ecmaScriptString(number).utf8)
        case .string(let text): Self.writeCanonicalString(text, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.writeCanonical(to: &out, path: "\(path)[\(index)]", issues: &issues)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let sorted = members.sorted { Array($0.key.utf16).lexicographicallyPrecedes(Array($1.key.utf16)) }
            for (index, member) in sorted.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeCanonicalString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                member.value.writeCanonical(to: &out, path: "\(path).\(member.key)", issues: &issues)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeCanonicalString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += Array(#"\""#.utf8)
            case "\\": out += Array(#"\\"#.utf8)
            case "\u{08}": out += Array(#"\b"#.utf8)
            case "\t": out += Array(#"\t"#.utf8)
            case "\n": out += Array(#"\n"#.utf8)
            case "\u{0C}": out += Array(#"\f"#.utf8)
            case "\r": out += Array(#"\r"#.utf8)
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default: out += Array(String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A finite double as ECMAScript's `Number.prototype.toString` writes it (ECMA-262
    /// Number::toString, the form RFC 8785 prescribes), from the shortest digits that round-trip,
    /// which is what Swift's `description` gives.
    static func ecmaScriptString(_ value: Double) -> String {
        if value == 0 { return "0" }
        if value < 0 { return "-" + ecmaScriptString(-value) }
        // Swift writes "123.45", "1e-05", "1.2345e+20" or "5e-324": split into digits and exponent.
        let text = value.description
        let mantissa: Substring
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        } else {
            mantissa = Substring(text)
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = whole + fraction
        // The value is 0.digits × 10^n with n = whole.count + exponent, once leading zeros go.
        var n = whole.count + exponent
        while digits.first == "0" {
            digits.removeFirst()
            n -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        let k = digits.count
        if k <= n && n <= 21 { return digits + String(repeating: "0", count: n - k) }
        if 0 < n && n <= 21 { return String(digits.prefix(n)) + "." + String(digits.dropFirst(n)) }
        if -6 < n && n <= 0 { return "0." + String(repeating: "0", count: -n) + digits }
        let shown = n - 1
        let sign = shown < 0 ? "-" : "+"
        let head = k == 1 ? digits : String(digits.prefix(1)) + "." + String(digits.dropFirst())
        return head + "e" + sign + String(shown.magnitude)
    }
}

extension PluginManifest {
    /// What every plugin signature starts with, so that a Jester signature can never be taken for
    /// a signature over something else (and a future format gets a new prefix).
    public static let signatureDomain = "jester-plugin-signature-v1\n"

    /// The canonical form of a manifest's JSON: the document without its top-level `signature`
    /// member, in the canonical form of ``JSONValue/canonicalForm()``.
    ///
    /// - Throws: ``ManifestError`` when `json` is not an object or holds a number with no exact
    ///   canonical form.
    public static func canonicalForm(of json: JSONValue) throws(ManifestError) -> [UInt8] {
        guard case .object(let members) = json else {
            throw .invalid([ManifestIssue(path: "$", message: "expected an object, found \(json.typeDescription)")], file: nil)
        }
        return try JSONValue.object(members.filter { $0.key != "signature" }).canonicalForm()
    }

    /// The message a plugin's Ed25519 signature signs:
    ///
    /// ```
    /// "jester-plugin-signature-v1\n" + <module SHA-256, 64 lowercase hex digits> + "\n" + <canonical form of the manifest>
    /// ```
    ///
    /// - Parameters:
    ///   - json: The manifest as JSON (its `signature` member, if any, is left out).
    ///   - moduleSHA256: The SHA-256 of the module file, lowercase hex.
    public static func signedMessage(manifest json: JSONValue, moduleSHA256: String) throws(ManifestError) -> [UInt8] {
        Array(signatureDomain.utf8) + Array(moduleSHA256.utf8) + [UInt8(ascii: "\n")] + (try canonicalForm(of: json))
    }
}
