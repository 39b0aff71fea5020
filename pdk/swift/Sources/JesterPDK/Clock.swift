/// Clocks, in nanoseconds. Needs `"clock": true` in the manifest and a grant from the host.
///
/// ```swift
/// if let start = Clock.monotonicNow() { ... }
/// ```
public enum Clock {
    /// Wall-clock time in nanoseconds since the Unix epoch, or `nil` when the host refuses
    /// (see ``wallNowResult()`` for why).
    public static func wallNow() -> UInt64? {
        try? wallNowResult().get()
    }

    /// A monotonic clock in nanoseconds from an arbitrary start, or `nil` when the host
    /// refuses. Only differences are meaningful.
    public static func monotonicNow() -> UInt64? {
        try? monotonicNowResult().get()
    }

    /// Wall-clock time, or the host's error (`permissionDenied` without the `clock` permission).
    public static func wallNowResult() -> Result<UInt64, HostError> {
        read(_jesterClockWallNow)
    }

    /// Monotonic time, or the host's error (`permissionDenied` without the `clock` permission).
    public static func monotonicNowResult() -> Result<UInt64, HostError> {
        read(_jesterClockMonotonicNow)
    }

    /// Calls a clock import and lifts its `result<u64, error-code>`: discriminant at +0,
    /// `u64` or error code at +8, in a 16-byte, 8-aligned area.
    private static func read(_ clock: (UInt32) -> Void) -> Result<UInt64, HostError> {
        ABI.withReturnArea(byteCount: 16, alignment: 8) { area in
            clock(area)
            if ABI.load8(area) == 0 {
                return .success(ABI.load64(area, 8))
            }
            return .failure(HostError(rawValue: ABI.load8(area, 8)))
        }
    }
}
