@_spi(WASIPlatform) import WASI

/// The guest called `proc_exit`.
///
/// A call into the guest that ends with `proc_exit(code)` throws this error (the exit is not a
/// trap). ``WASISession/exitCode(of:)`` recognises it, as well as WasmKit's own `WASIExitCode`.
package struct WASIExit: Error, Sendable, CustomStringConvertible {
    /// The exit status the guest passed to `proc_exit`.
    package let code: UInt32

    /// Creates the error for `proc_exit(code)`.
    package init(code: UInt32) {
        self.code = code
    }

    package var description: String {
        "the guest called proc_exit(\(code))"
    }
}

/// A WASI session could not be set up.
package struct JesterWASIError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        case preopenUnavailable
        case setupFailed
    }

    private let code: Code
    /// What failed, where, and what to do about it.
    package let description: String

    private init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    /// A preopened directory could not be opened on the host.
    static func preopenUnavailable(guestPath: String, hostPath: String, reason: String) -> Self {
        Self(
            .preopenUnavailable,
            "cannot preopen host directory '\(hostPath)' as guest path '\(guestPath)': \(reason); "
                + "create the directory or remove the grant"
        )
    }

    /// WasmKit's WASI layer refused the configuration.
    static func setupFailed(_ underlying: any Error) -> Self {
        Self(.setupFailed, "cannot set up WASI for the guest: \(underlying)")
    }
}
