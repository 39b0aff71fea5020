import TOMLKit

/// A TOML value that knows where it was written: the located tree the loader merges and decodes.
///
/// TOMLKit parses; ``ConfigNode/parse(_:file:)`` turns its tree into this one, putting the file,
/// the line (from ``SourceLocator``) and the key path on every value, and keeping the order keys
/// were written in (TOMLKit sorts them).
package struct ConfigNode: Sendable {
    package indirect enum Value: Sendable {
        case string(String)
        case integer(Int64)
        case float(Double)
        case bool(Bool)
        /// A TOML date, time or date-time, as written.
        case dateTime(String)
        case array([ConfigNode])
        case table(ConfigTable)
        /// A value whose problem was already reported (an unset `${VAR}`); decoding skips it silently.
        case invalid
    }

    package var value: Value
    package var location: SourceLocation
    /// The path in the file that declares it, e.g. `routes[0].upstream.targets`.
    package var path: ConfigKeyPath
    /// Whether this string came out of `${…}` interpolation, so that fields taking numbers and
    /// booleans accept it (`max_connections = "${MAX_CONN:1024}"`).
    package var interpolated: Bool
    /// Where in the file's text it first appears, to keep tables in written order.
    package var order: Int

    /// The room each file gets in ``order``.
    package static let ordersPerFile = 1 << 32

    package init(
        _ value: Value,
        location: SourceLocation,
        path: ConfigKeyPath,
        interpolated: Bool = false,
        order: Int = 0
    ) {
        self.value = value
        self.location = location
        self.path = path
        self.interpolated = interpolated
        self.order = order
    }

    package var table: ConfigTable? {
        if case .table(let table) = value { return table }
        return nil
    }

    package var array: [ConfigNode]? {
        if case .array(let array) = value { return array }
        return nil
    }

    package var string: String? {
        if case .string(let string) = value { return string }
        return nil
    }

    /// An array with at least one element, every element a table: `[[routes]]`, or `[{…}, {…}]`.
    /// Includes append these, and profiles merge their elements by `name`.
    package var isArrayOfTables: Bool {
        guard let array, !array.isEmpty else { return false }
        return array.allSatisfy { $0.table != nil }
    }

    /// A scalar as TOML writes it, for messages: `"0ms"`, `0`, `true`.
    package var literal: String {
        switch value {
        case .string(let text): return "\"\(text)\""
        case .integer(let number): return String(number)
        case .float(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .dateTime(let text): return text
        case .array, .table, .invalid: return kindDescription
        }
    }

    /// How a type error names what it found: "a string", "an integer", …
    package var kindDescription: String {
        switch value {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a floating-point number"
        case .bool: return "a boolean"
        case .dateTime: return "a date-time"
        case .array: return "an array"
        case .table: return "a table"
        case .invalid: return "an invalid value"
        }
    }
}

/// A TOML table with its keys in the order they were written.
package struct ConfigTable: Sendable {
    package private(set) var keys: [String] = []
    private var nodes: [String: ConfigNode] = [:]

    package init() {}

    package subscript(key: String) -> ConfigNode? {
        get { nodes[key] }
        set {
            if let newValue {
                if nodes.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if nodes.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    package var entries: [(key: String, node: ConfigNode)] {
        keys.map { ($0, nodes[$0]!) }
    }

    package var isEmpty: Bool { keys.isEmpty }
}

extension ConfigNode {
    /// Parses a TOML document into a located tree, or returns the syntax error's line and message.
    ///
    /// - Parameter orderOffset: Added to every node's ``order``, so that nodes from files read
    ///   later sort after those read earlier.
    package static func parse(_ text: String, file: String, orderOffset: Int = 0) -> Result<ConfigNode, ConfigError> {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            return .failure(
                .unreadable([
                    ConfigError.Issue(
                        SourceLocation(file: file, line: error.source.begin.line),
                        key: "",
                        "not valid TOML: \(error.description) (column \(error.source.begin.column))",
                        fix: "See https://toml.io for the syntax"
                    )
                ])
            )
        } catch {
            return .failure(
                .unreadable([
                    ConfigError.Issue(SourceLocation(file: file, line: 0), key: "", "not valid TOML: \(error)")
                ])
            )
        }
        let locator = SourceLocator(text: text)
        var converter = TOMLConverter(file: file, locator: locator, orderOffset: orderOffset)
        return .success(converter.node(table, path: .root, fallbackLine: 1))
    }
}

/// Turns TOMLKit's tree into ``ConfigNode``s.
private struct TOMLConverter {
    let file: String
    let locator: SourceLocator
    let orderOffset: Int
    /// Orders values the locator did not see after those it did, in the order met.
    var unlocatedOrder: Int

    init(file: String, locator: SourceLocator, orderOffset: Int) {
        self.file = file
        self.locator = locator
        self.orderOffset = orderOffset
        self.unlocatedOrder = orderOffset + ConfigNode.ordersPerFile / 2
    }

    mutating func node(_ value: any TOMLValueConvertible, path: ConfigKeyPath, fallbackLine: Int) -> ConfigNode {
        let position = locator.position(of: path)
        let line = position?.line ?? fallbackLine
        let order: Int
        if let position {
            order = orderOffset + position.order
        } else {
            order = unlocatedOrder
            unlocatedOrder += 1
        }
        let location = SourceLocation(file: file, line: line)
        let converted: ConfigNode.Value
        switch value.type {
        case .string: converted = .string(value.string ?? "")
        case .int: converted = .integer(Int64(value.int ?? 0))
        case .double: converted = .float(value.double ?? 0)
        case .bool: converted = .bool(value.bool ?? false)
        case .date: converted = .dateTime(value.date?.debugDescription ?? "")
        case .time: converted = .dateTime(value.time?.debugDescription ?? "")
        case .dateTime: converted = .dateTime(value.dateTime?.debugDescription ?? "")
        case .array:
            var elements: [ConfigNode] = []
            if let array = value.array {
                for (offset, element) in array.enumerated() {
                    elements.append(node(element, path: path.appending(index: offset), fallbackLine: line))
                }
            }
            converted = .array(elements)
        case .table:
            var children: [ConfigNode] = []
            var keys: [String] = []
            if let table = value.table {
                for key in table.keys {
                    guard let child = table[key] else { continue }
                    keys.append(key)
                    children.append(node(child, path: path.appending(key), fallbackLine: line))
                }
            }
            var result = ConfigTable()
            for (key, child) in zip(keys, children).sorted(by: { $0.1.order < $1.1.order }) {
                result[key] = child
            }
            converted = .table(result)
        }
        return ConfigNode(converted, location: location, path: path, order: order)
    }
}
