/// A JSON Schema (draft 2020-12) compiled for validation: the keywords that plugin config schemas
/// use. A plugin's `config_schema` validates the `config` each use of the plugin passes.
///
/// Supported: `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`,
/// `minProperties`, `maxProperties`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
/// `multipleOf`, `minLength`, `maxLength`, `pattern`, `items`, `minItems`, `maxItems`,
/// `uniqueItems`, `allOf`, `anyOf`, `oneOf`, `not`, `default`, and boolean schemas. Annotations
/// (`title`, `description`, `examples`, `$schema`, `$id`, `$comment`, `format`, `deprecated`,
/// `readOnly`, `writeOnly`) are accepted and ignored. Any other validation keyword (`$ref`,
/// `if`, `patternProperties`, …) makes the schema invalid, so that no constraint is silently
/// skipped.
///
/// ```swift
/// let schema = try JSONSchema(try JSONValue.parse(#"{"type": "object", "required": ["aud"]}"#))
/// schema.validate(try JSONValue.parse("{}"))  // [$: missing required property "aud"]
/// ```
public struct JSONSchema: Sendable {
    private let root: Node

    /// Compiles a schema, or throws naming the first problem and where it is (`$.properties.x`).
    public init(_ schema: JSONValue) throws(JSONSchemaError) {
        root = try Node(schema, path: "$")
    }

    /// Every way `instance` breaks the schema; empty when it is valid.
    public func validate(_ instance: JSONValue) -> [JSONSchemaViolation] {
        var violations: [JSONSchemaViolation] = []
        root.validate(instance, path: "$", into: &violations)
        return violations
    }

    /// Whether `instance` is valid.
    public func isValid(_ instance: JSONValue) -> Bool {
        validate(instance).isEmpty
    }

    /// `instance` with the `default` of every absent property filled in, recursively, for
    /// properties the schema declares directly.
    public func applyingDefaults(to instance: JSONValue) -> JSONValue {
        root.applyingDefaults(to: instance)
    }
}

/// One way an instance breaks a schema, with the JSON path of the offending value.
public struct JSONSchemaViolation: Sendable, Hashable, CustomStringConvertible {
    /// Where in the instance: `$`, `$.retries`, `$.hosts[2]`.
    public let path: String
    /// The keyword that failed: `type`, `required`, `pattern`, …
    public let keyword: String
    public let message: String

    public var description: String { "\(path): \(message)" }
}

/// A schema that cannot be used.
public struct JSONSchemaError: Error, Sendable, CustomStringConvertible {
    /// Where in the schema: `$.properties.port.minimum`.
    public let path: String
    public let message: String

    public var description: String { "invalid JSON Schema at \(path): \(message)" }
}

private let annotationKeywords: Set<String> = [
    "$schema", "$id", "$comment", "$anchor", "title", "description", "examples", "default", "format",
    "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding",
]

private enum TypeName: String {
    case null, boolean, integer, number, string, array, object

    func matches(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.null, .null), (.boolean, .bool), (.string, .string), (.array, .array), (.object, .object): true
        case (.number, .integer), (.number, .double), (.integer, .integer): true
        case (.integer, .double(let d)): d.isFinite && d.rounded() == d
        default: false
        }
    }
}

private final class Node: Sendable {
    enum Kind: Sendable {
        case always
        case never
        case checks(Checks)
    }

    struct Checks: Sendable {
        var types: [TypeName]?
        var enumValues: [JSONValue]?
        var constValue: JSONValue?
        var properties: [(key: String, schema: Node)] = []
        var required: [String] = []
        var additionalProperties: Node?
        var minProperties: Int?
        var maxProperties: Int?
        var minimum: Double?
        var maximum: Double?
        var exclusiveMinimum: Double?
        var exclusiveMaximum: Double?
        var multipleOf: Double?
        var minLength: Int?
        var maxLength: Int?
        var pattern: (source: String, regex: PatternBox)?
        var items: Node?
        var minItems: Int?
        var maxItems: Int?
        var uniqueItems = false
        var allOf: [Node] = []
        var anyOf: [Node] = []
        var oneOf: [Node] = []
        var not: Node?
        var defaultValue: JSONValue?
    }

    let kind: Kind

    init(_ schema: JSONValue, path: String) throws(JSONSchemaError) {
        switch schema {
        case .bool(true):
            kind = .always
            return
        case .bool(false):
            kind = .never
            return
        case .object(let members):
            var checks = Checks()
            for (key, value) in members {
                try Node.compile(key, value, path: "\(path).\(key)", into: &checks)
            }
            kind = .checks(checks)
        default:
            throw JSONSchemaError(path: path, message: "a schema is an object or a boolean, found \(schema.typeDescription)")
        }
    }

