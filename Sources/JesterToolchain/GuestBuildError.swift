/// Why a guest build failed: a tool is missing, an input is wrong, or a tool reported errors.
///
/// The ``description`` says what failed, where, and what to do; ``toolOutput`` holds what the
/// compiler or linker printed, when one ran.
public struct GuestBuildError: Error, CustomStringConvertible, Sendable {
    private enum Code: Sendable {
        case toolNotFound
        case noSources
        case sourceNotFound
        case invalidExport
        case launchFailed
        case compileFailed
        case linkFailed
        case outputFailed
    }

    private let code: Code
    private let message: String

    /// What the failing tool printed (its standard error and output), or empty when no tool
    /// ran.
    public let toolOutput: String

    private init(_ code: Code, _ message: String, toolOutput: String = "") {
        self.code = code
        self.message = message
        self.toolOutput = toolOutput
    }

    /// Whether the build stopped because a tool (swiftc, wasm-ld, clang, or rustc with the wasm32
    /// target) was not found.
    public var isToolMissing: Bool { code == .toolNotFound }

    /// Whether the compiler or linker ran and rejected the input; ``toolOutput`` says why.
    public var isToolFailure: Bool { code == .compileFailed || code == .linkFailed }

    /// What failed, where, and what to do, followed by the tool's output when there is one.
    public var description: String {
        toolOutput.isEmpty ? message : "\(message)\n\(toolOutput)"
    }

    static func toolNotFound(_ tool: String, searched: [String]) -> GuestBuildError {
        let places = searched.isEmpty ? "(nowhere: no candidate directories)" : searched.joined(separator: ", ")
        return GuestBuildError(
            .toolNotFound,
            "\(tool) not found; looked in \(places). Install Swift 6.3 from swift.org (its toolchain has "
                + "swiftc, wasm-ld, clang and the Embedded Swift library for wasm32), or set "
                + "\(GuestToolchain.environmentVariable) to the toolchain's directory (the one holding usr/bin/swiftc)."
        )
    }

    static func rustNotFound(candidates: [String]) -> GuestBuildError {
        let found = candidates.isEmpty ? "no rustc was found" : "found " + candidates.joined(separator: "; ")
        return GuestBuildError(
            .toolNotFound,
            "no rustc with the \(RustToolchain.target) standard library: \(found). Install Debian's rustc and "
                + "libstd-rust-dev-wasm32 (apt-get install rustc libstd-rust-dev-wasm32), or run "
                + "`rustup target add \(RustToolchain.target)`, or set \(RustToolchain.environmentVariable) to a rustc that has it."
        )
    }

    static func wasiCNotFound(searched: [String]) -> GuestBuildError {
        let places = searched.isEmpty ? "nothing" : searched.joined(separator: "; ")
        return GuestBuildError(
            .toolNotFound,
            "no clang for wasm32-wasi with wasi-libc; looked at \(places). Install Debian's clang-14, lld-14, wasi-libc "
                + "and libclang-rt-14-dev-wasm32, or set WASI_SDK_PATH to a wasi-sdk, or set "
                + "\(WASICToolchain.environmentVariable) (a clang) and \(WASICToolchain.sysrootVariable) (its WASI sysroot)."
        )
    }

    static func noSources() -> GuestBuildError {
        GuestBuildError(
            .noSources,
            "no source files to build: pass the plugin's .swift files and the PDK's "
                + "(GuestToolchain.swiftPDKSources(root:exports:) lists them)"
        )
    }

    static func sourceNotFound(_ path: String) -> GuestBuildError {
        GuestBuildError(.sourceNotFound, "source file not found: \(path)")
    }

    static func invalidExport(_ name: String) -> GuestBuildError {
        GuestBuildError(
            .invalidExport,
            "invalid export name \"\(name)\": use the core function name, such as handle (no spaces, commas or '=')"
        )
    }

    static func invalidCrateName(_ name: String) -> GuestBuildError {
        GuestBuildError(
            .invalidExport,
            "invalid crate name \"\(name)\": use a Rust identifier (letters, digits and _), such as my_plugin "
                + "(RustToolchain.crateName(forPluginID:) makes one from a plugin id)"
        )
    }

    static func launchFailed(_ tool: String, path: String, reason: String) -> GuestBuildError {
        GuestBuildError(
            .launchFailed,
            "could not run \(tool) at \(path): \(reason). Check that the file is an executable of this "
                + "platform, or point \(GuestToolchain.environmentVariable) at a working Swift 6.3 toolchain."
        )
    }

    static func compileFailed(status: Int32, sources: Int, output: String, hint: String?) -> GuestBuildError {
        var message = "swiftc failed (exit \(status)) compiling \(sources) Embedded Swift source file(s)"
        if let hint { message += "; \(hint)" }
        return GuestBuildError(.compileFailed, message + ":", toolOutput: output)
    }

    static func cCompileFailed(status: Int32, sources: Int, output: String, hint: String?) -> GuestBuildError {
        var message = "clang failed (exit \(status)) building \(sources) C source file(s) for wasm32"
        if let hint { message += "; \(hint)" }
        return GuestBuildError(.compileFailed, message + ":", toolOutput: output)
    }

    static func rustCompileFailed(status: Int32, crateRoot: String, output: String, hint: String?) -> GuestBuildError {
        var message = "rustc failed (exit \(status)) building \(crateRoot) for \(RustToolchain.target)"
        if let hint { message += "; \(hint)" }
        return GuestBuildError(.compileFailed, message + ":", toolOutput: output)
    }

    static func linkFailed(status: Int32, output: String, hint: String?) -> GuestBuildError {
        var message = "wasm-ld failed (exit \(status))"
        if let hint { message += "; \(hint)" }
        return GuestBuildError(.linkFailed, message + ":", toolOutput: output)
    }

    static func outputFailed(_ path: String, reason: String) -> GuestBuildError {
        GuestBuildError(.outputFailed, "cannot write \(path): \(reason)")
    }
}
