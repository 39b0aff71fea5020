import CBenchSupport
import Foundation
import JesterManifest
import JesterRuntime
import JesterTesting
import Synchronization
import WasmKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Memory per idle instance. Each measurement runs in a child process of its own (a fresh heap),
// see `runMemoryChild`.
//
// A pool only grows when callers hold instances at the same time, so the Jester measurement opens
// `count` sessions at once, each on a thread of its own (a `GuestExecutor` with `count` threads),
// has each make one call and then wait at a barrier until all are open. When they close, the
// pool (size `count`) keeps every instance. The threads' stacks are not instance memory: their
// resident pages are found through /proc/self/smaps and left out.

/// What the process holds, from the kernel and from malloc.
struct MemorySnapshot {
    /// Resident bytes (/proc/self/statm, field 2).
    var resident: Int
    /// Virtual bytes (/proc/self/statm, field 1).
    var virtual: Int
    /// Resident bytes of the thread stacks we know of (/proc/self/smaps).
    var stackResident: Int
    /// Bytes malloc has handed out and not had back (mallinfo2: uordblks + hblkhd).
    var heapInUse: Int

    static func take(stacks: [ClosedRange<UInt>]) -> MemorySnapshot {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let statm = readProcFile("/proc/self/statm")
        let fields = statm.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return MemorySnapshot(
            resident: (fields.count > 1 ? fields[1] : 0) * page,
            virtual: (fields.first ?? 0) * page,
            stackResident: residentBytes(within: stacks),
            heapInUse: bench_heap_in_use())
    }

    /// The resident bytes of the mappings that overlap any of `ranges`.
    static func residentBytes(within ranges: [ClosedRange<UInt>]) -> Int {
        guard !ranges.isEmpty else { return 0 }
        let smaps = readProcFile("/proc/self/smaps")
        var total = 0
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), line.first?.isHexDigit == true, let space = line.firstIndex(of: " "), dash < space {
                let low = UInt(line[line.startIndex..<dash], radix: 16) ?? 0
                let high = UInt(line[line.index(after: dash)..<space], radix: 16) ?? 0
                inside = high > low && ranges.contains { $0.overlaps(low...(high - 1)) }
            } else if inside, line.hasPrefix("Rss:") {
                let kilobytes = line.dropFirst(4).split(separator: " ").first.flatMap { Int($0) } ?? 0
                total += kilobytes * 1024
            }
        }
        return total
    }
}

/// The whole of a /proc file. (Foundation's `String(contentsOfFile:)` stops after the first read
/// of a file whose size is reported as 0, which is every /proc file.)
func readProcFile(_ path: String) -> String {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return "" }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Blocks threads until `count` have arrived.
final class Barrier: @unchecked Sendable {
    // @unchecked: `arrived` is guarded by `mutex`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var arrived = 0
    private let count: Int

    init(count: Int) {
        self.count = count
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    func arriveAndWait() {
        pthread_mutex_lock(mutex)
        arrived += 1
        if arrived >= count {
            pthread_cond_broadcast(condition)
        } else {
            while arrived < count { pthread_cond_wait(condition, mutex) }
        }
        pthread_mutex_unlock(mutex)
    }
}

/// Thread stacks, collected from the threads themselves.
final class StackRanges: Sendable {
    let ranges = Mutex<[ClosedRange<UInt>]>([])
}

/// The calling thread's stack, as an address range.
func currentThreadStack() -> ClosedRange<UInt> {
    var low: UInt = 0
    var size = 0
    guard bench_thread_stack(&low, &size) == 0, size > 0 else { return 0...0 }
    return low...(low + UInt(size) - 1)
}

/// The guests the memory measurement loads.
enum MemoryGuest: String, CaseIterable {
    /// `Guests.call`: no memory.
    case noMemory = "no-memory"
    /// `Guests.memoryPage`: one 64 KiB page.
    case onePage = "one-page"
    /// The hello example (Embedded Swift, 3 pages, data segments, `init` run at instantiation).
    case hello