    private static func compile(_ key: String, _ value: JSONValue, path: String, into checks: inout Checks) throws(JSONSchemaError) {
        func fail(_ message: String) -> JSONSchemaError { JSONSchemaError(path: path, message: message) }
        func count() throws(JSONSchemaError) -> Int {
            guard let n = value.nonNegativeInteger else { throw fail("must be a non-negative integer") }
            return n
        }
        func number() throws(JSONSchemaError) -> Double {
            guard let n = value.numberValue else { throw fail("must be a number") }
            return n
        }
        func schemas() throws(JSONSchemaError) -> [Node] {
            guard case .array(let elements) = value, !elements.isEmpty else { throw fail("must be a non-empty array of schemas") }
            var nodes: [Node] = []
            for (i, element) in elements.enumerated() { nodes.append(try Node(element, path: "\(path)[\(i)]")) }
            return nodes
        }
        switch key {
        case "type":
            let names: [String]
            switch value {
            case .string(let name): names = [name]
            case .array(let elements):
                var collected: [String] = []
                for element in elements {
                    guard case .string(let name) = element else { throw fail("must be a type name or an array of type names") }
                    collected.append(name)
                }
                names = collected
            default: throw fail("must be a type name or an array of type names")
            }
            var types: [TypeName] = []
            for name in names {
                guard let type = TypeName(rawValue: name) else {
                    throw fail("unknown type \"\(name)\"; use null, boolean, integer, number, string, array or object")
                }
                types.append(type)
            }
            checks.types = types
        case "enum":
            guard case .array(let values) = value else { throw fail("must be an array") }
            checks.enumValues = values
        case "const": checks.constValue = value
        case "properties":
            guard case .object(let members) = value else { throw fail("must be an object of schemas") }
            for (name, schema) in members {
                checks.properties.append((name, try Node(schema, path: "\(path).\(name)")))
            }
        case "required":
            guard case .array(let names) = value else { throw fail("must be an array of property names") }
            for name in names {
                guard case .string(let s) = name else { throw fail("must be an array of property names") }
                checks.required.append(s)
            }
        case "additionalProperties": checks.additionalProperties = try Node(value, path: path)
        case "minProperties": checks.minProperties = try count()
        case "maxProperties": checks.maxProperties = try count()
        case "minimum": checks.minimum = try number()
        case "maximum": checks.maximum = try number()
        case "exclusiveMinimum": checks.exclusiveMinimum = try number()
        case "exclusiveMaximum": checks.exclusiveMaximum = try number()
        case "multipleOf":
            let n = try number()
            guard n > 0 else { throw fail("must be greater than 0") }
            checks.multipleOf = n
        case "minLength": checks.minLength = try count()
        case "maxLength": checks.maxLength = try count()
        case "pattern":
            guard case .string(let source) = value else { throw fail("must be a regular expression string") }
            guard let box = PatternBox(source) else { throw fail("not a valid regular expression: \(source)") }
            checks.pattern = (source, box)
        case "items": checks.items = try Node(value, path: path)
        case "minItems": checks.minItems = try count()
        case "maxItems": checks.maxItems = try count()
        case "uniqueItems":
            guard case .bool(let b) = value else { throw fail("must be true or false") }
            checks.uniqueItems = b
        case "allOf": checks.allOf = try schemas()
        case "anyOf": checks.anyOf = try schemas()
        case "oneOf": checks.oneOf = try schemas()
        case "not": checks.not = try Node(value, path: path)
        case "default":
            checks.defaultValue = value
        default:
            if annotationKeywords.contains(key) { return }
            throw fail("the keyword \"\(key)\" is not supported by Jester's validator; express the constraint with the supported keywords")
        }
    }

    func validate(_ value: JSONValue, path: String, into violations: inout [JSONSchemaViolation]) {
        switch kind {
        case .always: return
        case .never:
            violations.append(JSONSchemaViolation(path: path, keyword: "false", message: "no value is allowed here"))
            return
        case .checks(let checks):
            checks.validate(value, path: path, into: &violations)
        }
    }

    func applyingDefaults(to value: JSONValue) -> JSONValue {
        guard case .checks(let checks) = kind, case .object(var members) = value else { return value }
        for (name, schema) in checks.properties {
            if let index = members.firstIndex(where: { $0.key == name }) {
                members[index].value = schema.applyingDefaults(to: members[index].value)
            } else if case .checks(let inner) = schema.kind, let value = inner.defaultValue {
                members.append((name, value))
            }
        }
        return .object(members)
    }
}

