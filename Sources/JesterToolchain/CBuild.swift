import Foundation

extension GuestToolchain {
    /// Compiles freestanding C `sources` (no C library) with this toolchain's
    /// `clang --target=wasm32 -ffreestanding -c`, then links them with its `wasm-ld --no-entry`
    /// into the core WebAssembly module `output`.
    ///
    /// The guest brings what it needs from a C library itself: `pdk/c/jester_http_filter.h`
    /// provides the allocator, `cabi_realloc`, `memcpy`, `memmove`, `memset` and `memcmp` in the
    /// one source that defines `JESTER_IMPLEMENTATION` before including it. Functions are
    /// exported by the `export_name` attribute (the header's `JESTER_EXPORT("on-request")`), so
    /// export names need not be C identifiers.
    ///
    /// ```swift
    /// let result = try toolchain.buildC(
    ///     sources: ["examples/filters/redact-json/redact_json.c"],
    ///     output: "examples/filters/redact-json/redact-json.wasm",
    ///     includeDirectories: ["pdk/c"])
    /// ```
    ///
    /// - Parameters:
    ///   - sources: The `.c` files.
    ///   - output: Where to write the `.wasm`; its directory is created if needed.
    ///   - includeDirectories: Passed as `-I`, such as ``cPDKIncludeDirectory(root:)``.
    ///   - exports: Symbols to export besides those marked `export_name` (`--export=NAME`).
    ///   - optimize: `-Os` and `--strip-debug` when `true` (the default); `-O0 -g` when `false`.
    /// - Throws: ``GuestBuildError``, with clang's output when it failed.
    public func buildC(
        sources: [String],
        output: String,
        includeDirectories: [String] = [],
        exports: [String] = [],
        optimize: Bool = true
    )
        throws(GuestBuildError) -> GuestBuildResult
    {
        guard !sources.isEmpty else { throw .noSources() }
        for source in sources where !FileManager.default.fileExists(atPath: source) || Self.isDirectory(source) {
            throw .sourceNotFound(source)
        }
        let exportNames = try Self.checkedExportNames(exports)
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("jester-guest-\(UUID().uuidString)", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        } catch {
            throw .outputFailed(scratch.path, reason: "\(error)")
        }
        defer { try? FileManager.default.removeItem(at: scratch) }

        var commands: [[String]] = []
        var diagnostics: [String] = []
        var objects: [String] = []
        for (index, source) in sources.enumerated() {
            let object = scratch.appendingPathComponent("\(index).o").path
            let compile =
                [clang]
                + cCompilerArguments(
                    source: source,
                    includeDirectories: includeDirectories,
                    object: object,
                    optimize: optimize
                )
            let compiled = try run(compile, tool: "clang")
            commands.append(compile)
            diagnostics.append(compiled.output)
            guard compiled.status == 0 else {
                throw .cCompileFailed(
                    status: compiled.status,
                    sources: sources.count,
                    output: compiled.output,
                    hint: Self.cHint(compiled.output)
                )
            }
            objects.append(object)
        }

        let outputURL = try Self.prepareOutput(output)
        let link =
            [wasmLD]
            + cLinkerArguments(objects: objects, output: outputURL.path, exports: exportNames, optimize: optimize)
        let linked = try run(link, tool: "wasm-ld")
        commands.append(link)
        diagnostics.append(linked.output)
        guard linked.status == 0 else {
            throw .linkFailed(status: linked.status, output: linked.output, hint: Self.cHint(linked.output))
        }
        let size = try Self.outputSize(outputURL)
        return GuestBuildResult(
            output: outputURL.path,
            byteCount: size,
            diagnostics: diagnostics.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { !$0.isEmpty }.joined(separator: "\n"),
            commands: commands
        )
    }

    /// `clang` arguments that compile one source into a wasm32 object, freestanding (without the
    /// tool itself).
    func cCompilerArguments(source: String, includeDirectories: [String], object: String, optimize: Bool) -> [String] {
        var arguments = [
            "--target=wasm32",
            // No C library: the guest is freestanding, and brings what it needs (the PDK header).
            "-ffreestanding",
            "-std=c17", "-Wall", "-Wextra",
            "-fno-color-diagnostics",
        ]
        arguments += optimize ? ["-Os"] : ["-O0", "-g"]
        arguments += includeDirectories.map { "-I\($0)" }
        arguments += ["-c", source, "-o", object]
        return arguments
    }

    /// `wasm-ld` arguments for a C guest (without the tool itself): no entry point, the stack
    /// first, no C library or compiler runtime.
    func cLinkerArguments(objects: [String], output: String, exports: [String], optimize: Bool) -> [String] {
        var arguments = ["--no-entry"]
        arguments += exports.map { "--export=\($0)" }
        arguments += ["--stack-first", "-z", "stack-size=\(Self.guestStackSize)"]
        if optimize { arguments.append("--strip-debug") }
        arguments += objects
        arguments += ["-o", output]
        return arguments
    }

    static func cHint(_ output: String) -> String? {
        if output.contains("jester_http_filter.h' file not found") {
            return "pass the C PDK's directory (pdk/c) in includeDirectories"
        }
        if output.contains("undefined symbol") {
            return "the module needs a function no source defines; a freestanding guest has no C library: "
                + "define JESTER_IMPLEMENTATION in one source before including jester_http_filter.h "
                + "for the allocator and memcpy, memmove, memset and memcmp"
        }
        return nil
    }
}
