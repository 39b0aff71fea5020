public import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Loads the gateway's TOML config: the main file, the files it includes, the profile overlay,
/// `${ENV:DEFAULT}` interpolation, then strict decoding and checks across the whole config.
///
/// ```swift
/// let config = try ConfigLoader.load(file: "jester.toml", profile: "prod")
/// ```
///
/// Every problem in every file is reported at once in a ``ConfigError``.
///
/// Relative paths (`include` globs, `tls.cert`, `tls.key`, `ca_file`, `handler.plugin`,
/// `pid_file`, a filter's `plugin` path and `module`, `plugins.search_paths`) are relative to the
/// directory of the file that writes them; the loaded config holds them as absolute paths.
public enum ConfigLoader {
    /// Loads a config file with its includes and, when `profile` is set, overlays
    /// `<dir>/<stem>.<profile>.toml` (`jester.toml` with `prod`: `jester.prod.toml`).
    ///
    /// - Parameters:
    ///   - file: The main config file, e.g. `jester.toml`. Error messages name files as this path does.
    ///   - profile: A profile name (letters, digits, `.`, `_`, `-`); its file must exist.
    ///   - environment: The variables `${NAME}` and `${NAME:DEFAULT}` read.
    public static func load(
        file: String,
        profile: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> GatewayConfig {
        var session = LoadSession(environment: environment)
        guard let text = session.read(file, includedFrom: nil) else { throw .unreadable(session.issues) }
        return try session.load(main: file, text: text, profile: profile)
    }

    /// Loads a config from TOML text, as if read from `file` (which names it in error messages and
    /// anchors relative paths and includes).
    public static func load(
        toml: String,
        file: String = "jester.toml",
        profile: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> GatewayConfig {
        var session = LoadSession(environment: environment)
        return try session.load(main: file, text: toml, profile: profile)
    }

    /// The profile overlay file for a config file: `conf/jester.toml` and `prod` give `conf/jester.prod.toml`.
    package static func profileFile(for file: String, profile: String) -> String {
        let directory = (file as NSString).deletingLastPathComponent
        var stem = (file as NSString).lastPathComponent
        if stem.hasSuffix(".toml") { stem.removeLast(5) }
        return join(directory, "\(stem).\(profile).toml")
    }

    /// An absolute path for `path` written in `file`: relative paths start at the file's directory.
    package static func resolve(_ path: String, relativeTo file: String) -> String {
        if path.hasPrefix("/") { return (path as NSString).standardizingPath }
        if path.hasPrefix("~") { return (path as NSString).expandingTildeInPath }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        return base.appendingPathComponent(path).standardizedFileURL.path
    }

    /// `directory/name`, without a leading `./` when the directory is the current one, and with
    /// `dir/..` folded away when that names the same file (for readable messages).
    static func join(_ directory: String, _ name: String) -> String {
        let joined: String
        if name.hasPrefix("/") || directory.isEmpty || directory == "." {
            joined = name
        } else {
            joined = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        }
        guard joined.contains("/.") || joined.hasPrefix("./") else { return joined }
        var components: [String] = []
        for component in joined.split(separator: "/", omittingEmptySubsequences: true).map(String.init) {
            if component == "." { continue }
            if component == "..", let last = components.last, last != ".." {
                components.removeLast()
            } else {
                components.append(component)
            }
        }
        var folded = (joined.hasPrefix("/") ? "/" : "") + components.joined(separator: "/")
        if folded.isEmpty { folded = "." }
        return canonical(folded) == canonical(joined) ? folded : joined
    }

    /// Symlinks resolved, for recognising a file met twice.
    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// The files matching a glob, sorted by name.
    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        #if canImport(Darwin)
        let status = Darwin.glob(pattern, 0, nil, &result)
        #else
        let status = Glibc.glob(pattern, 0, nil, &result)
        #endif
        guard status == 0 else { return [] }
        var paths: [String] = []
        for index in 0..<Int(result.gl_pathc) {
            if let path = result.gl_pathv[index] { paths.append(String(cString: path)) }
        }
        return paths.sorted()
    }
}

/// One load: the files read so far, the problems found, the environment.
private struct LoadSession {
    let environment: [String: String]
    var issues: [ConfigError.Issue] = []
    /// Set when a file could not be read or parsed: decoding what is left would only add noise.
    var unreadable = false
    var files: [String] = []
    /// Files parsed so far, syntax errors included, to give each its own range of node orders.
    var parsedFiles = 0
    /// Each file read (canonical path) and where it was first brought in.
    var loaded: [String: SourceLocation] = [:]

    init(environment: [String: String]) {
        self.environment = environment
    }

