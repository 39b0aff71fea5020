import Synchronization
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
/// Every instance has a ``Slot``; arming and disarming a call are one atomic store and one
/// compare-and-swap on it, with no lock. One thread per host looks at the slots every few
/// milliseconds while calls are being made (``tick``), backing off to ``idleTick`` when none was
/// armed, and sleeps when no instance exists. So a call is stopped at most about `idleTick + tick`
/// after its deadline.
///
/// The fuel write from this thread races with the guest thread's own fuel updates by design: the
/// interpreter's read-modify-write of the counter can overwrite one drain, so the watchdog drains
/// again at every tick until the call is disarmed. A slot is never drained unless its call is
/// armed: the state machine below makes disarming wait for a drain in progress.
final class Watchdog: @unchecked Sendable {
    // @unchecked: `slots`, `stopping` and `started` are guarded by `mutex`.

    /// One instance's deadline. `state` is 0 when no call runs, ``firing`` while the watchdog is
    /// draining, ``fired`` after a drain, and otherwise the armed call's deadline (monotonic ns).
    final class Slot: Sendable {
        let store: StoreBox
        let state = Atomic<UInt64>(0)
        static let firing: UInt64 = 1
        static let fired: UInt64 = 2

        init(store: StoreBox) {
            self.store = store
        }

        @inline(__always)
        func arm(deadline: UInt64) {
            state.store(max(deadline, 3), ordering: .releasing)
        }

        /// Ends the call's watch. Returns whether its deadline passed and its fuel was drained.
        @inline(__always)
        func disarm() -> Bool {
            while true {
                let current = state.load(ordering: .acquiring)
                if current == Self.firing {
                    sched_yield()
                    continue
                }
                if state.compareExchange(expected: current, desired: 0, ordering: .acquiringAndReleasing).exchanged {
                    return current == Self.fired
                }
            }
        }

        /// Called by the watchdog thread: drains the store when the call is past `now`.
        /// Returns whether the slot is armed at all.
        func inspect(now: UInt64) -> Bool {
            let current = state.load(ordering: .acquiring)
            guard current != 0 else { return false }
            guard current == Self.fired || (current > Self.fired && current <= now) else { return true }
            guard state.compareExchange(expected: current, desired: Self.firing, ordering: .acquiringAndReleasing).exchanged else {
                return true
            }
            store.drainFuel()
            state.store(Self.fired, ordering: .releasing)
            return true
        }
    }

    /// How often armed slots are looked at.
    static let tick: UInt64 = 2_000_000
    /// How often slots are looked at when none was armed last time.
    static let idleTick: UInt64 = 20_000_000

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var slots: [ObjectIdentifier: Slot] = [:]
    private var started = false
    private var stopping = false
    private var thread: pthread_t?

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

    /// Makes a slot for a new instance's store. Release it with ``unregister(_:)``.
    func register(store: StoreBox) -> Slot {
        let slot = Slot(store: store)
        pthread_mutex_lock(mutex)
        if !started { startThread() }
        slots[ObjectIdentifier(slot)] = slot
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
        return slot
    }

    func unregister(_ slot: Slot) {
        pthread_mutex_lock(mutex)
        slots[ObjectIdentifier(slot)] = nil
        pthread_mutex_unlock(mutex)
    }

    private func startThread() {
        started = true
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { argument in
            #if canImport(Darwin)
                let watchdog = Unmanaged<Watchdog>.fromOpaque(argument).takeUnretainedValue()
            #else
                let watchdog = Unmanaged<Watchdog>.fromOpaque(argument!).takeUnretainedValue()
            #endif
            watchdog.run()
            return nil
        }, Unmanaged.passUnretained(self).toOpaque())
        if result == 0 { thread = handle }
    }

    private func run() {
        pthread_mutex_lock(mutex)
        while !stopping {
            if slots.isEmpty {
                pthread_cond_wait(condition, mutex)
                continue
            }
            let now = Self.now()
            var anyArmed = false
            for slot in slots.values where slot.inspect(now: now) {
                anyArmed = true
            }
            let wake = now &+ (anyArmed ? Self.tick : Self.idleTick)
            var spec = timespec(tv_sec: Int(wake / 1_000_000_000), tv_nsec: Int(wake % 1_000_000_000))
            pthread_cond_timedwait(condition, mutex, &spec)
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
