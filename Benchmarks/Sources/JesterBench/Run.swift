import Foundation
import Synchronization
import JesterManifest
import JesterRuntime
import WasmKit

/// Runs every group (or those in `only`) and the memory measurement, prints a summary, and writes
/// every sample to `jsonPath`.
func runAll(settings: HarnessSettings, only: Set<String>?, memoryCount: Int, jsonPath: String?) async throws {
    func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
    func wanted(_ group: String) -> Bool { only?.contains(group) ?? true }
    log("JesterBench: \(settings.samples) samples of ~\(settings.sampleNanoseconds / 1_000_000) ms per benchmark, round-robin within each group")
    let started = Date()
    var measurements: [Measurement] = []
    var memory: [String] = []

    // Memory first, each in a child process of its own.
    if wanted("memory") {
        log("memory: \(memoryCount) idle instances per measurement")
        for guest in MemoryGuest.allCases {
            for engine in ["jester", "wasmkit"] {
                let line = try runChild(["--memory-child", engine, guest.rawValue, String(memoryCount)])
                log("  \(line)")
                memory.append(line)
            }
        }
    }

    let hosts = try JesterHosts()
    let groups: [(name: String, make: () throws -> [Benchmark])] = [
        ("call.nop", { try callSuite(export: "nop", hosts: hosts) }),
        ("call.add", { try callSuite(export: "add", hosts: hosts) }),
        ("hostcall", { try hostCallSuite(hosts: hosts) }),
        ("checkout", { try checkoutSuite(hosts: hosts) }),
        ("instantiate", { try instantiationSuite(hosts: hosts) }),
    ]
    for group in groups where wanted(group.name) || wanted(String(group.name.prefix { $0 != "." })) {
        log("\(group.name):")
        measurements += try await runGroup(group.name, try group.make(), settings: settings, log: log)
    }

    if let jsonPath {
        let json = renderJSON(measurements: measurements, memory: memory, settings: settings, started: started)
        try json.write(toFile: jsonPath, atomically: true, encoding: .utf8)
        log("wrote \(jsonPath)")
    }
}

