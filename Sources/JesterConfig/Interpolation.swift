/// `${NAME}` and `${NAME:DEFAULT}` in string values.
///
/// - `${NAME}`: the environment variable; an error when it is not set.
/// - `${NAME:DEFAULT}`: the variable, or `DEFAULT` when it is unset or empty. The default runs to
///   the first `}` and is taken literally.
/// - `$${`: a literal `${`. A `$` not followed by `{` is kept as it is.
package enum Interpolation {
    package enum Problem: Error, Equatable {
        case unset(String)
        case unterminated
        case badName(String)
    }

    /// The expanded text, and whether any `${…}` was substituted.
    package static func expand(
        _ text: String,
        environment: [String: String]
    ) -> Result<(text: String, substituted: Bool), Problem> {
        guard text.contains("$") else { return .success((text, false)) }
        let scalars = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var substituted = false
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "$", index + 2 < scalars.count, scalars[index + 1] == "$", scalars[index + 2] == "{" {
                output.append(contentsOf: "${".unicodeScalars)
                index += 3
                continue
            }
            guard scalar == "$", index + 1 < scalars.count, scalars[index + 1] == "{" else {
                output.append(scalar)
                index += 1
                continue
            }
            guard let close = scalars[(index + 2)...].firstIndex(of: "}") else { return .failure(.unterminated) }
            let body = String(String.UnicodeScalarView(scalars[(index + 2)..<close]))
            let name: String
            let fallback: String?
            if let colon = body.firstIndex(of: ":") {
                name = String(body[..<colon])
                fallback = String(body[body.index(after: colon)...])
            } else {
                name = body
                fallback = nil
            }
            guard isVariableName(name) else { return .failure(.badName(name)) }
            if let value = environment[name], !(value.isEmpty && fallback != nil) {
                output.append(contentsOf: value.unicodeScalars)
            } else if let fallback {
                output.append(contentsOf: fallback.unicodeScalars)
            } else {
                return .failure(.unset(name))
            }
            substituted = true
            index = close + 1
        }
        return .success((String(output), substituted))
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
        }
    }

    /// Expands every string in a tree, reporting each problem at its key; a string that fails
    /// becomes ``ConfigNode/Value/invalid``.
    package static func expandTree(
        _ node: inout ConfigNode,
        environment: [String: String],
        issues: inout [ConfigError.Issue]
    ) {
        switch node.value {
        case .string(let text):
            switch expand(text, environment: environment) {
            case .success(let result):
                node.value = .string(result.text)
                node.interpolated = result.substituted
            case .failure(let problem):
                node.value = .invalid
                issues.append(issue(problem, at: node))
            }
        case .array(var elements):
            for offset in elements.indices {
                expandTree(&elements[offset], environment: environment, issues: &issues)
            }
            node.value = .array(elements)
        case .table(var table):
            for key in table.keys {
                var child = table[key]!
                expandTree(&child, environment: environment, issues: &issues)
                table[key] = child
            }
            node.value = .table(table)
        case .integer, .float, .bool, .dateTime, .invalid:
            break
        }
    }

    static func issue(_ problem: Problem, at node: ConfigNode) -> ConfigError.Issue {
        switch problem {
        case .unset(let name):
            return ConfigError.Issue(
                node.location,
                key: node.path.description,
                "environment variable \(name) is not set and ${\(name)} has no default",
                fix: "Set \(name), or give a default: ${\(name):VALUE}"
            )
        case .unterminated:
            return ConfigError.Issue(
                node.location,
                key: node.path.description,
                "\"${\" has no closing \"}\"",
                fix: "Write ${NAME} or ${NAME:DEFAULT}; write $${ for a literal ${"
            )
        case .badName(let name):
            return ConfigError.Issue(
                node.location,
                key: node.path.description,
                "\"${\(name)}\" does not name an environment variable",
                fix: "Names are letters, digits and _, not starting with a digit; write $${ for a literal ${"
            )
        }
    }
}
