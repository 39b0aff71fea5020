/// A path to a value in a TOML document, as error messages print it: `routes[2].upstream.targets`.
///
/// Keys that are not bare TOML keys are quoted (`upstreams."api.v1".targets`); array elements
/// are 0-based indexes in the file that declares them.
package struct ConfigKeyPath: Sendable, Hashable, CustomStringConvertible {
    package enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    package var components: [Component]

    package init(_ components: [Component] = []) {
        self.components = components
    }

    package static let root = ConfigKeyPath()

    package func appending(_ key: String) -> ConfigKeyPath {
        ConfigKeyPath(components + [.key(key)])
    }

    package func appending(index: Int) -> ConfigKeyPath {
        ConfigKeyPath(components + [.index(index)])
    }

    package func appending(_ other: [Component]) -> ConfigKeyPath {
        ConfigKeyPath(components + other)
    }

    /// The last key, ignoring indexes.
    package var lastKey: String? {
        for component in components.reversed() {
            if case .key(let key) = component { return key }
        }
        return nil
    }

    /// The table header that declares this path, without indexes: `[routes.matchers]`.
    package var tableName: String {
        let keys = components.compactMap { component -> String? in
            if case .key(let key) = component { return Self.render(key) }
            return nil
        }
        return keys.isEmpty ? "the top level" : "[\(keys.joined(separator: "."))]"
    }

    package var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key):
                if !text.isEmpty { text += "." }
                text += Self.render(key)
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }

    /// A key as TOML would write it: bare when it can be, quoted otherwise.
    static func render(_ key: String) -> String {
        let bare =
            !key.isEmpty
            && key.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
        if bare { return key }
        var quoted = "\""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
