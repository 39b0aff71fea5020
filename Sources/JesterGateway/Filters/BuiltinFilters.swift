/// The built-in filters, by name. Adding one: write the type (one file under `Builtin/`) and list
/// it here.
public enum BuiltinFilters {
    public static let all: [any BuiltinFilter.Type] = [
        HeadersFilter.self,
        RequestIDFilter.self,
        CORSFilter.self,
        BasicAuthFilter.self,
        RateLimitFilter.self,
        CompressionFilter.self,
        JWTAuthFilter.self,
        TimeoutFilter.self,
        RetryFilter.self,
    ]

    /// The built-in filter called `name`.
    public static func named(_ name: String) -> (any BuiltinFilter.Type)? {
        all.first { $0.name == name }
    }

    /// Every name, for messages and docs.
    public static var names: [String] { all.map { $0.name } }
}