    mutating func load(main: String, text: String, profile: String?) throws(ConfigError) -> GatewayConfig {
        let canonical = ConfigLoader.canonical(main)
        loaded[canonical] = SourceLocation(file: main, line: 0)
        var root = tree(path: main, text: text, chain: [canonical])
        if let profile {
            if !ValueParsers.isName(profile) {
                issues.append(
                    ConfigError.Issue(
                        SourceLocation(file: main, line: 0),
                        key: "",
                        "\"\(profile)\" is not a profile name",
                        fix: "Use letters, digits, '.', '_' and '-'"
                    )
                )
                unreadable = true
            } else {
                let path = ConfigLoader.profileFile(for: main, profile: profile)
                if let text = read(
                    path,
                    includedFrom: nil,
                    missingFix: "Create it with the keys that differ in \(profile), or run without --profile"
                ) {
                    let canonicalProfile = ConfigLoader.canonical(path)
                    loaded[canonicalProfile] = SourceLocation(file: path, line: 0)
                    if let overlay = tree(path: path, text: text, chain: [canonicalProfile]), root != nil {
                        Merging.overlay(&root!, with: overlay)
                    }
                } else {
                    unreadable = true
                }
            }
        }
        guard let root, !unreadable else { throw .unreadable(sortedIssues()) }
        var decoder = ConfigDecoder(mainFile: main)
        var config = decoder.decode(root)
        issues += decoder.issues
        config?.files = files
        guard let config, issues.isEmpty else { throw .invalid(sortedIssues()) }
        return config
    }

    /// Reads a file, reporting a missing or unreadable one at the `include` entry that named it.
    mutating func read(_ path: String, includedFrom: ConfigNode?, missingFix: String? = nil) -> String? {
        let location = includedFrom?.location ?? SourceLocation(file: path, line: 0)
        let key = includedFrom?.path.description ?? ""
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            issues.append(
                ConfigError.Issue(
                    location,
                    key: key,
                    "\(path) does not exist",
                    fix: missingFix
                        ?? "Create it, or point to another config file (jester config validate --config PATH)"
                )
            )
            return nil
        }
        guard !isDirectory.boolValue else {
            issues.append(ConfigError.Issue(location, key: key, "\(path) is a directory, not a TOML file"))
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            issues.append(ConfigError.Issue(location, key: key, "cannot read \(path)", fix: "Check its permissions"))
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            issues.append(
                ConfigError.Issue(location, key: key, "\(path) is not UTF-8 text", fix: "TOML files are UTF-8")
            )
            return nil
        }
        return text
    }

    /// A file's located tree with its includes merged in. `chain` holds the canonical paths of
    /// the files including this one, this one last, to catch cycles.
    mutating func tree(path: String, text: String, chain: [String]) -> ConfigNode? {
        var root: ConfigNode
        parsedFiles += 1
        switch ConfigNode.parse(text, file: path, orderOffset: parsedFiles * ConfigNode.ordersPerFile) {
        case .success(let node): root = node
        case .failure(let error):
            issues += error.issues
            unreadable = true
            return nil
        }
        files.append(path)
        Interpolation.expandTree(&root, environment: environment, issues: &issues)
        Merging.normalizeListeners(&root)
        guard var table = root.table, let include = table["include"] else { return root }
        table["include"] = nil
        root.value = .table(table)

        let kind = ConfigSpec.root.field("include")!.kind
        guard case .array(let element, let expected) = kind else { return root }
        let patterns: [ConfigNode]
        switch include.value {
        case .array(let elements): patterns = elements
        case .invalid: return root
        default:
            issues.append(
                ConfigError.Issue(
                    include.location,
                    key: include.path.description,
                    "expected \(expected), found \(include.kindDescription)"
                )
            )
            return root
        }
        let directory = (path as NSString).deletingLastPathComponent
        for patternNode in patterns {
            guard case .string(let pattern) = patternNode.value else {
                if case .invalid = patternNode.value { continue }
                issues.append(
                    ConfigError.Issue(
                        patternNode.location,
                        key: patternNode.path.description,
                        "expected \(element.expected), found \(patternNode.kindDescription)"
                    )
                )
                continue
            }
            let resolved = ConfigLoader.join(directory, pattern)
            let matches = ConfigLoader.glob(resolved)
            guard !matches.isEmpty else {
                issues.append(
                    ConfigError.Issue(
                        patternNode.location,
                        key: patternNode.path.description,
                        "\"\(pattern)\" matches no file (looked for \(resolved))",
                        fix: "Include globs are relative to the directory of \(path); fix the pattern or remove it"
                    )
                )
                continue
            }
            for match in matches {
                let canonical = ConfigLoader.canonical(match)
                if let start = chain.firstIndex(of: canonical) {
                    let cycle = (chain[start...].map { displayName(of: $0) } + [match]).joined(separator: " → ")
                    issues.append(
                        ConfigError.Issue(
                            patternNode.location,
                            key: patternNode.path.description,
                            "include cycle: \(cycle)",
                            fix: "Remove the include that leads back to a file already being included"
                        )
                    )
                    continue
                }
                if let first = loaded[canonical] {
                    issues.append(
                        ConfigError.Issue(
                            patternNode.location,
                            key: patternNode.path.description,
                            "\(match) is already included (\(first))",
                            fix: "Include each file once"
                        )
                    )
                    continue
                }
                loaded[canonical] = patternNode.location
                guard let text = read(match, includedFrom: patternNode) else {
                    unreadable = true
                    continue
                }
                if let child = tree(path: match, text: text, chain: chain + [canonical]) {
                    Merging.include(child, into: &root, issues: &issues)
                }
            }
        }
        return root
    }

