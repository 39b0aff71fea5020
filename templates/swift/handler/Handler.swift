// my-handler: answers a gateway route in Embedded Swift. The gateway passes the request body as
// the input and sends the output back as the response body.
//
//   jester plugin build && jester plugin test
//   jester plugin call . --input 'one two three'     # {"bytes":13,"words":3,"lines":0}
//
// In a gateway config:
//   [[routes]]
//   name = "count"
//   matchers = { path_prefix = "/count" }
//   handler = { plugin = "path/to/my-handler", headers = { "content-type" = "application/json" } }

extension Plugin {
    static func handle(_ input: [UInt8]) throws(PluginFailure) -> [UInt8] {
        let limit = Config.get("max_bytes").flatMap { Int($0) } ?? 65536
        guard input.count <= limit else {
            throw PluginFailure("the body is \(input.count) bytes, more than max_bytes (\(limit))")
        }
        var words = 0
        var lines = 0
        var inWord = false
        for byte in input {
            let isSpace = byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
            if byte == 0x0A { lines += 1 }
            if !isSpace && !inWord { words += 1 }
            inWord = !isSpace
        }
        Log.debug("counted \(words) words in \(input.count) bytes")
        return Array("{\"bytes\":\(input.count),\"words\":\(words),\"lines\":\(lines)}".utf8)
    }
}
