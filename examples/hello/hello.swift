// A handler plugin: answers `handle(input)` with a greeting.
//
//   jester plugin build examples/hello
//   jester plugin call examples/hello handle --input World            # Hello, World!
//   jester plugin call examples/hello handle --input World --config greeting=Howdy

extension Plugin {
    static func handle(_ input: [UInt8]) throws(PluginFailure) -> [UInt8] {
        guard !input.isEmpty else {
            throw PluginFailure("empty input: pass --input NAME")
        }
        let name = String(decoding: input, as: UTF8.self)
        let greeting = Config.get("greeting") ?? "Hello"
        Log.info("greeting \(name)")
        return Array("\(greeting), \(name)!".utf8)
    }
}
