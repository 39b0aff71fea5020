import JesterManifest

// TEMPORARY until the dylib tier lands (replaced by the real loader in this session).
final class DylibFilter: GatewayFilter {
    static func load(path: String, config: JSONValue, label: String) throws -> DylibFilter {
        throw FilterFailure("dylib filters are not available in this build")
    }
}
