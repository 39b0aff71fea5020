// my-plugin: a Jester plugin in Embedded Swift. `handle` gets bytes and returns bytes.
//
//   jester plugin build                      # writes my-plugin.wasm and its hash into plugin.json
//   jester plugin test                       # runs the cases in tests.json
//   jester plugin call . --input World       # Hello, World!
//
// The PDK (pdk/swift) gives you Config, Log, Clock and Random; see its README.

extension Plugin {
    static func handle(_ input: [UInt8]) throws(PluginFailure) -> [UInt8] {
        guard !input.isEmpty else {
            throw PluginFailure("no input: pass a name, as in --input World")
        }
        let name = String(decoding: input, as: UTF8.self)
        let greeting = Config.get("greeting") ?? "Hello"
        Log.debug("greeting \(name)")
        return Array("\(greeting), \(name)!".utf8)
    }
}