    /// How a cycle names a file: the path it was first read as.
    func displayName(of canonical: String) -> String {
        files.first { ConfigLoader.canonical($0) == canonical } ?? canonical
    }

    /// Problems in file order (the order files were read), then by line.
    func sortedIssues() -> [ConfigError.Issue] {
        let rank = Dictionary(files.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return issues.enumerated().sorted { a, b in
            let fileA = rank[a.element.location.file] ?? Int.max
            let fileB = rank[b.element.location.file] ?? Int.max
            if fileA != fileB { return fileA < fileB }
            if a.element.location.line != b.element.location.line {
                return a.element.location.line < b.element.location.line
            }
            return a.offset < b.offset
        }.map(\.element)
    }
}

/// How trees combine: includes merge into the including file, a profile overlays the result.
package enum Merging {
    /// Turns the one-listener `[listeners]` table into a one-element array so that files using
    /// either form combine; its `name` defaults to `"default"`.
    package static func normalizeListeners(_ root: inout ConfigNode) {
        guard var table = root.table, let listeners = table["listeners"], var shorthand = listeners.table else {
            return
        }
        if shorthand["name"] == nil {
            shorthand["name"] = ConfigNode(
                .string("default"),
                location: listeners.location,
                path: listeners.path.appending("name"),
                order: listeners.order
            )
        }
        var element = listeners
        element.value = .table(shorthand)
        table["listeners"] = ConfigNode(
            .array([element]),
            location: listeners.location,
            path: listeners.path,
            order: listeners.order
        )
        root.value = .table(table)
    }

    /// Merges an included file's tree into the including one: tables merge recursively, arrays of
    /// tables append, and a value set in both files is an error naming both places. Two entries
    /// with one name in a named map (`[upstreams.X]`) are an error too.
    package static func include(_ incoming: ConfigNode, into base: inout ConfigNode, issues: inout [ConfigError.Issue])
    {
        guard var baseTable = base.table, let incomingTable = incoming.table else { return }
        let isMap: Bool
        if case .map = ConfigSpec.kind(at: base.path) { isMap = true } else { isMap = false }
        for (key, node) in incomingTable.entries {
            guard var existing = baseTable[key] else {
                baseTable[key] = node
                continue
            }
            if isMap {
                issues.append(
                    ConfigError.Issue(
                        node.location,
                        key: node.path.description,
                        "\"\(key)\" is defined twice: at \(existing.location) and here",
                        fix: "Define it in one file only"
                    )
                )
            } else if existing.table != nil, node.table != nil {
                include(node, into: &existing, issues: &issues)
                baseTable[key] = existing
            } else if node.isArrayOfTables, existing.isArrayOfTables || existing.array?.isEmpty == true {
                existing.value = .array(existing.array! + node.array!)
                baseTable[key] = existing
            } else {
                issues.append(
                    ConfigError.Issue(
                        node.location,
                        key: node.path.description,
                        "\(key) is set in two files: at \(existing.location) and here",
                        fix: "Set it in one file only; to change a value for one environment, use a profile (--profile)"
                    )
                )
            }
        }
        base.value = .table(baseTable)
    }

    /// Overlays a profile: tables merge recursively, `[[routes]]` and `[[listeners]]` merge each
    /// element into the base element of the same `name` (other elements are appended), everything
    /// else replaces, other arrays of tables included (a route's `filters` is one ordered chain).
    package static func overlay(_ base: inout ConfigNode, with overlay: ConfigNode) {
        if var baseTable = base.table, let overlayTable = overlay.table {
            for (key, node) in overlayTable.entries {
                if var existing = baseTable[key] {
                    Merging.overlay(&existing, with: node)
                    baseTable[key] = existing
                } else {
                    baseTable[key] = node
                }
            }
            base.value = .table(baseTable)
        } else if overlay.isArrayOfTables, var elements = base.array, base.isArrayOfTables || elements.isEmpty,
            ConfigSpec.kind(at: base.path)?.tableSpecs.contains(where: \.mergesByName) == true
        {
            for element in overlay.array! {
                if let name = element.table?["name"]?.string,
                    let index = elements.firstIndex(where: { $0.table?["name"]?.string == name })
                {
                    Merging.overlay(&elements[index], with: element)
                } else {
                    elements.append(element)
                }
            }
            base.value = .array(elements)
        } else {
            base = overlay
        }
    }
}
