import JesterManifest
/// The JSON Schema of a config file.
public enum ConfigSchema {
    /// The JSON Schema (draft 2020-12) of one config file as written: the main file, an included
    /// file or a profile overlay, converted from TOML to JSON before interpolation.
    ///
    /// It is generated from the same description of the keys the loader checks against, with a
    /// `description` for every key. Sizes, durations, numbers, booleans and enumerations also accept
    /// strings holding `${…}`, since interpolation happens after the schema would see them.
    /// The schema cannot check what only the merged config shows (required keys that another file
    /// may set, references between names, files on disk); `jester config validate` checks those.
    ///
    /// ```sh
    /// jester config schema > jester.schema.json
    /// ```
    public static var jsonSchema: String {
        document().serialized(indent: 0) + "\n"
    }

    static let interpolationPattern = #"\$\{"#
    static let sizePattern = #"^\s*[0-9]+(\.[0-9]+)?\s*([kKmMgGtT][iI]?[bB]|[bB])?\s*$"#
    static let durationPattern = #"^\s*[0-9]+(\.[0-9]+)?\s*$|^\s*([0-9]+(\.[0-9]+)?\s*(ms|s|m|h)\s*)+$"#

    static func document() -> JSONNode {
        var root = schema(for: .table(ConfigSpec.root))
        guard case .object(var members) = root else { return root }
        members.insert(
            contentsOf: [
                ("$schema", .string("https://json-schema.org/draft/2020-12/schema")),
                ("title", .string("Jester gateway config")),
            ],
            at: 0
        )
        members.append(
            (
                "$defs",
                .object([
                    (
                        "interpolated",
                        .object([
                            (
                                "description",
                                .string(
                                    "A string with ${NAME} or ${NAME:DEFAULT}, replaced from the environment when the config loads."
                                )
                            ),
                            ("type", .string("string")),
                            ("pattern", .string(interpolationPattern)),
                        ])
                    )
                ])
            )
        )
        root = .object(members)
        return root
    }

    static let interpolated = JSONNode.object([("$ref", .string("#/$defs/interpolated"))])

    static func schema(for kind: ValueKind) -> JSONNode {
        switch kind {
        case .string:
            return .object([("type", .string("string"))])
        case .enumeration(let values):
            return .object([("anyOf", .array([.object([("enum", .array(values.map { .string($0) }))]), interpolated]))])
        case .integer(let min, let max):
            return .object([
                (
                    "anyOf",
                    .array([
                        .object([("type", .string("integer")), ("minimum", .integer(min)), ("maximum", .integer(max))]),
                        interpolated,
                    ])
                )
            ])
        case .bool:
            return .object([("anyOf", .array([.object([("type", .string("boolean"))]), interpolated]))])
        case .size(let min):
            return .object([
                (
                    "anyOf",
                    .array([
                        .object([("type", .string("integer")), ("minimum", .integer(min))]),
                        .object([("type", .string("string")), ("pattern", .string(sizePattern))]),
                        interpolated,
                    ])
                )
            ])
        case .duration:
            return .object([
                (
                    "anyOf",
                    .array([
                        .object([("type", .string("number")), ("minimum", .integer(0))]),
                        .object([("type", .string("string")), ("pattern", .string(durationPattern))]),
                        interpolated,
                    ])
                )
            ])
        case .array(let element, _):
            return .object([("type", .string("array")), ("items", schema(for: element))])
        case .map(let value, _):
            return .object([("type", .string("object")), ("additionalProperties", schema(for: value))])
        case .either(let kinds, _):
            return .object([("anyOf", .array(kinds.map { schema(for: $0) }))])
        case .scalar:
            return .object([("type", .array([.string("string"), .string("number"), .string("boolean")]))])
        case .openTable:
            return .object([("type", .string("object"))])
        case .unsupported:
            return .object([("not", .object([]))])
        case .table(let spec):
            var properties: [(String, JSONNode)] = []
            for field in spec.fields {
                if case .unsupported = field.kind { continue }
                properties.append((field.key, property(field)))
            }
            var members: [(String, JSONNode)] = [
                ("description", .string(spec.summary)),
                ("type", .string("object")),
                ("properties", .object(properties)),
                ("additionalProperties", .bool(false)),
            ]
            let required = spec.fields.filter { $0.requirement == .always }.map(\.key)
            if !required.isEmpty { members.append(("required", .array(required.map { .string($0) }))) }
            if spec.exclusive.count > 1 {
                // At most one: no two of them together. (Exactly one is checked after merging.)
                var pairs: [JSONNode] = []
                for (offset, first) in spec.exclusive.enumerated() {
                    for second in spec.exclusive[(offset + 1)...] {
                        pairs.append(.object([("required", .array([.string(first), .string(second)]))]))
                    }
                }
                members.append(("not", .object([("anyOf", .array(pairs))])))
            }
            return .object(members)
        }
    }

    static func property(_ field: FieldSpec) -> JSONNode {
        guard case .object(var members) = schema(for: field.kind) else { return schema(for: field.kind) }
        var description = field.summary
        if field.requirement == .required { description += " Required." }
        members.removeAll { $0.0 == "description" }
        members.insert(("description", .string(description)), at: 0)
        if let defaultJSON = field.defaultJSON { members.append(("default", .raw(defaultJSON))) }
        return .object(members)
    }
}

/// Just enough JSON to write the schema with its keys in a readable order.
package indirect enum JSONNode: Sendable {
    case object([(String, JSONNode)])
    case array([JSONNode])
    case string(String)
    case integer(Int64)
    case bool(Bool)
    case null
    /// Already JSON text.
    case raw(String)

    package func serialized(indent: Int) -> String {
        let pad = String(repeating: "  ", count: indent)
        let inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case .object(let members):
            if members.isEmpty { return "{}" }
            let body = members.map { "\(inner)\(Self.quote($0.0)): \($0.1.serialized(indent: indent + 1))" }.joined(
                separator: ",\n"
            )
            return "{\n\(body)\n\(pad)}"
        case .array(let elements):
            if elements.isEmpty { return "[]" }
            if elements.allSatisfy({ $0.isScalar }) {
                return "[" + elements.map { $0.serialized(indent: 0) }.joined(separator: ", ") + "]"
            }
            return "[\n" + elements.map { inner + $0.serialized(indent: indent + 1) }.joined(separator: ",\n")
                + "\n\(pad)]"
        case .string(let text): return Self.quote(text)
        case .integer(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        case .raw(let text): return text
        }
    }

    var isScalar: Bool {
        switch self {
        case .object, .array: return false
        default: return true
        }
    }

    static func quote(_ text: String) -> String {
        JSONValue.string(text).serialized()
    }
}
