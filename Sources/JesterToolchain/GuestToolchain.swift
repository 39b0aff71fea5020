import Foundation

/// The Swift toolchain that builds guest plugins: `swiftc` (with the Embedded Swift library for
/// `wasm32-unknown-none-wasm`), `wasm-ld`, and `clang` from the same installation.
///
/// The tools are looked for in this order, and the first directory that holds both `swiftc` and
/// `wasm-ld` wins:
///
/// 1. the directory named by `JESTER_SWIFT_TOOLCHAIN` (the toolchain root such as `/opt/swift`,
///    or its `usr/bin` itself);
/// 2. the directory of the `swiftc` on `PATH` (and, when it is a symbolic link, of its target);
/// 3. `/opt/swift/usr/bin`.
///
/// ```swift
/// let toolchain = try GuestToolchain()
/// let sources = GuestToolchain.swiftPDKSources(root: repositoryRoot) + ["examples/hello/hello.swift"]
/// let result = try toolchain.buildEmbeddedSwift(
///     sources: sources, output: "examples/hello/hello.wasm", exports: ["handle"])
/// print("wrote \(result.byteCount) bytes")
/// ```
public struct GuestToolchain: Sendable {
    /// The environment variable that names the toolchain to use first.
    public static let environmentVariable = "JESTER_SWIFT_TOOLCHAIN"

    /// The last place looked: where the swift.org toolchain lives in Jester's images.
    public static let defaultDirectory = "/opt/swift/usr/bin"

    /// The directory the tools were found in.
    public let directory: String
    /// The Swift compiler.
    public let swiftc: String
    /// The WebAssembly linker.
    public let wasmLD: String
    /// The C compiler, for guests with C parts.
    public let clang: String

    /// Uses the given tools as they are, without looking anything up.
    public init(swiftc: String, wasmLD: String, clang: String) {
        self.directory = (swiftc as NSString).deletingLastPathComponent
        self.swiftc = swiftc
        self.wasmLD = wasmLD
        self.clang = clang
    }

    /// Finds the tools from this process's environment.
    ///
    /// - Throws: ``GuestBuildError`` naming the missing tool and every place it looked.
    public init() throws(GuestBuildError) {
        try self.init(environment: ProcessInfo.processInfo.environment)
    }

    /// Finds the tools using `environment` for `JESTER_SWIFT_TOOLCHAIN` and `PATH`.
    ///
    /// - Throws: ``GuestBuildError`` naming the missing tool and every place it looked.
    public init(environment: [String: String]) throws(GuestBuildError) {
        let candidates = Self.candidateDirectories(environment: environment)
        let searched = candidates.map { "\($0.path) (\($0.origin))" }
        guard candidates.contains(where: { Self.isExecutable($0.path, "swiftc") }) else {
            throw .toolNotFound("swiftc", searched: searched)
        }
        guard
            let toolchain = candidates.first(where: {
                Self.isExecutable($0.path, "swiftc") && Self.isExecutable($0.path, "wasm-ld")
            })
        else {
            throw .toolNotFound("wasm-ld (beside swiftc)", searched: searched)
        }
        let clangDirectory =
            Self.isExecutable(toolchain.path, "clang")
            ? toolchain.path : candidates.first(where: { Self.isExecutable($0.path, "clang") })?.path
        guard let clangDirectory else {
            throw .toolNotFound("clang", searched: searched)
        }
        self.directory = toolchain.path
        self.swiftc = Self.join(toolchain.path, "swiftc")
        self.wasmLD = Self.join(toolchain.path, "wasm-ld")
        self.clang = Self.join(clangDirectory, "clang")
    }

