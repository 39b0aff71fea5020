import WasmKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stops guest calls that run past their deadline.
///
/// WasmKit has no epoch interruption, so a call is stopped through its fuel: every metered engine
/// checks the store's fuel at each block, and the watchdog sets it to zero. The interpreter then
/// traps with "out of fuel" at the next check, and the call is reported as a timeout.
///
/// One thread serves every call of a host. It sleeps until the earliest deadline; arming a call
/// with a later deadline (the usual case) costs a lock and a slot write, no wake-up.
///
/// The fuel write from this thread races with the guest thread's own fuel updates by design: the
/// interpreter's read-modify-write of the counter can overwrite one drain, so the watchdog drains
/// again every millisecond until the call is disarmed. The store itself is never freed while armed
/// (disarm happens before the instance can be released).
final class Watchdog: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `mutex` (pthread, for the timed condition wait).
    struct Ticket {
        let slot: Int
        let generation: UInt64
    }

    private struct Entry {
        var deadline: UInt64
        var store: StoreBox
        var generation: UInt64
        var fired: Bool
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var slots: [Entry?] = []
    private var freeSlots: [Int] = []
    private var nextGeneration: UInt64 = 1
    private var scheduledWake: UInt64 = .max
    private var started = false
    private var stopping = false
    private var thread: pthread_t?

    /// How often an expired call's fuel is drained again until the call returns.
    static let redrainInterval: UInt64 = 1_000_000

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
            pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
        if let thread { pthread_join(thread, nil) }
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// Starts watching a call on `store` that must end by `deadline` (monotonic nanoseconds).
    func arm(store: StoreBox, deadline: UInt64) -> Ticket {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if !started { startThread() }
        let generation = nextGeneration
        nextGeneration += 1
        let entry = Entry(deadline: deadline, store: store, generation: generation, fired: false)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = entry
        } else {
            slot = slots.count
            slots.append(entry)
        }
        if deadline < scheduledWake {
            scheduledWake = deadline
            pthread_cond_signal(condition)
        }
        return Ticket(slot: slot, generation: generation)
    }

    /// Stops watching a call. Returns whether its deadline passed and its fuel was drained.
    func disarm(_ ticket: Ticket) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard let entry = slots[ticket.slot], entry.generation == ticket.generation else { return false }
        slots[ticket.slot] = nil
        freeSlots.append(ticket.slot)
        return entry.fired
    }

    private func startThread() {
        started = true
        let unmanaged = Unmanaged.passUnretained(self)
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { argument in
            #if canImport(Darwin)
                let watchdog = Unmanaged<Watchdog>.fromOpaque(argument).takeUnretainedValue()
            #else
                let watchdog = Unmanaged<Watchdog>.fromOpaque(argument!).takeUnretainedValue()
            #endif
            watchdog.run()
            return nil
        }, unmanaged.toOpaque())
        if result == 0 {
            #if canImport(Darwin)
                thread = handle
            #else
                thread = handle
            #endif
        }
    }

    private func run() {
        pthread_mutex_lock(mutex)
        while !stopping {
            let now = Self.now()
            var earliest: UInt64 = .max
            for index in slots.indices {
                guard var entry = slots[index] else { continue }
                if entry.deadline <= now {
                    entry.store.drainFuel()
                    if !entry.fired {
                        entry.fired = true
                        slots[index] = entry
                    }
                    earliest = min(earliest, now + Self.redrainInterval)
                } else {
                    earliest = min(earliest, entry.deadline)
                }
            }
            scheduledWake = earliest
            if earliest == .max {
                pthread_cond_wait(condition, mutex)
            } else {
                var wake = timespec(tv_sec: Int(earliest / 1_000_000_000), tv_nsec: Int(earliest % 1_000_000_000))
                pthread_cond_timedwait(condition, mutex, &wake)
            }
        }
        pthread_mutex_unlock(mutex)
    }
}

/// A store shared with the watchdog thread, which may only drain its fuel.
final class StoreBox: @unchecked Sendable {
    // @unchecked: the store is confined to the thread running its instance; the watchdog touches
    // only the fuel counter (see `Watchdog`).
    let store: Store

    init(_ store: Store) {
        self.store = store
    }

    func drainFuel() {
        store.fuel = Fuel(remaining: 0)
    }
}
