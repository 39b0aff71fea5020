/// Cryptographically secure random bytes from the host. Needs `"random": true` in the
/// manifest and a grant from the host.
///
/// ```swift
/// guard let nonce = Random.bytes(count: 16) else { throw PluginFailure("no randomness") }
/// ```
public enum Random {
    /// The most bytes one host call returns.
    public static let maximumCount = 65_536

    /// `count` random bytes (at most ``maximumCount``), or `nil` when the host refuses.
    public static func bytes(count: Int) -> [UInt8]? {
        try? bytesResult(count: count).get()
    }

    /// `count` random bytes, or the host's error: `permissionDenied` without the `random`
    /// permission, `invalidArgument` for more than ``maximumCount``.
    public static func bytesResult(count: Int) -> Result<[UInt8], HostError> {
        guard count >= 0, count <= UInt32.max else { return .failure(.invalidArgument) }
        // result<list<u8>, error-code>: discriminant at +0; ok: list pointer at +4, length at +8;
        // err: code at +4. The host allocated the list with cabi_realloc; it is ours to free.
        return ABI.withReturnArea(byteCount: 12, alignment: 4) { area in
            _jesterRandomGetBytes(UInt32(count), area)
            if ABI.load8(area) == 0 {
                return .success(ABI.takeBytes(ABI.load32(area, 4), ABI.load32(area, 8)))
            }
            return .failure(HostError(rawValue: ABI.load8(area, 4)))
        }
    }
}
