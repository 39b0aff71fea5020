/// A version number following Semantic Versioning 2.0.0 (`MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`).
///
/// Ordering follows semver precedence: build metadata is ignored, and a pre-release sorts before
/// its release (`1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-beta < 1.0.0`).
///
/// ```swift
/// let v = try SemanticVersion(parsing: "1.4.0-rc.1")
/// v < SemanticVersion(1, 4, 0)                              // true
/// v.isCompatible(with: try SemanticVersion(parsing: "1.2.0"))  // true: same major, newer
/// ```
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: UInt64
    public var minor: UInt64
    public var patch: UInt64
    /// Dot-separated pre-release identifiers (`["rc", "1"]` for `-rc.1`).
    public var prerelease: [String]
    /// Dot-separated build metadata identifiers; ignored for ordering and equality.
    public var build: [String]

    public init(_ major: UInt64, _ minor: UInt64, _ patch: UInt64, prerelease: [String] = [], build: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build
    }

    /// Parses a version string. The error message says what is wrong and what was expected.
    public init(parsing text: String) throws(SemanticVersionError) {
        var rest = Substring(text)
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            build = rest[rest.index(after: plus)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            rest = rest[..<plus]
            guard build.allSatisfy({ !$0.isEmpty && $0.allSatisfy(SemanticVersion.isIdentifierCharacter) }) else {
                throw SemanticVersionError(text: text, reason: "build metadata must be dot-separated [0-9A-Za-z-] identifiers")
            }
        }
        var prerelease: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            prerelease = rest[rest.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            rest = rest[..<dash]
            for identifier in prerelease {
                guard !identifier.isEmpty, identifier.allSatisfy(SemanticVersion.isIdentifierCharacter) else {
                    throw SemanticVersionError(text: text, reason: "pre-release must be dot-separated [0-9A-Za-z-] identifiers")
                }
                if identifier.allSatisfy(\.isASCIIDigit), identifier.count > 1, identifier.hasPrefix("0") {
                    throw SemanticVersionError(text: text, reason: "numeric pre-release identifiers may not have leading zeros")
                }
            }
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw SemanticVersionError(text: text, reason: "expected MAJOR.MINOR.PATCH, for example 1.0.0")
        }
        var numbers: [UInt64] = []
        for (part, name) in zip(parts, ["major", "minor", "patch"]) {
            guard !part.isEmpty, part.allSatisfy(\.isASCIIDigit), let number = UInt64(part) else {
                throw SemanticVersionError(text: text, reason: "\(name) version must be a non-negative integer")
            }
            guard part.count == 1 || !part.hasPrefix("0") else {
                throw SemanticVersionError(text: text, reason: "\(name) version may not have leading zeros")
            }
            numbers.append(number)
        }
        self.init(numbers[0], numbers[1], numbers[2], prerelease: prerelease, build: build)
    }

    private static func isIdentifierCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "-")
    }

    public var description: String {
        var text = "\(major).\(minor).\(patch)"
        if !prerelease.isEmpty { text += "-" + prerelease.joined(separator: ".") }
        if !build.isEmpty { text += "+" + build.joined(separator: ".") }
        return text
    }

    /// Whether a consumer written against `required` can use this version, by the caret rule:
    /// the same major version and not older (for `0.x`, the same minor version too).
    public func isCompatible(with required: SemanticVersion) -> Bool {
        guard major == required.major else { return false }
        if major == 0, minor != required.minor { return false }
        return self >= required
    }

    public static func == (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        lhs.major == rhs.major && lhs.minor == rhs.minor && lhs.patch == rhs.patch && lhs.prerelease == rhs.prerelease
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(major)
        hasher.combine(minor)
        hasher.combine(patch)
        hasher.combine(prerelease)
    }

    public static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        if lhs.major != rhs.major { return lhs.major < rhs.major }
        if lhs.minor != rhs.minor { return lhs.minor < rhs.minor }
        if lhs.patch != rhs.patch { return lhs.patch < rhs.patch }
        switch (lhs.prerelease.isEmpty, rhs.prerelease.isEmpty) {
        case (true, true), (true, false): return false
        case (false, true): return true
        case (false, false): break
        }
        for (a, b) in zip(lhs.prerelease, rhs.prerelease) where a != b {
            switch (UInt64(a), UInt64(b)) {
            case (let x?, let y?): return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a < b
            }
        }
        return lhs.prerelease.count < rhs.prerelease.count
    }
}

/// A version string that is not valid semver.
public struct SemanticVersionError: Error, Sendable, CustomStringConvertible {
    public let text: String
    public let reason: String
    public var description: String { "invalid version \"\(text)\": \(reason)" }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
