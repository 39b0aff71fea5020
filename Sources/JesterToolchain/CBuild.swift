import Foundation

extension GuestToolchain {
    /// Compiles freestanding C `sources` (no C library) with this toolchain's
    /// `clang --target=wasm32 -ffreestanding -c`, then links them with its `wasm-ld --no-entry`
    /// into the core WebAssembly module `output`.
    ///
    /// The guest brings what it needs from a C library itself: the C PDK (`pdk/c/jester.h`,
    /// included by `jester_handler.h` and `jester_http_filter.h`) provides the allocator,
    /// `cabi_realloc`, `memcpy`, `memmove`, `memset`, `memcmp` and `strlen` in the one source that
    /// defines `JESTER_IMPLEMENTATION` before including it. Functions are exported by the
    /// `export_name` attribute (the header's `JESTER_EXPORT("on-request")`), so export names need
    /// not be C identifiers. For a guest that wants the C library, see ``WASICToolchain``.
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
    ///   - strip: `--strip-all` instead of `--strip-debug` (no name or producers section).
    /// - Throws: ``GuestBuildError``, with clang's output when it failed.
    public func buildC(
        sources: [String],
        output: String,
        includeDirectories: [String] = [],
        exports: [String] = [],
        optimize: Bool = true,
        strip: Bool = false
    )
        throws(GuestBuildError) -> GuestBuildResult
    {
        try Self.checkSources(sources)
        let exportNames = try Self.checkedExportNames(exports)
        let scratch = try Self.makeScratchDirectory()
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
            let compiled = try Self.run(compile, tool: "clang")
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
            + Self.wasmLDArguments(exports: exportNames, optimize: optimize, strip: strip) + objects
            + ["-o", outputURL.path]
        let linked = try Self.run(link, tool: "wasm-ld")
        commands.append(link)
        diagnostics.append(linked.output)
        guard linked.status == 0 else {
            throw .linkFailed(status: linked.status, output: linked.output, hint: Self.cHint(linked.output))
        }
        return try GuestBuildResult(written: outputURL, toolOutputs: diagnostics, commands: commands)
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

    static func cHint(_ output: String) -> String? {
        if output.contains("jester_http_filter.h' file not found") || output.contains("jester_handler.h' file not found")
            || output.contains("jester.h' file not found")
        {
            return "pass the C PDK's directory (pdk/c) in includeDirectories"
        }
        if let header = ["stdio.h", "stdlib.h", "string.h", "strings.h", "ctype.h", "math.h", "time.h", "errno.h"]
            .first(where: { output.contains("'\($0)' file not found") })
        {
            return "a freestanding guest has no C library, so <\(header)> does not exist: build with the C library "
                + "(`jester plugin build --libc`, WASICToolchain: clang for wasm32-wasi with wasi-libc), or do without it"
        }
        if output.contains("undefined symbol") {
            return "the module needs a function no source defines; a freestanding guest has no C library: "
                + "define JESTER_IMPLEMENTATION in one source before including jester_handler.h or jester_http_filter.h "
                + "for the allocator and memcpy, memmove, memset, memcmp and strlen, or build with the C library "
                + "(`jester plugin build --libc`)"
        }
        return nil
    }
}
