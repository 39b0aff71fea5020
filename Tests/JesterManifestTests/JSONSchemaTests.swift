import Foundation
import JesterManifest
import Testing

/// The JSON Schema validator against a shared corpus (`Fixtures/json-schema-corpus.json`), whose
/// expected results Python's `jsonschema` (Draft 2020-12) must also give.
@Suite struct JSONSchemaTests {
    static let corpusPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/json-schema-corpus.json").path

    static func corpus() throws -> [JSONValue] {
        let text = try String(contentsOfFile: corpusPath, encoding: .utf8)
        guard case .array(let groups) = try JSONValue.parse(text) else { throw CorpusError() }
        return groups
    }

    struct CorpusError: Error {}

    @Test func agreesWithTheCorpus() throws {
        var cases = 0
        for group in try Self.corpus() {
            let description = group["description"]?.stringValue ?? "?"
            let schema = try JSONSchema(try #require(group["schema"]))
            guard case .array(let tests)? = group["tests"] else { continue }
            for test in tests {
                let data = try #require(test["data"])
                guard let expected = test["valid"]?.boolValue else {
                    Issue.record("\(description): a test without a boolean \"valid\"")
                    continue
                }
                let violations = schema.validate(data)
                #expect(violations.isEmpty == expected, "\(description): \(data.serialized()) → \(violations)")
                cases += 1
            }
        }
        #expect(cases > 100)
    }

    @Test func pythonJSONSchemaAgreesWithTheCorpus() throws {
        let script = """
            import json, sys
            from jsonschema import Draft202012Validator
            groups = json.load(open(sys.argv[1]))
            wrong = []
            for group in groups:
                validator = Draft202012Validator(group["schema"])
                for test in group["tests"]:
                    if validator.is_valid(test["data"]) != test["valid"]:
                        wrong.append(group["description"] + ": " + json.dumps(test["data"]))
            print(json.dumps(wrong))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, Self.corpusPath]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus != 0, ProcessInfo.processInfo.environment["CI"] != "true", errors.contains("ModuleNotFoundError") {
            try Test.cancel("Python's jsonschema is not installed (pip install jsonschema); CI installs it")
        }
        #expect(process.terminationStatus == 0, "\(errors)")
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "Python's jsonschema disagrees with the corpus: \(output)")
    }

    @Test func violationsNameThePathAndTheKeyword() throws {
        let schema = try JSONSchema(try JSONValue.parse(#"{"type": "object", "required": ["aud"], "properties": {"hosts": {"type": "array", "items": {"type": "string"}}}, "additionalProperties": false}"#))
        let violations = schema.validate(try JSONValue.parse(#"{"hosts": ["a", 2], "extra": 1}"#))
        #expect(violations.map(\.description).sorted() == [
            #"$.extra: unknown property "extra""#,
            #"$.hosts[1]: must be string, found a number"#,
            #"$: missing required property "aud""#,
        ].sorted())
        #expect(Set(violations.map(\.keyword)) == ["required", "type", "additionalProperties"])
    }

    @Test func unsupportedKeywordsAndBadSchemasAreRefused() throws {
        for (text, path) in [
            (##"{"$ref": "#/$defs/x"}"##, "$.$ref"),
            (#"{"properties": {"a": {"if": {}}}}"#, "$.properties.a.if"),
            (#"{"type": "text"}"#, "$.type"),
            (#"{"minLength": -1}"#, "$.minLength"),
            (#"{"pattern": "("}"#, "$.pattern"),
            (#"{"anyOf": []}"#, "$.anyOf"),
            ("3", "$"),
        ] {
            #expect(throws: JSONSchemaError.self) { try JSONSchema(try JSONValue.parse(text)) }
            do {
                _ = try JSONSchema(try JSONValue.parse(text))
            } catch let error as JSONSchemaError {
                #expect(error.path == path, "\(text): \(error)")
            }
        }
    }

    @Test func defaultsFillAbsentProperties() throws {
        let schema = try JSONSchema(try JSONValue.parse(#"{"properties": {"key": {"default": "ip"}, "burst": {"default": 10}, "nested": {"properties": {"on": {"default": true}}}}}"#))
        let filled = schema.applyingDefaults(to: try JSONValue.parse(#"{"burst": 20, "nested": {}}"#))
        #expect(filled["key"] == .string("ip"))
        #expect(filled["burst"] == .integer(20))
        #expect(filled["nested"]?["on"] == .bool(true))
    }
}
