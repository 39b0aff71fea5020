import Foundation
import JesterManifest
@testable import JesterRuntime
import JesterTesting
import Testing

/// A thread of its own that runs the closures given to ``run(_:)`` one after another, so that a
/// test can come back to the same thread.
private final class TestThread: Sendable {
    private let jobs = Locked<[(@Sendable () -> Void)?]>([])
    private let available = DispatchSemaphore(value: 0)

    init() {
        let thread = Thread { [jobs, available] in
            while true {
                available.wait()
                guard let job = jobs.withLock({ $0.removeFirst() }) else { return }
                job()
            }
        }
        thread.start()
    }

    deinit {
        jobs.withLock { $0.append(nil) }
        available.signal()
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let result = Locked<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        jobs.withLock {
            $0.append {
                let outcome = Result { try body() }
                result.withLock { $0 = outcome }
                done.signal()
            }
        }
        available.signal()
        done.wait()
        return try result.withLock { $0! }.get()
    }
}

@Suite struct InstancePoolTests {
    /// `on-request` answers `respond` when its instance served a request before, else `continue`.
    static let wat = """
        (module
          (memory (export "memory") 1)
          (global $seen (mut i32) (i32.const 0))
          (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
          (func (export "on-request") (param i32 i32) (result i32)
            (global.get $seen)
            (global.set $seen (i32.const 1))))
        """

    static func load() throws -> Plugin {
        try BodyHookRuntimeGuest.load(wat: wat, exports: ["on-request"])
    }

    /// One request's filter session on the calling thread: whether its instance was warm.
    static func request(_ plugin: Plugin) throws -> Bool {
        let session = try plugin.openHTTPFilterSession()
        defer { session.close() }
        return try session.onRequest(FixedMessages()) == .respond
    }

    @Test func eachThreadKeepsToTheInstancesItUsed() throws {
        let plugin = try Self.load()
        let one = TestThread()
        let two = TestThread()
        // The first thread takes the instance made at load, which has not served a request yet;
        // from then on it is that thread's.
        #expect(try one.run { try (0..<3).map { _ in try Self.request(plugin) } } == [false, true, true])
        #expect(plugin.status.instancesCreated == 1)
        // The second thread makes one of its own, and keeps to it while the first keeps to its.
        #expect(try two.run { try Self.request(plugin) } == false)
        #expect(plugin.status.instancesCreated == 2)
        for _ in 0..<3 {
            #expect(try one.run { try Self.request(plugin) })
            #expect(try two.run { try Self.request(plugin) })
        }
        let status = plugin.status
        #expect(status.instancesCreated == 2)
        #expect(status.calls == 10, "calls are counted on every thread's slot and summed")
        #expect(status.errors == 0)
        #expect(status.idleInstances == 2)
    }

    @Test func filterSessionsAreBoundedOverAllThreads() {
        let threadSlots = ThreadSlot.count - 1
        let maxOpen = 16 * threadSlots
        let pool = InstancePool(capacity: 1, maxOpen: maxOpen)
        func openAll(slot: Int) -> [InstancePool.Ticket] {
            var tickets: [InstancePool.Ticket] = []
            while case .empty(let ticket) = pool.checkOut(slot: slot) { tickets.append(ticket) }
            return tickets
        }
        // One thread slot opens its share (2), then the whole shared reserve; the next gets only
        // its share, and the total stays within the limit.
        let first = openAll(slot: 1)
        let second = openAll(slot: 2)
        #expect(second.count == 2)
        #expect(first.count == maxOpen - 2 * (threadSlots - 1))
        #expect(first.count + second.count <= maxOpen)
        #expect(first.allSatisfy { $0.slot == 1 } && second.allSatisfy { $0.slot == 2 })
        #expect(first.filter(\.borrowed).count == first.count - 2)
        // A session given back to the reserve lets another slot open one more.
        pool.abandonCheckOut(first.last!)
        #expect(openAll(slot: 3).count == 3)
        #expect(openAll(slot: 2).isEmpty)
    }
}
