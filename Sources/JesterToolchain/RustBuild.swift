import Foundation

/// A `rustc` that can build guest plugins: one whose sysroot holds the standard library for
/// `wasm32-unknown-unknown`. Jester builds Rust plugins with plain `rustc` (no cargo, no
/// crates.io): the PDK (`pdk/rust`) as an rlib, then the plugin crate as a `cdylib` against it.
///
/// A machine often has several `rustc`s (rustup's on `PATH`, the distribution's in `/usr/bin`),
/// and only some have the wasm32 target. The first one in this order that has it wins:
///
/// 1. `JESTER_RUSTC` (a `rustc` path, or the directory holding one): used as it is, and an
///    error if it lacks the target;
/// 2. every `rustc` on `PATH`, in order;
/// 3. `/usr/bin/rustc` (Debian's `rustc` with `libstd-rust-dev-wasm32`), then
///    `~/.cargo/bin/rustc`.
///
/// The PDK and the plugins it builds stay within Rust 1.63 (Debian 12's `rustc`).
///
/// ```swift
/// let rust = try RustToolchain()
/// let result = try rust.buildRust(
///     crateRoot: "my-plugin/src/lib.rs", pdkSource: "pdk/rust/src/lib.rs",
///     output: "my-plugin/my-plugin.wasm", crateName: "my_plugin")
/// ```
public struct RustToolchain: Sendable {
    /// The environment variable that names the `rustc` to use.
    public static let environmentVariable = "JESTER_RUSTC"

    /// The target guests are built for: no WASI imports, std's allocator and panic=abort.
    public static let target = "wasm32-unknown-unknown"

    /// The compiler.
    public let rustc: String
    /// What `rustc --version` printed (`rustc 1.63.0`).
    public let version: String
    /// Its sysroot, which holds `lib/rustlib/wasm32-unknown-unknown`.
    public let sysroot: String

    /// Checks `rustc` and uses it.
    ///
    /// - Throws: ``GuestBuildError`` when it cannot run or has no `wasm32-unknown-unknown` std.
    public init(rustc: String) throws(GuestBuildError) {
        let probe = Self.probe(rustc)
        guard let probe, probe.hasTarget else {
            throw .rustNotFound(candidates: [Self.describe(rustc, probe)])
        }
        self.init(rustc: rustc, probe: probe)
    }

    private init(rustc: String, probe: Probe) {
        self.rustc = rustc
        self.version = probe.version
        self.sysroot = probe.sysroot
    }

    /// Finds a `rustc` with the wasm32 target from this process's environment.
    ///
    /// - Throws: ``GuestBuildError`` listing every `rustc` found and why none fits.
    public init() throws(GuestBuildError) {
        try self.init(environment: ProcessInfo.processInfo.environment)
    }

    /// Finds a `rustc` with the wasm32 target using `environment` for `JESTER_RUSTC`, `PATH` and
    /// `HOME`.
    ///
    /// - Throws: ``GuestBuildError`` listing every `rustc` found and why none fits.
    public init(environment: [String: String]) throws(GuestBuildError) {
        if let chosen = environment[Self.environmentVariable], !chosen.isEmpty {
            try self.init(rustc: GuestToolchain.isDirectory(chosen) ? GuestToolchain.join(chosen, "rustc") : chosen)
            return
        }
        var seen: [String] = []
        for candidate in Self.candidates(environment: environment) {
            let probe = Self.probe(candidate)
            if let probe, probe.hasTarget {
                self.init(rustc: candidate, probe: probe)
                return
            }
            seen.append(Self.describe(candidate, probe))
        }
        throw .rustNotFound(candidates: seen)
    }

