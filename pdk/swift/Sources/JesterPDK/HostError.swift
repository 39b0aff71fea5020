/// Why a host call failed: the `error-code` of `wit/jester.wit`.
///
/// The set of codes may grow in later ABI versions, so this is a struct with static members
/// rather than an enum; compare with `==`.
///
/// ```swift
/// switch Clock.wallNowResult() {
/// case .success(let nanoseconds): Log.info("now: \(nanoseconds)")
/// case .failure(let error) where error == .permissionDenied: Log.warn("add \"clock\": true to plugin.json")
/// case .failure(let error): Log.error("clock failed: \(error)")
/// }
/// ```
public struct HostError: Error, Equatable, CustomStringConvertible {
    /// The code as it crosses the ABI.
    public let rawValue: UInt8

    /// Wraps a raw `error-code` value.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The manifest did not ask for this capability, or the host did not grant it.
    public static let permissionDenied = HostError(rawValue: 0)
    /// An argument was out of range (for example a length over the documented maximum).
    public static let invalidArgument = HostError(rawValue: 1)
    /// The thing asked for does not exist.
    public static let notFound = HostError(rawValue: 2)
    /// A quota or size limit of the plugin was reached.
    public static let limitExceeded = HostError(rawValue: 3)
    /// The host does not offer this capability right now.
    public static let unavailable = HostError(rawValue: 4)
    /// The host failed; the message is in the host's log.
    public static let `internal` = HostError(rawValue: 5)

    /// The WIT name of the code, such as `permission-denied`.
    public var description: String {
        switch rawValue {
        case 0: return "permission-denied"
        case 1: return "invalid-argument"
        case 2: return "not-found"
        case 3: return "limit-exceeded"
        case 4: return "unavailable"
        case 5: return "internal"
        default: return "error-code \(rawValue)"
        }
    }
}