extension Node.Checks {
    func validate(_ value: JSONValue, path: String, into violations: inout [JSONSchemaViolation]) {
        func report(_ keyword: String, _ message: String) {
            violations.append(JSONSchemaViolation(path: path, keyword: keyword, message: message))
        }
        if let types, !types.contains(where: { $0.matches(value) }) {
            let expected = types.map(\.rawValue).joined(separator: " or ")
            report("type", "must be \(expected), found \(value.typeDescription)")
        }
        if let enumValues, !enumValues.contains(value) {
            report("enum", "must be one of \(enumValues.map { $0.serialized() }.joined(separator: ", ")), found \(value.serialized())")
        }
        if let constValue, constValue != value {
            report("const", "must be \(constValue.serialized()), found \(value.serialized())")
        }
        switch value {
        case .object(let members):
            for name in required where !members.contains(where: { $0.key == name }) {
                report("required", "missing required property \"\(name)\"")
            }
            if let minProperties, members.count < minProperties { report("minProperties", "must have at least \(minProperties) properties") }
            if let maxProperties, members.count > maxProperties { report("maxProperties", "must have at most \(maxProperties) properties") }
            for (name, member) in members {
                let memberPath = "\(path).\(name)"
                if let schema = properties.first(where: { $0.key == name })?.schema {
                    schema.validate(member, path: memberPath, into: &violations)
                } else if let additionalProperties {
                    if case .never = additionalProperties.kind {
                        violations.append(JSONSchemaViolation(path: memberPath, keyword: "additionalProperties", message: "unknown property \"\(name)\""))
                    } else {
                        additionalProperties.validate(member, path: memberPath, into: &violations)
                    }
                }
            }
        case .integer, .double:
            let n = value.numberValue ?? 0
            if let minimum, n < minimum { report("minimum", "must be at least \(format(minimum)), found \(value.serialized())") }
            if let maximum, n > maximum { report("maximum", "must be at most \(format(maximum)), found \(value.serialized())") }
            if let exclusiveMinimum, n <= exclusiveMinimum { report("exclusiveMinimum", "must be greater than \(format(exclusiveMinimum))") }
            if let exclusiveMaximum, n >= exclusiveMaximum { report("exclusiveMaximum", "must be less than \(format(exclusiveMaximum))") }
            if let multipleOf {
                let quotient = n / multipleOf
                if !quotient.isFinite || quotient.rounded() != quotient { report("multipleOf", "must be a multiple of \(format(multipleOf))") }
            }
        case .string(let s):
            let length = s.unicodeScalars.count
            if let minLength, length < minLength { report("minLength", "must be at least \(minLength) characters long") }
            if let maxLength, length > maxLength { report("maxLength", "must be at most \(maxLength) characters long") }
            if let pattern, !pattern.regex.matches(s) { report("pattern", "must match the pattern \(pattern.source)") }
        case .array(let elements):
            if let minItems, elements.count < minItems { report("minItems", "must have at least \(minItems) items") }
            if let maxItems, elements.count > maxItems { report("maxItems", "must have at most \(maxItems) items") }
            if uniqueItems {
                for i in elements.indices where elements[..<i].contains(elements[i]) {
                    report("uniqueItems", "items must be unique; \(elements[i].serialized()) repeats")
                    break
                }
            }
            if let items {
                for (i, element) in elements.enumerated() { items.validate(element, path: "\(path)[\(i)]", into: &violations) }
            }
        case .null, .bool:
            break
        }
        for schema in allOf { schema.validate(value, path: path, into: &violations) }
        if !anyOf.isEmpty, !anyOf.contains(where: { $0.accepts(value, path: path) }) {
            report("anyOf", "must match at least one of the \(anyOf.count) schemas of anyOf")
        }
        if !oneOf.isEmpty {
            let matching = oneOf.filter { $0.accepts(value, path: path) }.count
            if matching != 1 { report("oneOf", "must match exactly one of the \(oneOf.count) schemas of oneOf, matches \(matching)") }
        }
        if let not, not.accepts(value, path: path) { report("not", "must not match the schema of not") }
    }

    private func format(_ n: Double) -> String {
        n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
    }
}

extension Node {
    func accepts(_ value: JSONValue, path: String) -> Bool {
        var violations: [JSONSchemaViolation] = []
        validate(value, path: path, into: &violations)
        return violations.isEmpty
    }
}

/// A compiled `pattern` (ECMA-262 style, searched anywhere in the string as JSON Schema says).
private final class PatternBox: @unchecked Sendable {  // the Regex is immutable after init
    private let regex: Regex<AnyRegexOutput>

    init?(_ source: String) {
        guard let regex = try? Regex(source) else { return nil }
        self.regex = regex
    }

    func matches(_ s: String) -> Bool {
        (try? regex.firstMatch(in: s)) != nil
    }
}

extension JSONValue {
    fileprivate var numberValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    fileprivate var nonNegativeInteger: Int? {
        switch self {
        case .integer(let i) where i >= 0: Int(i)
        case .double(let d) where d >= 0 && d.rounded() == d && d < 1e15: Int(d)
        default: nil
        }
    }
}
