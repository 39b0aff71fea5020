import JesterManifest
import Testing

private func canonical(_ text: String) throws -> String {
    String(decoding: try JSONValue.parse(text).canonicalForm(), as: UTF8.self)
}

@Suite struct CanonicalFormTests {
    @Test func sortsKeysAndDropsWhitespace() throws {
        #expect(try canonical(#"{ "b": [1, {"z": null, "a": false}], "a": "x" }"#) == #"{"a":"x","b":[1,{"a":false,"z":null}]}"#)
        // The same document written another way has the same canonical form.
        let one = try canonical("{\"id\":\"p\",\n  \"limits\": {\"fuel\": 10, \"timeout_ms\": 5}}")
        let two = try canonical(#"{"limits":{"timeout_ms":5,"fuel":10},"id":"p"}"#)
        #expect(one == two)
    }

    /// RFC 8785 §3.2.3: keys sort by UTF-16 code units, so U+1F600 (a surrogate pair, D83D DE00)
    /// comes before U+FB33, although its UTF-8 bytes sort after.
    @Test func sortsKeysByUTF16CodeUnits() throws {
        let text = #"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#
        let keys = try canonical(text).split(separator: ",").map { $0.split(separator: ":")[0] }
        #expect(keys.map { String($0) } == ["{\"\\r\"", "\"1\"", "\"\u{80}\"", "\"ö\"", "\"€\"", "\"😀\"", "\"דּ\""])
    }

    @Test func escapesOnlyWhatJSONRequires() throws {
        let value = JSONValue.string("q\"b\\ \u{08}\u{0C}\n\r\t \u{01}\u{1F} / é € \u{7F}")
        #expect(String(decoding: try value.canonicalForm(), as: UTF8.self) == #""q\"b\\ \b\f\n\r\t \u0001\u001f / é € \#u{7F}""#)
    }

    /// Numbers as ECMAScript writes them; the vectors are RFC 8785 Appendix B's.
    @Test(arguments: [
        (0x0000_0000_0000_0000, "0"), (0x8000_0000_0000_0000, "0"), (0x0000_0000_0000_0001, "5e-324"),
        (0x8000_0000_0000_0001, "-5e-324"), (0x7FEF_FFFF_FFFF_FFFF, "1.7976931348623157e+308"),
        (0x4340_0000_0000_0000, "9007199254740992"), (0x4430_0000_0000_0000, "295147905179352830000"),
        (0x44B5_2D02_C7E1_4AF5, "9.999999999999997e+22"), (0x44B5_2D02_C7E1_4AF6, "1e+23"),
        (0x444B_1AE4_D6E2_EF4F, "999999999999999900000"), (0x444B_1AE4_D6E2_EF50, "1e+21"),
        (0x3EB0_C6F7_A0B5_ED8C, "9.999999999999997e-7"), (0x3EB0_C6F7_A0B5_ED8D, "0.000001"),
        (0x41B3_DE43_5555_5553, "333333333.3333332"), (0x41B3_DE43_5555_5554, "333333333.33333325"),
        (0xBECB_F647_612F_3696, "-0.0000033333333333333333"), (0x4314_3FF3_C1CB_0959, "1424953923781206.2"),
    ] as [(UInt64, String)])
    func writesNumbersAsECMAScriptDoes(bits: UInt64, expected: String) throws {
        let value = JSONValue.double(Double(bitPattern: bits))
        #expect(String(decoding: try value.canonicalForm(), as: UTF8.self) == expected)
    }

    @Test func integersAndIntegralDoublesAgree() throws {
        #expect(try canonical("[1.0, 100, 1e2, -0.0, 0.5, 1E-7, 12345678901234567890123]") == "[1,100,100,0,0.5,1e-7,1.2345678901234568e+22]")
    }

    @Test func refusesIntegersItCannotWriteExactly() throws {
        let error = try #require(throws: ManifestError.self) {
            try JSONValue.parse(#"{"limits": {"fuel": 9007199254740993}}"#).canonicalForm()
        }
        #expect(error.issues.map(\.path) == ["$.limits.fuel"])
        #expect(try canonical(#"{"fuel": 9007199254740992}"#) == #"{"fuel":9007199254740992}"#)
    }

    @Test func manifestCanonicalFormLeavesOutOnlyTheTopLevelSignature() throws {
        let json = try JSONValue.parse(#"""
            {"id": "p", "version": "1.0.0", "signature": {"public_key": "aa", "value": "bb"},
             "config_schema": {"properties": {"signature": {"type": "string"}}}}
            """#)
        let form = String(decoding: try PluginManifest.canonicalForm(of: json), as: UTF8.self)
        #expect(form == #"{"config_schema":{"properties":{"signature":{"type":"string"}}},"id":"p","version":"1.0.0"}"#)
    }

    @Test func signedMessageIsPrefixHashAndCanonicalManifest() throws {
        let json = try JSONValue.parse(#"{"version": "1.0.0", "id": "p"}"#)
        let hash = String(repeating: "ab", count: 32)
        let message = String(decoding: try PluginManifest.signedMessage(manifest: json, moduleSHA256: hash), as: UTF8.self)
        #expect(message == "jester-plugin-signature-v1\n\(hash)\n{\"id\":\"p\",\"version\":\"1.0.0\"}")
    }

    @Test func decodedManifestKeepsItsSource() throws {
        let text = #"{"id": "p", "version": "1.0.0", "limits": {"fuel": 10}}"#
        let manifest = try PluginManifest.decode(json: text)
        #expect(manifest.source == (try JSONValue.parse(text)))
        #expect(PluginManifest(id: "p").source == nil)
    }

    @Test func malformedSignatureIsReportedWithItsPath() throws {
        let error = try #require(throws: ManifestError.self) {
            try PluginManifest.decode(json: #"{"id": "p", "version": "1.0.0", "signature": {"public_key": "AB", "value": "zz"}}"#)
        }
        #expect(error.issues.map(\.path) == ["$.signature.public_key", "$.signature.value"])
    }
}