    /// The PDK crate root in a checkout of the Jester repository (`root/pdk/rust/src/lib.rs`),
    /// or `nil` when `root` has none.
    public static func rustPDKSource(root: String) -> String? {
        let path = GuestToolchain.join(root, "pdk/rust/src/lib.rs")
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The crate root of a Rust plugin directory: `src/lib.rs`, else `lib.rs`; `nil` when it
    /// has neither.
    public static func crateRoot(ofPluginDirectory directory: String) -> String? {
        ["src/lib.rs", "lib.rs"].map { GuestToolchain.join(directory, $0) }
            .first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Builds the plugin crate at `crateRoot` into the core WebAssembly module `output`.
    ///
    /// Runs two `rustc`s for `wasm32-unknown-unknown` with `-C panic=abort`: the PDK as the
    /// rlib `jester_pdk`, then the plugin as a `cdylib` with `--extern jester_pdk=...`,
    /// `-C lto -C codegen-units=1` when optimising, the stack first and 128 KiB of it. The
    /// plugin names its exports with the PDK's macros (`jester_pdk::handler!`,
    /// `jester_pdk::http_filter!`), which use `export_name`, so nothing needs `--export`.
    ///
    /// - Parameters:
    ///   - crateRoot: The plugin's `lib.rs`.
    ///   - pdkSource: The PDK's `lib.rs` (``rustPDKSource(root:)``), or `nil` for a crate that
    ///     does without it.
    ///   - output: Where to write the `.wasm`; its directory is created if needed.
    ///   - crateName: The plugin crate's name, a Rust identifier (`my_plugin`).
    ///   - edition: The plugin crate's edition (the PDK is 2021).
    ///   - optimize: `-C opt-level=s -C lto` when `true` (the default); `-C opt-level=0 -g` when
    ///     `false`.
    ///   - strip: `-C strip=symbols` (no name section either); otherwise debug info only is
    ///     stripped when optimising.
    /// - Throws: ``GuestBuildError``, with rustc's output when it failed.
    public func buildRust(
        crateRoot: String,
        pdkSource: String?,
        output: String,
        crateName: String,
        edition: String = "2021",
        optimize: Bool = true,
        strip: Bool = false
    ) throws(GuestBuildError) -> GuestBuildResult {
        try GuestToolchain.checkSources([crateRoot] + (pdkSource.map { [$0] } ?? []))
        guard Self.isIdentifier(crateName) else { throw .invalidCrateName(crateName) }
        let scratch = try GuestToolchain.makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }

        var commands: [[String]] = []
        var diagnostics: [String] = []
        var externs: [String] = []
        if let pdkSource {
            let rlib = scratch.appendingPathComponent("libjester_pdk.rlib").path
            let compile =
                [rustc] + Self.commonArguments(edition: "2021", optimize: optimize)
                + ["--crate-type", "rlib", "--crate-name", "jester_pdk", pdkSource, "-o", rlib]
            let compiled = try GuestToolchain.run(compile, tool: "rustc")
            commands.append(compile)
            diagnostics.append(compiled.output)
            guard compiled.status == 0 else {
                throw .rustCompileFailed(status: compiled.status, crateRoot: pdkSource, output: compiled.output, hint: nil)
            }
            externs = ["--extern", "jester_pdk=\(rlib)", "-L", "dependency=\(scratch.path)"]
        }

        let outputURL = try GuestToolchain.prepareOutput(output)
        var link = [rustc] + Self.commonArguments(edition: edition, optimize: optimize)
        link += ["--crate-type", "cdylib", "--crate-name", crateName]
        if optimize { link += ["-C", "lto", "-C", "codegen-units=1"] }
        if strip {
            link += ["-C", "strip=symbols"]
        } else if optimize {
            link += ["-C", "strip=debuginfo"]
        }
        link += [
            "-C", "link-arg=--stack-first",
            "-C", "link-arg=-zstack-size=\(GuestToolchain.guestStackSize)",
        ]
        // Panic messages name the source relative to the plugin (./src/lib.rs), not the build
        // machine's path.
        var pluginDirectory = URL(fileURLWithPath: crateRoot).standardizedFileURL.deletingLastPathComponent()
        if pluginDirectory.lastPathComponent == "src" { pluginDirectory.deleteLastPathComponent() }
        link += ["--remap-path-prefix", "\(pluginDirectory.path)=."]
        link += externs + [crateRoot, "-o", outputURL.path]
        let linked = try GuestToolchain.run(link, tool: "rustc")
        commands.append(link)
        diagnostics.append(linked.output)
        guard linked.status == 0 else {
            throw .rustCompileFailed(status: linked.status, crateRoot: crateRoot, output: linked.output, hint: Self.hint(linked.output))
        }
        return try GuestBuildResult(written: outputURL, toolOutputs: diagnostics, commands: commands)
    }

    // MARK: Internals

    struct Probe {
        var version: String
        var sysroot: String
        var hasTarget: Bool
    }

    /// `rustc` arguments both crates share.
    static func commonArguments(edition: String, optimize: Bool) -> [String] {
        var arguments = ["--edition", edition, "--target", target, "-C", "panic=abort", "--color", "never"]
        arguments += optimize ? ["-C", "opt-level=s"] : ["-C", "opt-level=0", "-g"]
        return arguments
    }

    /// The `rustc`s to try, in order, without duplicates (by path).
    static func candidates(environment: [String: String]) -> [String] {
        var result: [String] = []
        func add(_ path: String) {
            if FileManager.default.isExecutableFile(atPath: path), !GuestToolchain.isDirectory(path), !result.contains(path) {
                result.append(path)
            }
        }
        for entry in (environment["PATH"] ?? "").split(separator: ":") where !entry.isEmpty {
            add(GuestToolchain.join(String(entry), "rustc"))
        }
        add("/usr/bin/rustc")
        if let home = environment["HOME"], !home.isEmpty { add(GuestToolchain.join(home, ".cargo/bin/rustc")) }
        return result
    }

    /// Asks `rustc` for its version and sysroot; `nil` when it does not run.
    static func probe(_ rustc: String) -> Probe? {
        guard FileManager.default.isExecutableFile(atPath: rustc),
            let version = try? GuestToolchain.run([rustc, "--version"], tool: "rustc"), version.status == 0,
            let sysroot = try? GuestToolchain.run([rustc, "--print", "sysroot"], tool: "rustc"), sysroot.status == 0
        else { return nil }
        let root = sysroot.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let library = GuestToolchain.join(root, "lib/rustlib/\(target)/lib")
        return Probe(
            version: version.output.trimmingCharacters(in: .whitespacesAndNewlines),
            sysroot: root,
            hasTarget: GuestToolchain.isDirectory(library)
        )
    }

    static func describe(_ rustc: String, _ probe: Probe?) -> String {
        guard let probe else { return "\(rustc) (does not run)" }
        return "\(rustc) (\(probe.version), no \(target) in \(probe.sysroot)/lib/rustlib)"
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first)
        else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    /// A Rust identifier made from a plugin id (`redact-json` → `redact_json`).
    public static func crateName(forPluginID id: String) -> String {
        var name = String(id.unicodeScalars.map { scalar -> Character in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) ? Character(scalar) : "_"
        })
        if name.isEmpty || name.first?.isNumber == true { name = "plugin_" + name }
        return name
    }

    static func hint(_ output: String) -> String? {
        if output.contains("can't find crate for `jester_pdk`") || output.contains("unresolved import `jester_pdk") {
            return "the plugin uses jester_pdk: build it with the PDK (pdk/rust/src/lib.rs) as pdkSource"
        }
        if output.contains("can't find crate for `std`") || output.contains("can't find crate for `core`") {
            return "this rustc has no standard library for \(target): install libstd-rust-dev-wasm32 or `rustup target add \(target)`"
        }
        if output.contains("linker `rust-lld` not found") || output.contains("linker `lld` not found") {
            return "rustc needs its WebAssembly linker: install Debian's lld (or rustup's rust-lld)"
        }
        return nil
    }
}
