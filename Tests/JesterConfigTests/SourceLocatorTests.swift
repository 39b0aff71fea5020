import JesterConfig
import Testing

@Suite struct SourceLocatorTests {
    static let document = #"""
        # [not.a.table] = "in a comment"
        title = "a # not a comment [x]"  # trailing [comment]
        multi = """
        fake = "inside a multi-line string"
        [[also.fake]]
        """
        literal = '''
        [fake]
        '''
        quoted."dotted.key" = 'its'
        a.b.c = 1

        [[routes]]
        name = "first"
        [routes.matchers]
        hosts = [
          "a.example.com",   # a comment in an array
          # a comment line
          "b.example.com",
        ]
        headers = [{ name = "x", value = "}" }, { name = "y", present = true }]

        [[routes]]
        name = "second"
        [[routes.filters]]
        type = "one"
        [[routes.filters]]
        type = "two"
        [routes.upstream]
        targets = ["http://a", "http://b"]

        [upstreams."api.v1"]
        targets = [
          "http://c",
        ]
        [ spaced . header ]
        x = 1979-05-27 07:32:00Z
        y = { z = [1, 2], w = { v = "[" } }
        """#

    let locator = SourceLocator(text: Self.document)

    func line(_ components: [ConfigKeyPath.Component]) -> Int? {
        locator.position(of: ConfigKeyPath(components))?.line
    }

    @Test func stringsAndCommentsHideNothingAndInventNothing() {
        #expect(line([.key("title")]) == 2)
        #expect(line([.key("multi")]) == 3)
        #expect(line([.key("literal")]) == 7)
        #expect(line([.key("quoted"), .key("dotted.key")]) == 10)
        #expect(line([.key("a"), .key("b"), .key("c")]) == 11)
        #expect(line([.key("a")]) == 11)
        #expect(line([.key("fake")]) == nil)
        #expect(line([.key("also")]) == nil)
        #expect(line([.key("not")]) == nil)
    }

    @Test func arraysOfTablesAreNumbered() {
        #expect(line([.key("routes"), .index(0)]) == 13)
        #expect(line([.key("routes"), .index(0), .key("name")]) == 14)
        #expect(line([.key("routes"), .index(0), .key("matchers")]) == 15)
        #expect(line([.key("routes"), .index(0), .key("matchers"), .key("hosts"), .index(0)]) == 17)
        #expect(line([.key("routes"), .index(0), .key("matchers"), .key("hosts"), .index(1)]) == 19)
        #expect(line([.key("routes"), .index(0), .key("matchers"), .key("headers"), .index(1), .key("present")]) == 21)
        #expect(line([.key("routes"), .index(1)]) == 23)
        #expect(line([.key("routes"), .index(1), .key("filters"), .index(0), .key("type")]) == 26)
        #expect(line([.key("routes"), .index(1), .key("filters"), .index(1), .key("type")]) == 28)
        #expect(line([.key("routes"), .index(1), .key("upstream"), .key("targets"), .index(1)]) == 30)
    }

    @Test func quotedSpacedAndInlineKeys() {
        #expect(line([.key("upstreams"), .key("api.v1")]) == 32)
        #expect(line([.key("upstreams"), .key("api.v1"), .key("targets"), .index(0)]) == 34)
        #expect(line([.key("spaced"), .key("header"), .key("x")]) == 37)
        #expect(line([.key("spaced"), .key("header"), .key("y"), .key("w"), .key("v")]) == 38)
        #expect(
            ConfigKeyPath([.key("upstreams"), .key("api.v1"), .key("targets"), .index(0)]).description
                == #"upstreams."api.v1".targets[0]"#
        )
    }

    @Test func locatedTreeKeepsWrittenOrder() throws {
        let node = try ConfigNode.parse("zeta = 1\nalpha = 2\n[mid]\nb = 1\na = 2", file: "x.toml").get()
        #expect(node.table?.keys == ["zeta", "alpha", "mid"])
        #expect(node.table?["mid"]?.table?.keys == ["b", "a"])
        #expect(node.table?["mid"]?.table?["a"]?.location.line == 5)
        #expect(node.table?["mid"]?.table?["a"]?.path.description == "mid.a")
    }

    @Test func byteOrderMarkAndCRLF() throws {
        let text = "\u{FEFF}# comment\r\n[listeners]\r\nbind = \":1\"\r\n\r\n[[routes]]\r\nname = \"a\"\r\n"
        let node = try ConfigNode.parse(text, file: "x.toml").get()
        #expect(node.table?["listeners"]?.table?["bind"]?.location.line == 3)
        #expect(node.table?["routes"]?.array?.first?.table?["name"]?.location.line == 6)
    }
}
