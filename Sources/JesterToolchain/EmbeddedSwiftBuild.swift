import Foundation

/// What a successful guest build produced.
public struct GuestBuildResult: Sendable {
    /// The module that was written.
    public let output: String
    /// Its size in bytes.
    public let byteCount: Int
    /// What the compiler and linker printed (warnings); empty when they were silent.
    public let diagnostics: String
    /// The commands that ran, each as the tool's path followed by its arguments.
    public let commands: [[String]]

    /// The result for a module a build just wrote at `outputURL`, with what each tool printed.
    init(written outputURL: URL, toolOutputs: [String], commands: [[String]]) throws(GuestBuildError) {
        self.output = outputURL.path
        self.byteCount = try GuestToolchain.outputSize(outputURL)
        self.diagnostics = toolOutputs.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }.joined(separator: "\n")
        self.commands = commands
    }
}

extension GuestToolchain {
    /// The stack each guest gets, at the bottom of its memory (`--stack-first`), so that an
    /// overflow traps instead of running into data: 128 KiB.
    public static let guestStackSize = 128 * 1024

    /// Compiles Embedded Swift `sources` into the core WebAssembly module `output`.
    ///
    /// Runs `swiftc -target wasm32-unknown-none-wasm -enable-experimental-feature Embedded ...
    /// -wmo -parse-as-library -c`, then `wasm-ld --no-entry --export=NAME ... --export=cabi_realloc`.
    /// Include the PDK's sources (``swiftPDKSources(root:exports:)``) unless the guest provides the
    /// allocator, `cabi_realloc` and its exports itself (see `docs/abi.md`).
    ///
    /// - Parameters:
    ///   - sources: The `.swift` files, compiled as one module.
    ///   - output: Where to write the `.wasm`; its directory is created if needed.
    ///   - exports: Functions to export besides `cabi_realloc`, such as `["handle"]` or
    ///     `["on-request", "on-response"]`. Functions
    ///     marked `@_expose(wasm, ...)` in the sources (as the PDK's are) are exported anyway.
    ///   - optimize: `-Osize` and `--strip-debug` when `true` (the default); `-Onone` when `false`.
    ///   - strip: `--strip-all` instead of `--strip-debug`: no name section either, so traps show
    ///     function indexes, not names (`jester plugin build --release`).
    /// - Throws: ``GuestBuildError``, with the compiler's or linker's output when one failed.
    public func buildEmbeddedSwift(
        sources: [String],
        output: String,
        exports: [String],
        optimize: Bool = true,
        strip: Bool = false
    )
        throws(GuestBuildError) -> GuestBuildResult
    {
        try Self.checkSources(sources)
        let exportNames = try Self.checkedExportNames(exports + ["cabi_realloc"])

        let scratch = try Self.makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let object = scratch.appendingPathComponent("guest.o").path

        let compile = [swiftc] + compilerArguments(sources: sources, object: object, optimize: optimize)
        // swiftc leaves a `TemporaryDirectory.*` in $TMPDIR on every run: give it the scratch.
        let compiled = try Self.run(compile, tool: "swiftc", temporaryDirectory: scratch)
        guard compiled.status == 0 else {
            throw .compileFailed(
                status: compiled.status,
                sources: sources.count,
                output: compiled.output,
                hint: compileHint(compiled.output)
            )
        }

        let outputURL = try Self.prepareOutput(output)
        let link =
            [wasmLD]
            + linkerArguments(object: object, output: outputURL.path, exports: exportNames, optimize: optimize, strip: strip)
        let linked = try Self.run(link, tool: "wasm-ld")
        guard linked.status == 0 else {
            throw .linkFailed(status: linked.status, output: linked.output, hint: Self.linkHint(linked.output))
        }

        return try GuestBuildResult(written: outputURL, toolOutputs: [compiled.output, linked.output], commands: [compile, link])
    }

    // MARK: Internals

    /// `swiftc` arguments for one Embedded Swift module (without the tool itself).
    func compilerArguments(sources: [String], object: String, optimize: Bool) -> [String] {
        [
            "-target", "wasm32-unknown-none-wasm",
            "-enable-experimental-feature", "Embedded",
            // @_extern(wasm) host imports and @_extern(c) declarations.
            "-enable-experimental-feature", "Extern",
            // The PDK defines malloc and free, which the compiler otherwise reserves for its runtime.
            "-enable-experimental-feature", "AllowRuntimeSymbolDeclarations",
            "-swift-version", "6",
            "-wmo", "-parse-as-library",
            "-Xfrontend", "-disable-stack-protector",
            optimize ? "-Osize" : "-Onone",
            "-module-name", "JesterGuest",
            "-no-color-diagnostics",
            "-c",
        ] + sources + ["-o", object]
    }

    /// `wasm-ld` arguments (without the tool itself).
    func linkerArguments(object: String, output: String, exports: [String], optimize: Bool, strip: Bool = false) -> [String] {
        var arguments = Self.wasmLDArguments(exports: exports, optimize: optimize, strip: strip)
        arguments.append(object)
        // Unicode tables for String comparison and hashing; only the parts used are linked.
        let unicodeTables = Self.join(embeddedWasmLibraryDirectory, "libswiftUnicodeDataTables.a")
        if FileManager.default.fileExists(atPath: unicodeTables) { arguments.append(unicodeTables) }
        arguments += ["-o", output]
        return arguments
    }

