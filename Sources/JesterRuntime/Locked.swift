import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A value behind a pthread mutex.
///
/// Used instead of `Synchronization.Mutex` because on Linux that lock is built on raw futex calls
/// the thread sanitizer cannot see, so every access under it is reported as a race; with a pthread
/// mutex the sanitizer checks the locking for real. The cost is the same uncontended.
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

/// Values behind locks of their own, one per thread slot (see ``ThreadSlot``), each on cache
/// lines of its own.
///
/// For state that every thread updates on every request (a plugin's warm instances and call
/// counters): a thread takes the lock of its own slot, which stays in its core's cache, where
/// one shared lock would move between the cores' caches on every request.
final class SlottedLocks<Value>: @unchecked Sendable {
    // @unchecked: each slot's value is only touched with that slot's mutex held.
    private let storage: UnsafeMutableRawPointer
    private let stride: Int
    private let valueOffset: Int
    /// Slot indices run from 0 to `count - 1`.
    let count: Int

    /// Bytes between slots: two cache lines, so that neither a slot's neighbour nor the line the
    /// CPU prefetches beside it belongs to another slot.
    private static var slotAlignment: Int { 128 }

    init(count: Int, _ makeValue: (Int) -> Value) {
        self.count = max(1, count)
        let mutexBytes = MemoryLayout<pthread_mutex_t>.stride
        let alignment = MemoryLayout<Value>.alignment
        valueOffset = (mutexBytes + alignment - 1) / alignment * alignment
        let slotBytes = valueOffset + MemoryLayout<Value>.size
        stride = (slotBytes + Self.slotAlignment - 1) / Self.slotAlignment * Self.slotAlignment
        storage = .allocate(byteCount: stride * self.count, alignment: Self.slotAlignment)
        for index in 0..<self.count {
            pthread_mutex_init(mutex(index), nil)
            (storage + index * stride + valueOffset).bindMemory(to: Value.self, capacity: 1).initialize(to: makeValue(index))
        }
    }

    deinit {
        for index in 0..<count {
            value(index).deinitialize(count: 1)
            pthread_mutex_destroy(mutex(index))
        }
        storage.deallocate()
    }

    @inline(__always)
    private func mutex(_ index: Int) -> UnsafeMutablePointer<pthread_mutex_t> {
        (storage + index * stride).assumingMemoryBound(to: pthread_mutex_t.self)
    }

    @inline(__always)
    private func value(_ index: Int) -> UnsafeMutablePointer<Value> {
        (storage + index * stride + valueOffset).assumingMemoryBound(to: Value.self)
    }

    /// Runs `body` on slot `index`'s value with its lock held.
    @inline(__always)
    func withLock<T>(_ index: Int, _ body: (inout Value) throws -> T) rethrows -> T {
        precondition(index >= 0 && index < count, "slot \(index) out of 0..<\(count)")
        pthread_mutex_lock(mutex(index))
        defer { pthread_mutex_unlock(mutex(index)) }
        return try body(&value(index).pointee)
    }
}

/// A small number per thread, for ``SlottedLocks``: slot 0 is shared (for callers that hop between
/// threads, such as tasks), and each thread that asks gets one of the slots 1 to `count - 1`, in
/// turn, for its life. Threads share a slot only when there are more of them than slots.
enum ThreadSlot {
    /// Slot 0 and two per core: an event loop per core and as many other threads to spare.
    static let count: Int = {
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return 1 + 2 * min(max(cores, 1), 128)
    }()

    /// The shared slot.
    static let shared = 0

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let result = pthread_key_create(&key, nil)
        precondition(result == 0, "pthread_key_create failed: \(result)")
        return key
    }()

    private static let assigned = Atomic<Int>(0)

    /// The calling thread's slot, from 1 to `count - 1`.
    static var current: Int {
        if let stored = pthread_getspecific(key) {
            return Int(bitPattern: stored)
        }
        let slot = 1 + assigned.add(1, ordering: .relaxed).oldValue % (count - 1)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: slot))
        return slot
    }
}
