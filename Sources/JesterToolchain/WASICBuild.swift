import Foundation

/// A C compiler for `wasm32-wasi` with a WASI C library (wasi-libc): for C guests that want
/// `<stdio.h>`, `<string.h>`, `<stdlib.h>` and the rest, where ``GuestToolchain/buildC(sources:output:includeDirectories:exports:optimize:strip:)``
/// builds freestanding.
///
/// The module is built in WASI's reactor model: it exports `_initialize`, which Jester calls
/// once per instance before anything else (so C constructors run), and imports only the WASI
/// preview 1 functions the C library parts it uses need (none for string functions, `malloc`
/// and `snprintf`; `fd_write` and a few more for `printf`). Jester provides WASI preview 1 to
/// every plugin: stdout and stderr go to the plugin's log; files, the environment, clocks and
/// randomness are refused unless the manifest asks for them and the host grants them.
///
/// The compiler is looked for in this order:
///
/// 1. `JESTER_WASI_CC` (a clang), with the sysroot `JESTER_WASI_SYSROOT` (default `/usr`);
/// 2. a wasi-sdk at `WASI_SDK_PATH` (`bin/clang`, sysroot `share/wasi-sysroot`);
/// 3. Debian's `clang-N` (the newest of 20 down to 14) with `lld-N` and the `wasi-libc` package
///    (sysroot `/usr`, which holds `lib/wasm32-wasi/libc.a`), and `libclang-rt-N-dev-wasm32`
///    for the compiler runtime.
///
/// ```swift
/// let wasi = try WASICToolchain()
/// let result = try wasi.buildC(
///     sources: ["plugin.c"], output: "plugin.wasm", includeDirectories: ["pdk/c"])
/// ```
public struct WASICToolchain: Sendable {
    /// The environment variable that names the clang to use.
    public static let environmentVariable = "JESTER_WASI_CC"
    /// The environment variable that names its WASI sysroot.
    public static let sysrootVariable = "JESTER_WASI_SYSROOT"

    /// The C compiler, which also drives the linker (`wasm-ld`).
    public let clang: String
    /// The WASI sysroot: `include/wasm32-wasi` and `lib/wasm32-wasi` (Debian), or `include` and
    /// `lib/wasm32-wasi` (wasi-sdk).
    public let sysroot: String

    /// Uses the given compiler and sysroot as they are.
    public init(clang: String, sysroot: String) {
        self.clang = clang
        self.sysroot = sysroot
    }

    /// Finds the compiler from this process's environment.
    ///
    /// - Throws: ``GuestBuildError`` naming every place it looked.
    public init() throws(GuestBuildError) {
        try self.init(environment: ProcessInfo.processInfo.environment)
    }

