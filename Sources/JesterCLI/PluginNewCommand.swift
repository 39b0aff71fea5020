import ArgumentParser
import Foundation
import JesterManifest

/// Where the Jester source tree is: the PDKs (`pdk/`) and the project templates (`templates/`)
/// that `jester plugin new` and `jester plugin build` use.
enum SourceTree {
    /// `JESTER_HOME`, else the first directory above `directory` holding `pdk/swift`, else the
    /// first above the running `jester` executable (a `swift build` puts it in `.build/…` of
    /// the tree), else nil.
    static func root(from directory: String) -> String? {
        if let home = ProcessInfo.processInfo.environment["JESTER_HOME"] { return home }
        if let found = search(upwardFrom: URL(fileURLWithPath: directory)) { return found }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return search(upwardFrom: executable.deletingLastPathComponent())
    }

    private static func search(upwardFrom start: URL) -> String? {
        var url = start.standardizedFileURL
        for _ in 0..<12 {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("pdk/swift").path) { return url.path }
            if url.path == "/" { return nil }
            url.deleteLastPathComponent()
        }
        return nil
    }

    static let notFound = "cannot find the Jester source tree (pdk/ and templates/); run from inside it, pass --pdk-root, or set JESTER_HOME"
}

/// `jester plugin new NAME --lang … --template …`
struct NewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Start a plugin project from a template: sources, plugin.json and tests.json.",
        discussion: """
            Copies templates/LANG/TEMPLATE from the Jester source tree into a new directory NAME (or \
            --output) and names the plugin NAME everywhere. The project builds with `jester plugin build` \
            and passes its own tests with `jester plugin test` as it is.

            Templates:
              basic        a handler: bytes in, bytes out (jester plugin call)
              handler      a gateway route handler: the request body in, the response body out
              http-filter  a gateway filter that edits requests and responses
              auth         a gateway filter that checks an API key and answers 401

            Examples:
              jester plugin new greeter
              jester plugin new edge-tags --lang rust --template http-filter
              jester plugin new api-auth --lang c --template auth --output plugins/api-auth
            """
    )

    @Argument(help: "The plugin's id: lowercase letters, digits, '-', '_' and '.'.")
    var name: String

    @Option(help: "The language: swift, c or rust.")
    var lang: String = "swift"

    @Option(help: "The template: basic, handler, http-filter or auth.")
    var template: String = "basic"

    @Option(help: "The directory to create (default: NAME).")
    var output: String?

    @Option(help: "The Jester source tree holding templates/ (default: found upwards, or JESTER_HOME).")
    var pdkRoot: String?

    static let languages = ["swift", "c", "rust"]
    static let templates = ["basic", "handler", "http-filter", "auth"]
    /// The plugin id each template is written with; `new` replaces it with NAME.
    static let templateIDs = ["basic": "my-plugin", "handler": "my-handler", "http-filter": "header-filter", "auth": "api-key-auth"]

    func run() async throws {
        guard PluginManifest.isValidID(name) else {
            throw ValidationError("\"\(name)\" is not a valid plugin id: use lowercase letters, digits, '-', '_' and '.', starting with a letter or digit (e.g. my-filter)")
        }
        guard Self.languages.contains(lang) else {
            throw ValidationError("--lang \(lang): expected one of \(Self.languages.joined(separator: ", "))")
        }
        guard let placeholder = Self.templateIDs[template] else {
            throw ValidationError("--template \(template): expected one of \(Self.templates.joined(separator: ", "))")
        }
        let destination = output ?? name
        guard let root = pdkRoot ?? SourceTree.root(from: FileManager.default.currentDirectoryPath) else {
            throw Failure(message: SourceTree.notFound)
        }
        let source = "\(root)/templates/\(lang)/\(template)"
        let files = FileManager.default
        guard files.fileExists(atPath: source + "/plugin.json") else {
            throw Failure(message: "\(source) does not exist: the Jester source tree at \(root) has no \(lang) \(template) template")
        }
        if let existing = try? files.contentsOfDirectory(atPath: destination), !existing.isEmpty {
            throw Failure(message: "\(destination) already exists and is not empty; choose another name or pass --output")
        }
        let written = try Self.copy(from: source, to: destination, replacing: placeholder, with: name)
        Console.out("created \(destination) (\(lang), \(template)): \(written.joined(separator: ", "))")
        Console.out("next:\n  cd \(destination)\n  jester plugin build\n  jester plugin test")
    }

    /// Copies the template's files (not build products), renaming the template's plugin id in
    /// file names and contents (`my-filter`, and `my_filter` where a language needs an identifier).
    static func copy(from source: String, to destination: String, replacing placeholder: String, with name: String) throws -> [String] {
        let files = FileManager.default
        guard let enumerator = files.enumerator(atPath: source) else { throw Failure(message: "cannot read \(source)") }
        let identifier = placeholder.replacingOccurrences(of: "-", with: "_")
        let newIdentifier = name.replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: ".", with: "_")
        func rename(_ text: String) -> String {
            text.replacingOccurrences(of: placeholder, with: name).replacingOccurrences(of: identifier, with: newIdentifier)
        }
        var written: [String] = []
        for case let relative as String in enumerator {
            let path = source + "/" + relative
            var isDirectory: ObjCBool = false
            guard files.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let base = (relative as NSString).lastPathComponent
            if base.hasSuffix(".wasm") || base.hasSuffix(".o") || relative.hasPrefix("target/") || base.hasPrefix(".") { continue }
            let target = destination + "/" + rename(relative)
            try files.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard let data = files.contents(atPath: path) else { throw Failure(message: "cannot read \(path)") }
            if let text = String(data: data, encoding: .utf8) {
                try rename(text).write(toFile: target, atomically: true, encoding: .utf8)
            } else {
                try data.write(to: URL(fileURLWithPath: target))
            }
            written.append(rename(relative))
        }
        return written.sorted()
    }
}
