import Foundation
import JesterTesting

/// The guests every engine runs, from `Benchmarks/guests/*.wat`, which peers/peers.py reads too.
enum Guests {
    /// `nop` and `add`: the trivial-call guest. No memory, no imports.
    static let callWAT = text("call.wat")

    /// The call guest with one page of linear memory (for instantiation and memory per instance).
    static let memoryPageWAT = text("memory-page.wat")

    /// `hostloop(n)` calls the host's `bench.noop` n times; `plainloop(n)` is the same loop with
    /// the call replaced by its argument, so that the loop's own cost can be told apart.
    static let hostCallWAT = text("host-call.wat")

    /// Host calls per `hostloop` invocation.
    static let hostLoopCount: Int32 = 1000

    static let call = JesterFixtures.wasm(callWAT)
    static let memoryPage = JesterFixtures.wasm(memoryPageWAT)
    static let hostCall = JesterFixtures.wasm(hostCallWAT)

    /// A guest's WAT text from `Benchmarks/guests`.
    static func text(_ file: String) -> String {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("guests")
        guard let text = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8) else {
            fatalError("cannot read the benchmark guest \(directory.path)/\(file)")
        }
        return text
    }
}