    /// Finds the compiler using `environment` for `JESTER_WASI_CC`, `JESTER_WASI_SYSROOT`,
    /// `WASI_SDK_PATH` and `PATH`.
    ///
    /// - Throws: ``GuestBuildError`` naming every place it looked.
    public init(environment: [String: String]) throws(GuestBuildError) {
        var searched: [String] = []
        if let clang = environment[Self.environmentVariable], !clang.isEmpty {
            let sysroot = environment[Self.sysrootVariable].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr"
            guard FileManager.default.isExecutableFile(atPath: clang), Self.hasLibc(sysroot) else {
                throw .wasiCNotFound(searched: ["\(clang) with sysroot \(sysroot) (\(Self.environmentVariable))"])
            }
            self.init(clang: clang, sysroot: sysroot)
            return
        }
        if let sdk = environment["WASI_SDK_PATH"], !sdk.isEmpty {
            let clang = GuestToolchain.join(sdk, "bin/clang")
            let sysroot = GuestToolchain.join(sdk, "share/wasi-sysroot")
            if FileManager.default.isExecutableFile(atPath: clang), Self.hasLibc(sysroot) {
                self.init(clang: clang, sysroot: sysroot)
                return
            }
            searched.append("\(clang) with sysroot \(sysroot) (WASI_SDK_PATH)")
        }
        let directories = (environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
        for version in (14...20).reversed() {
            guard let directory = directories.first(where: { GuestToolchain.isExecutable($0, "clang-\(version)") }) else { continue }
            let clang = GuestToolchain.join(directory, "clang-\(version)")
            // Debian's clang-N finds wasm-ld-N's binary in its own directory, /usr/lib/llvm-N/bin.
            let linker = "/usr/lib/llvm-\(version)/bin/wasm-ld"
            if Self.hasLibc("/usr"), FileManager.default.isExecutableFile(atPath: linker) {
                self.init(clang: clang, sysroot: "/usr")
                return
            }
            searched.append("\(clang) (needs \(linker) from lld-\(version) and /usr/lib/wasm32-wasi/libc.a from wasi-libc)")
        }
        if searched.isEmpty { searched.append("clang-20 ... clang-14 on PATH and in /usr/bin (none found)") }
        throw .wasiCNotFound(searched: searched)
    }

    /// Compiles and links C `sources` with the C library into the core WebAssembly module
    /// `output`, in one `clang --target=wasm32-wasi -mexec-model=reactor` run. Exports are named
    /// with `export_name` (the C PDK's `JESTER_EXPORT`); the C PDK's allocator is then libc's
    /// `malloc`. Sources compile as `-std=gnu17`, so POSIX functions (`strndup`) are declared.
    ///
    /// - Parameters:
    ///   - sources: The `.c` files.
    ///   - output: Where to write the `.wasm`; its directory is created if needed.
    ///   - includeDirectories: Passed as `-I`, such as ``GuestToolchain/cPDKIncludeDirectory(root:)``.
    ///   - exports: Symbols to export besides those marked `export_name` (`--export=NAME`).
    ///   - optimize: `-Os` and `--strip-debug` when `true` (the default); `-O0 -g` when `false`.
    ///   - strip: `--strip-all` instead of `--strip-debug`.
    /// - Throws: ``GuestBuildError``, with clang's output when it failed.
    public func buildC(
        sources: [String],
        output: String,
        includeDirectories: [String] = [],
        exports: [String] = [],
        optimize: Bool = true,
        strip: Bool = false
    ) throws(GuestBuildError) -> GuestBuildResult {
        try GuestToolchain.checkSources(sources)
        let exportNames = try GuestToolchain.checkedExportNames(exports)
        let outputURL = try GuestToolchain.prepareOutput(output)
        var command = [
            clang, "--target=wasm32-wasi", "--sysroot=\(sysroot)", "-mexec-model=reactor",
            "-std=gnu17", "-Wall", "-Wextra", "-fno-color-diagnostics",
        ]
        command += optimize ? ["-Os"] : ["-O0", "-g"]
        command += includeDirectories.map { "-I\($0)" }
        command += exportNames.map { "-Wl,--export=\($0)" }
        command += ["-Wl,--stack-first", "-Wl,-z,stack-size=\(GuestToolchain.guestStackSize)"]
        if strip {
            command.append("-Wl,--strip-all")
        } else if optimize {
            command.append("-Wl,--strip-debug")
        }
        command += sources + ["-o", outputURL.path]
        let built = try GuestToolchain.run(command, tool: "clang")
        guard built.status == 0 else {
            throw .cCompileFailed(status: built.status, sources: sources.count, output: built.output, hint: Self.hint(built.output))
        }
        return try GuestBuildResult(written: outputURL, toolOutputs: [built.output], commands: [command])
    }

    // MARK: Internals

    static func hasLibc(_ sysroot: String) -> Bool {
        FileManager.default.fileExists(atPath: GuestToolchain.join(sysroot, "lib/wasm32-wasi/libc.a"))
    }

    static func hint(_ output: String) -> String? {
        if output.contains("libclang_rt.builtins-wasm32.a") {
            return "the compiler runtime for wasm32 is missing: install Debian's libclang-rt-N-dev-wasm32 for this clang-N"
        }
        if output.contains("unable to execute command") || output.contains("wasm-ld") && output.contains("not found") {
            return "clang cannot find wasm-ld: install Debian's lld-N for this clang-N"
        }
        return GuestToolchain.cHint(output)
    }
}