/// Runs this executable again with `arguments` and returns the last line of its output that
/// starts with `{`.
func runChild(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
        throw BenchError("child \(arguments.joined(separator: " ")) failed (status \(process.terminationStatus)): \(text)")
    }
    return String(line)
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private func renderJSON(measurements: [Measurement], memory: [String], settings: HarnessSettings, started: Date) -> String {
    func number(_ value: Double) -> String { value.isFinite ? String(value) : "null" }
    func string(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
    let entries = measurements.map { m in
        """
            {"group":\(string(m.group)),"id":\(string(m.id)),"label":\(string(m.label)),\
        "median_ns":\(number(m.median)),"p90_ns":\(number(m.p90)),"min_ns":\(number(m.minimum)),\
        "iterations_per_sample":\(m.iterationsPerSample),"operations_per_iteration":\(m.operationsPerIteration),\
        "samples_ns":[\(m.samples.map(number).joined(separator: ","))]}
        """
    }
    return """
        {"tool":"JesterBench","started":\(string(ISO8601DateFormatter().string(from: started))),\
        "samples":\(settings.samples),"sample_ns":\(settings.sampleNanoseconds),"warmup_ns":\(settings.warmupNanoseconds),
        "measurements":[
        \(entries.joined(separator: ",\n"))
        ],
        "memory":[
        \(memory.joined(separator: ",\n"))
        ]}

        """
}

/// A bare loop of `calls` calls on one path, for `valgrind --tool=callgrind`: run it with two
/// counts and take the difference to get instructions per call without the setup.
func runProfile(path: String, calls: Int) async throws {
    let hosts = try JesterHosts()
    var sum: UInt64 = 0
    switch path {
    case "jester.callerThread.call":
        let plugin = try hosts.callerThread.benchPlugin(Guests.call)
        for _ in 0..<calls { sum &+= checksum(try await plugin.call("nop")) }
    case "jester.dedicated.call":
        let plugin = try hosts.dedicated.benchPlugin(Guests.call)
        for _ in 0..<calls { sum &+= checksum(try await plugin.call("nop")) }
    case "jester.session.call":
        let plugin = try hosts.callerThread.benchPlugin(Guests.call)
        sum = try await plugin.withSession { session in
            var sum: UInt64 = 0
            for _ in 0..<calls { sum &+= checksum(try session.call("nop")) }
            return sum
        }
    case "jester.checkout":
        let plugin = try hosts.callerThread.benchPlugin(Guests.call)
        for i in 0..<calls { sum &+= try await plugin.withSession { _ in UInt64(i) } }
    case "jester.hostcall":
        let plugin = try hosts.callerThread.benchPlugin(Guests.hostCall)
        // `calls` host calls, in guest loops of 1000.
        for _ in 0..<(calls / Int(Guests.hostLoopCount)) { sum &+= checksum(try await plugin.call("hostloop", [.i32(Guests.hostLoopCount)])) }
    case "wasmkit.naive", "wasmkit.naive.fuel", "wasmkit.stack", "wasmkit.stack.fuel":
        let subject = try WasmKitSubject(Guests.call, fuelMetering: path.hasSuffix(".fuel"))
        let nop = subject.function("nop")
        if path.hasPrefix("wasmkit.naive") {
            for _ in 0..<calls { sum &+= checksum(try nop.invoke()) }
        } else {
            for _ in 0..<calls { sum &+= checksum(try nop.invoke([], on: &subject.stack)) }
        }
    case "wasmkit.hostcall":
        let subject = try WasmKitSubject(Guests.hostCall, fuelMetering: false)
        let loop = subject.function("hostloop")
        for _ in 0..<(calls / Int(Guests.hostLoopCount)) { sum &+= checksum(try loop.invoke([.i32(UInt32(Guests.hostLoopCount))], on: &subject.stack)) }
    default:
        throw BenchError("unknown profile path \(path)")
    }
    consume(sum)
    print("profiled \(calls) calls of \(path)")
}

/// Runs `main(arguments:)` on a task and waits for it on this thread, then exits.
///
/// Not an async main: that ends in libdispatch's `dispatch_main`, whose `sigsuspend` on a
/// read-only mask valgrind 3.19 cannot follow (it crashes), and callgrind is how this package
/// counts instructions.
func runBlocking() -> Never {
    let finished = DispatchSemaphore(value: 0)
    let failed = Atomic<Bool>(false)
    Task.detached {
        do {
            try await main(arguments: Array(CommandLine.arguments.dropFirst()))
        } catch {
            FileHandle.standardError.write(Data("JesterBench: \(error)\n".utf8))
            failed.store(true, ordering: .relaxed)
        }
        finished.signal()
    }
    finished.wait()
    exit(failed.load(ordering: .relaxed) ? 1 : 0)
}

/// Parses the command line and runs what it asks for.
func main(arguments: [String]) async throws {
    func option(_ name: String) -> String? {
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
        return arguments[index + 1]
    }
    if let index = arguments.firstIndex(of: "--memory-child") {
        guard index + 3 < arguments.count, let guest = MemoryGuest(rawValue: arguments[index + 2]), let count = Int(arguments[index + 3]) else {
            throw BenchError("usage: --memory-child ENGINE GUEST COUNT")
        }
        print(try await runMemoryChild(engine: arguments[index + 1], guest: guest, count: count))
        return
    }
    if let config = option("--serve-gateway") {
        try await serveGateway(configFile: config)
        return
    }
    if let index = arguments.firstIndex(of: "--profile") {
        guard index + 2 < arguments.count, let calls = Int(arguments[index + 2]) else { throw BenchError("usage: --profile PATH CALLS") }
        try await runProfile(path: arguments[index + 1], calls: calls)
        return
    }
    var settings = HarnessSettings()
    if arguments.contains("--quick") {
        settings.samples = 7
        settings.sampleNanoseconds = 2_000_000
        settings.warmupNanoseconds = 20_000_000
    }
    if let samples = option("--samples").flatMap(Int.init) { settings.samples = samples }
    if let milliseconds = option("--sample-ms").flatMap(Double.init) { settings.sampleNanoseconds = UInt64(milliseconds * 1_000_000) }
    let only = option("--only").map { Set($0.split(separator: ",").map(String.init)) }
    let memoryCount = option("--memory-count").flatMap(Int.init) ?? 200
    try await runAll(settings: settings, only: only, memoryCount: memoryCount, jsonPath: option("--json"))
}