    private func compileHint(_ output: String) -> String? {
        if !FileManager.default.fileExists(atPath: embeddedWasmStandardLibrary) {
            return "this toolchain has no Embedded Swift library for wasm32 "
                + "(\(embeddedWasmStandardLibrary) is missing): install Swift 6.3 from swift.org "
                + "or set \(Self.environmentVariable)"
        }
        for (hook, signature) in Self.hookSignatures
        where output.contains("does not conform to protocol '\(hook)'") {
            return "the manifest declares an export whose hook is missing: implement `\(signature)` "
                + "in an `extension Plugin` (see pdk/swift/README.md)"
        }
        return nil
    }

    /// The Swift PDK's hook protocols and what a plugin writes to conform.
    static let hookSignatures: [(String, String)] = [
        ("HandleHook", "static func handle(_ input: [UInt8]) throws(PluginFailure) -> [UInt8]"),
        ("OnRequestHook", "static func onRequest(_ request: Request, _ response: Response) -> FilterAction"),
        ("OnResponseHook", "static func onResponse(_ request: Request, _ response: Response) -> FilterAction"),
    ]

    static func linkHint(_ output: String) -> String? {
        if output.contains("symbol exported via --export not found") {
            return "a requested export is not defined: build with the PDK's sources, "
                + "or define it with @_expose(wasm, \"NAME\") @_cdecl(\"NAME\")"
        }
        if output.contains("undefined symbol") {
            return "the module needs a function no source defines; the PDK provides only malloc, free, calloc, "
                + "realloc, posix_memalign, memcmp, putchar and arc4random_buf from the C library"
        }
        return nil
    }

    /// `names` without duplicates, in order, each checked to be usable as a linker export.
    static func checkedExportNames(_ names: [String]) throws(GuestBuildError) -> [String] {
        var checked: [String] = []
        for name in names {
            guard !name.isEmpty, !name.contains(where: { $0 == "=" || $0 == "," || $0.isWhitespace }) else {
                throw .invalidExport(name)
            }
            if !checked.contains(name) { checked.append(name) }
        }
        return checked
    }

    /// Creates the directory `output` goes into and returns its URL.
    static func prepareOutput(_ output: String) throws(GuestBuildError) -> URL {
        let outputURL = URL(fileURLWithPath: output)
        do {
            try FileManager.default.createDirectory(
                at: outputURL.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
        } catch {
            throw .outputFailed(output, reason: "\(error)")
        }
        return outputURL
    }

    /// The size of the module a tool just wrote.
    static func outputSize(_ outputURL: URL) throws(GuestBuildError) -> Int {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: outputURL.path)
            return (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch {
            throw .outputFailed(
                outputURL.path,
                reason: "the linker reported success but the file cannot be read: \(error)"
            )
        }
    }

    /// `wasm-ld` arguments every guest shares (without the tool, objects and output): no entry
    /// point, the exports, the stack first, and what to strip.
    static func wasmLDArguments(exports: [String], optimize: Bool, strip: Bool) -> [String] {
        var arguments = ["--no-entry"]
        arguments += exports.map { "--export=\($0)" }
        arguments += ["--stack-first", "-z", "stack-size=\(guestStackSize)"]
        if strip {
            arguments.append("--strip-all")
        } else if optimize {
            arguments.append("--strip-debug")
        }
        return arguments
    }

    /// Fails unless there are sources and each is a file.
    static func checkSources(_ sources: [String]) throws(GuestBuildError) {
        guard !sources.isEmpty else { throw .noSources() }
        for source in sources where !FileManager.default.fileExists(atPath: source) || isDirectory(source) {
            throw .sourceNotFound(source)
        }
    }

    /// A fresh directory for intermediate files; the caller removes it.
    static func makeScratchDirectory() throws(GuestBuildError) -> URL {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("jester-guest-\(UUID().uuidString)", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        } catch {
            throw .outputFailed(scratch.path, reason: "\(error)")
        }
        return scratch
    }

    /// Runs `command` (tool path, then arguments) without a shell and returns its exit status
    /// and everything it printed.
    /// Runs a tool, returning its status and its stdout and stderr together. With
    /// `temporaryDirectory`, the tool's `TMPDIR` is that directory (removed with the build's
    /// scratch), for tools that leave files behind in it.
    static func run(_ command: [String], tool: String, temporaryDirectory: URL? = nil) throws(GuestBuildError) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        if let temporaryDirectory {
            var environment = ProcessInfo.processInfo.environment
            environment["TMPDIR"] = temporaryDirectory.path
            process.environment = environment
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw .launchFailed(tool, path: command[0], reason: "\(error)")
        }
        // One pipe for both streams, read to the end before waiting, so a chatty tool never
        // blocks on a full pipe.
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        return (status, String(decoding: data, as: UTF8.self))
    }
}