    func wasm() throws -> [UInt8] {
        switch self {
        case .noMemory: return Guests.call
        case .onePage: return Guests.memoryPage
        case .hello: return try helloWasm()
        }
    }
}

/// The hello example's module: `examples/hello/hello.wasm` when it has been built, else built now
/// with the Swift toolchain into a temporary directory.
func helloWasm() throws -> [UInt8] {
    let path = JesterFixtures.repositoryRoot + "/examples/hello/hello.wasm"
    if let data = FileManager.default.contents(atPath: path) { return [UInt8](data) }
    let directory = try JesterFixtures.temporaryDirectory("jester-bench")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try JesterFixtures.buildSwiftPlugin(
        directory: JesterFixtures.repositoryRoot + "/examples/hello", exports: ["handle"], output: directory + "/hello.wasm")
}

/// One memory measurement, in this (child) process. Returns a JSON object.
func runMemoryChild(engine: String, guest: MemoryGuest, count: Int) async throws -> String {
    let wasm = try guest.wasm()
    let result: (instances: Int, before: MemorySnapshot, after: MemorySnapshot)
    if engine == "jester" {
        result = try await jesterInstances(wasm: wasm, guest: guest, count: count)
    } else {
        result = try wasmKitInstances(wasm: wasm, guest: guest, count: count)
    }
    let n = max(1, result.instances)
    let rss = (result.after.resident - result.after.stackResident) - (result.before.resident - result.before.stackResident)
    let rawRSS = result.after.resident - result.before.resident
    let heap = result.after.heapInUse - result.before.heapInUse
    let virtual = result.after.virtual - result.before.virtual
    return """
        {"engine":"\(engine)","guest":"\(guest.rawValue)","instances":\(result.instances),\
        "rss_per_instance":\(rss / n),"raw_rss_per_instance":\(rawRSS / n),\
        "heap_per_instance":\(heap / n),"virtual_per_instance":\(virtual / n),\
        "stack_rss_before":\(result.before.stackResident),"stack_rss_after":\(result.after.stackResident)}
        """
}

/// `count` warm instances in one plugin's pool, each having served one call.
private func jesterInstances(wasm: [UInt8], guest: MemoryGuest, count: Int) async throws -> (instances: Int, before: MemorySnapshot, after: MemorySnapshot) {
    let limits = ResourceLimits(timeout: .seconds(60), maxConcurrency: count, queueTimeout: .seconds(60), poolSize: count)
    let host = PluginHost(logger: quietLogger, configuration: .init(limits: limits, execution: .callerThread))
    let manifest: PluginManifest
    if guest == .hello {
        var helloLimits = limits
        helloLimits.memoryBytes = 16 << 20
        manifest = JesterFixtures.manifest(id: "hello", exports: [ExportDeclaration(name: "handle", kind: .handler)], limits: helloLimits)
    } else {
        manifest = JesterFixtures.manifest(id: "memory", limits: limits)
    }
    let plugin = try host.makePlugin(manifest: manifest, wasm: wasm)
    let executor = GuestExecutor(threadCount: count)
    defer { executor.shutdown() }

    // Round 1: start every thread, learn where its stack is, and let it touch what a blocked job
    // touches, so that the second round finds the threads as they will be.
    let stacks = StackRanges()
    let probe = Barrier(count: count)
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<count {
            group.addTask(executorPreference: executor) {
                let stack = currentThreadStack()
                stacks.ranges.withLock { $0.append(stack) }
                probe.arriveAndWait()
            }
        }
    }
    let stackRanges = stacks.ranges.withLock { $0 }
    let idleBefore = plugin.status.idleInstances
    let before = MemorySnapshot.take(stacks: stackRanges)

    // Round 2: `count` sessions open at once, one call each.
    let barrier = Barrier(count: count)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<count {
            group.addTask(executorPreference: executor) {
                try await plugin.withSession { session in
                    if guest == .hello {
                        _ = try session.handle(Array("World".utf8))
                    } else {
                        _ = try session.call("nop")
                    }
                    barrier.arriveAndWait()
                }
            }
        }
        try await group.waitForAll()
    }
    let after = MemorySnapshot.take(stacks: stackRanges)
    let idleAfter = plugin.status.idleInstances
    withExtendedLifetime(plugin) {}
    return (idleAfter - idleBefore, before, after)
}

/// `count` WasmKit instances of one module, each in a store of its own, each having served one
/// naive call. WasmKit's default configuration (no fuel metering).
private func wasmKitInstances(wasm: [UInt8], guest: MemoryGuest, count: Int) throws -> (instances: Int, before: MemorySnapshot, after: MemorySnapshot) {
    let engine = Engine()
    let module = try parseWasm(bytes: wasm)
    var kept: [(Store, Instance)] = []
    kept.reserveCapacity(count)
    let before = MemorySnapshot.take(stacks: [])
    for _ in 0..<count {
        let store = Store(engine: engine)
        let instance = try module.instantiate(store: store, imports: WasmKitSubject.imports(for: module, store: store))
        if guest == .hello {
            // What Jester does with this guest: `init` at instantiation, then one `handle("World")`.
            let initialized = try instance.exports[function: "init"]!.invoke()
            _ = try instance.exports[function: "cabi_post_init"]!.invoke(initialized)
            let input = Array("World".utf8)
            let results = try instance.exports[function: "cabi_realloc"]!.invoke([.i32(0), .i32(0), .i32(1), .i32(UInt32(input.count))])
            guard case .i32(let pointer)? = results.first else { fatalError("cabi_realloc returned \(results)") }
            instance.exports[memory: "memory"]!.withUnsafeMutableBufferPointer(offset: UInt(pointer), count: input.count) { buffer in
                buffer.copyBytes(from: input)
            }
            let answer = try instance.exports[function: "handle"]!.invoke([.i32(pointer), .i32(UInt32(input.count))])
            _ = try instance.exports[function: "cabi_post_handle"]!.invoke(answer)
        } else {
            _ = try instance.exports[function: "nop"]!.invoke()
        }
        kept.append((store, instance))
    }
    let after = MemorySnapshot.take(stacks: [])
    withExtendedLifetime(kept) {}
    return (count, before, after)
}