    /// The Embedded Swift sources of the Jester PDK in a checkout of the Jester repository, for a
    /// plugin that exports `exports`: the shared files `root/pdk/swift/Sources/JesterPDK/*.swift`
    /// and, for each export the PDK implements, `Exports/NAME.swift` (`handle`, `on-request`,
    /// `on-response`), sorted. Empty when `root` has no PDK.
    ///
    /// Each file in `Exports/` defines one world export and declares that `Plugin` implements
    /// its hook, so a plugin gets exactly the exports its manifest declares and implements only
    /// their hooks: a filter has no `handle`, a handler no `on-request`. Export names the PDK
    /// does not implement are left to the plugin's own sources.
    ///
    /// Compile them together with a plugin's own sources: Embedded Swift builds a guest as one
    /// module.
    ///
    /// ```swift
    /// let filter = GuestToolchain.swiftPDKSources(root: root, exports: ["on-request", "on-response"])
    /// ```
    ///
    /// - Parameters:
    ///   - root: The repository root, the directory holding `pdk/swift`.
    ///   - exports: The export names of the plugin's manifest. The default, `["handle"]`, is a
    ///     handler's.
    public static func swiftPDKSources(root: String, exports: [String] = ["handle"]) -> [String] {
        let directory = join(root, "pdk/swift/Sources/JesterPDK")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        let shared = names.filter { $0.hasSuffix(".swift") }.sorted().map { join(directory, $0) }
        let exportDirectory = join(directory, "Exports")
        let exportFiles = Set(exports).sorted().map { join(exportDirectory, $0 + ".swift") }
            .filter { FileManager.default.fileExists(atPath: $0) }
        return shared + exportFiles
    }

    /// The C headers of the Jester PDK (`pdk/c`: `jester.h`, `jester_handler.h`,
    /// `jester_http_filter.h`), for `-I`, or `nil` when `root` has none.
    public static func cPDKIncludeDirectory(root: String) -> String? {
        let directory = join(root, "pdk/c")
        return isDirectory(directory) ? directory : nil
    }

    /// The nearest directory at or above `path` that holds the Swift PDK
    /// (`pdk/swift/Sources/JesterPDK`), for finding the repository from a plugin's directory.
    public static func repositoryRoot(containing path: String) -> String? {
        var url = URL(fileURLWithPath: path).standardizedFileURL
        while true {
            if !swiftPDKSources(root: url.path).isEmpty { return url.path }
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { return nil }
            url = parent
        }
    }

    // MARK: Internals

    struct Candidate: Equatable {
        var path: String
        var origin: String
    }

    /// The directories to search, in order, without duplicates.
    static func candidateDirectories(environment: [String: String]) -> [Candidate] {
        var result: [Candidate] = []
        func add(_ path: String, _ origin: String) {
            let normalized = URL(fileURLWithPath: path).standardizedFileURL.path
            if !result.contains(where: { $0.path == normalized }) {
                result.append(Candidate(path: normalized, origin: origin))
            }
        }
        if let root = environment[environmentVariable], !root.isEmpty {
            let origin = environmentVariable
            for suffix in ["usr/bin", "bin", ""] {
                let path = suffix.isEmpty ? root : join(root, suffix)
                if isDirectory(path) || suffix.isEmpty { add(path, origin) }
            }
        }
        for entry in (environment["PATH"] ?? "").split(separator: ":") where !entry.isEmpty {
            let directory = String(entry)
            guard isExecutable(directory, "swiftc") else { continue }
            add(directory, "swiftc on PATH")
            let resolved = URL(fileURLWithPath: join(directory, "swiftc")).resolvingSymlinksInPath()
            add(resolved.deletingLastPathComponent().path, "swiftc on PATH, resolved")
            break
        }
        add(defaultDirectory, "default")
        return result
    }

    /// Where this toolchain keeps the Embedded Swift library for `wasm32-unknown-none-wasm`.
    var embeddedWasmLibraryDirectory: String {
        Self.join((directory as NSString).deletingLastPathComponent, "lib/swift/embedded/wasm32-unknown-none-wasm")
    }

    /// The Embedded Swift module of the standard library for `wasm32-unknown-none-wasm`.
    var embeddedWasmStandardLibrary: String {
        Self.join(
            (directory as NSString).deletingLastPathComponent,
            "lib/swift/embedded/Swift.swiftmodule/wasm32-unknown-none-wasm.swiftmodule"
        )
    }

    static func isExecutable(_ directory: String, _ tool: String) -> Bool {
        let path = join(directory, tool)
        return !isDirectory(path) && FileManager.default.isExecutableFile(atPath: path)
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    static func join(_ directory: String, _ component: String) -> String {
        (directory as NSString).appendingPathComponent(component)
    }
}
