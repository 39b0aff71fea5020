@testable import JesterGateway
import JesterManifest
import Testing

@Suite struct BuiltinRegistryTests {
    @Test func everyBuiltinIsRegisteredOnceWithAValidSchema() throws {
        let names = BuiltinFilters.names
        #expect(Set(names).count == names.count)
        for name in ["headers", "request-id", "cors", "basic-auth", "rate-limit", "compression", "jwt-auth", "timeout", "retry"] {
            #expect(BuiltinFilters.named(name) != nil, "\(name) is not registered")
        }
        for filter in BuiltinFilters.all {
            let schema: JSONSchema
            do {
                schema = try JSONSchema(filter.configSchema)
            } catch {
                Issue.record("\(filter.name): \(error)")
                continue
            }
            #expect(!filter.summary.isEmpty)
            #expect(filter.configSchema["type"] == "object", "\(filter.name)")
            #expect(filter.configSchema["additionalProperties"] == false, "\(filter.name) must reject unknown keys")
            // Every default is valid for its own property: the defaults of an empty table break at
            // most `required`.
            let defaults = schema.applyingDefaults(to: .object([]))
            for violation in schema.validate(defaults) {
                #expect(violation.keyword == "required", "\(filter.name): default \(violation)")
            }
            #expect(!schema.isValid(["no_such_key": 1]), "\(filter.name)")
        }
    }
}
