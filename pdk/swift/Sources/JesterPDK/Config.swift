/// The configuration of this use of the plugin: a route's `config` table, or
/// `jester plugin call --config key=value`. Always allowed.
///
/// ```swift
/// let greeting = Config.get("greeting") ?? "Hello"
/// ```
public enum Config {
    /// The value of `key`, or `nil` when it is not set.
    public static func get(_ key: String) -> String? {
        // option<string>: discriminant at +0 (0 none, 1 some); string pointer at +4, length at +8.
        ABI.withUTF8(key) { keyAddress, keyCount in
            ABI.withReturnArea(byteCount: 12, alignment: 4) { area in
                _jesterConfigGet(keyAddress, keyCount, area)
                guard ABI.load8(area) == 1 else { return nil }
                return ABI.takeString(ABI.load32(area, 4), ABI.load32(area, 8))
            }
        }
    }

    /// Every key that is set, in no particular order.
    public static func keys() -> [String] {
        ABI.withReturnArea(byteCount: 8, alignment: 4) { area in
            _jesterConfigKeys(area)
            return ABI.takeStringList(area)
        }
    }
}
