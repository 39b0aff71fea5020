import Synchronization

/// Warm instances of one plugin version, ready to be handed to a caller, and the counters of the
/// calls that ended well.
///
/// The instances are kept per thread (``ThreadSlot``), the way Envoy keeps a plugin VM per worker:
/// an HTTP filter session takes an instance that its event loop used before and gives it back to
/// that loop, so the instance's memory, stack and store stay in one core's cache, and the lock
/// each request takes is its own thread's. Calls from tasks, which move between threads, use the
/// shared slot 0, whose capacity is the plugin's `pool_size`; a thread's slot keeps as many idle
/// instances as it had sessions open at once.
///
/// It also counts the HTTP filter sessions that hold an instance (``checkOut(slot:)`` and
/// ``checkIn(_:ticket:keep:usage:)``): at most `maxOpen` at once, each thread slot up to its
/// share without touching anything another thread writes, beyond that from a reserve shared by
/// all.
final class InstancePool: Sendable {
    /// What a successful call adds to the plugin's counters.
    struct Usage {
        var calls = 0
        var fuel: UInt64 = 0
        var time: Duration = .zero
        var peakMemoryBytes = 0

        mutating func add(_ other: Usage) {
            calls += other.calls
            fuel &+= other.fuel
            time += other.time
            peakMemoryBytes = max(peakMemoryBytes, other.peakMemoryBytes)
        }
    }

    private struct Slot {
        var idle: [PluginInstance] = []
        var capacity: Int
        /// Filter sessions checked out from this slot and not yet checked in.
        var open = 0
        var usage = Usage()
    }

    /// Whether checking out may grow a slot (not for fresh-instance-per-call plugins).
    private let growable: Bool
    private let slots: SlottedLocks<Slot>
    /// Sessions one thread slot may open before it draws on ``reserve``.
    private let share: Int
    /// Sessions open beyond their slot's share, at most `reserveLimit`.
    private let reserve = Atomic<Int>(0)
    private let reserveLimit: Int

    /// - Parameters:
    ///   - capacity: Idle instances kept for calls from tasks (slot 0); 0 keeps none anywhere.
    ///   - maxOpen: Filter sessions open at once, over all threads.
    init(capacity: Int, maxOpen: Int) {
        growable = capacity > 0
        let threadSlots = ThreadSlot.count - 1
        // An eighth of the limit split between the thread slots: an event loop opens that many
        // sessions at once (a few hundred with few cores) touching only its own slot.
        share = maxOpen / (8 * threadSlots)
        reserveLimit = maxOpen - share * threadSlots
        slots = SlottedLocks(count: ThreadSlot.count) { index in
            Slot(capacity: index == ThreadSlot.shared ? capacity : 0)
        }
    }

    var idleCount: Int {
        (0..<slots.count).reduce(0) { total, index in total + slots.withLock(index) { $0.idle.count } }
    }

    /// The counters of every successful call so far.
    var usage: Usage {
        var total = Usage()
        for index in 0..<slots.count {
            total.add(slots.withLock(index) { $0.usage })
        }
        return total
    }

    /// An idle instance for a call from a task, if there is one.
    func take() -> PluginInstance? {
        slots.withLock(ThreadSlot.shared) { $0.idle.popLast() }
    }

    /// Keeps `instance` for calls from tasks. Returns false (and keeps nothing) when the shared
    /// slot is full.
    func put(_ instance: PluginInstance) -> Bool {
        giveBack(instance, to: ThreadSlot.shared, closingSession: false, keep: true, usage: nil)
    }

    /// Ends a call from a task: counts `usage` (nil for a failed call, which the plugin counts
    /// itself) and keeps `instance` for reuse when `keep` and the shared slot has room.
    /// Returns whether it was kept.
    func finishCall(_ instance: PluginInstance, keep: Bool, usage: Usage?) -> Bool {
        giveBack(instance, to: ThreadSlot.shared, closingSession: false, keep: keep, usage: usage)
    }

    /// Where a filter session's instance came from and goes back to.
    struct Ticket: Sendable {
        let slot: Int
        /// Whether the session counts against the shared reserve.
        let borrowed: Bool
    }

    /// What ``checkOut(slot:)`` found.
    enum CheckOut {
        /// A warm instance.
        case warm(PluginInstance, Ticket)
        /// No idle instance: make one (and check it in, or call ``abandonCheckOut(_:)``).
        case empty(Ticket)
        /// `maxOpen` sessions are open already; nothing was counted.
        case busy
    }

    /// Opens a filter session on the calling thread (on slot `index`): counts it and hands out a
    /// warm instance of this thread's slot, or failing that one of the shared slot, if there is
    /// one. The slot grows to keep as many idle instances as sessions were open in it at once, so
    /// a steady load does not make instances.
    func checkOut(slot index: Int = ThreadSlot.current) -> CheckOut {
        let outcome = slots.withLock(index) { slot -> (warm: PluginInstance?, borrowed: Bool)? in
            let borrowed = slot.open >= share
            if borrowed, !reserve.increment(below: reserveLimit) { return nil }
            slot.open += 1
            if growable, slot.open > slot.capacity { slot.capacity = slot.open }
            return (slot.idle.popLast(), borrowed)
        }
        guard let outcome else { return .busy }
        let ticket = Ticket(slot: index, borrowed: outcome.borrowed)
        if let warm = outcome.warm ?? take() { return .warm(warm, ticket) }
        return .empty(ticket)
    }

    /// Ends a session opened with ``checkOut(slot:)`` whose instance could not be made.
    func abandonCheckOut(_ ticket: Ticket) {
        slots.withLock(ticket.slot) { $0.open -= 1 }
        if ticket.borrowed { reserve.subtract(1, ordering: .relaxed) }
    }

    /// Closes a filter session: counts `usage` (nil for a failed session) and keeps `instance`
    /// in the slot it came from when `keep` and there is room. Returns whether it was kept.
    func checkIn(_ instance: PluginInstance, ticket: Ticket, keep: Bool, usage: Usage?) -> Bool {
        if ticket.borrowed { reserve.subtract(1, ordering: .relaxed) }
        return giveBack(instance, to: ticket.slot, closingSession: true, keep: keep, usage: usage)
    }

    /// Counts `usage` in slot `index` and keeps `instance` there when `keep` and there is room,
    /// with the slot's lock held once. Returns whether it was kept.
    private func giveBack(_ instance: PluginInstance, to index: Int, closingSession: Bool, keep: Bool, usage: Usage?) -> Bool {
        slots.withLock(index) { slot in
            if closingSession { slot.open -= 1 }
            if let usage { slot.usage.add(usage) }
            guard keep, slot.idle.count < slot.capacity else { return false }
            slot.idle.append(instance)
            return true
        }
    }

    /// Takes every idle instance out.
    func drain() -> [PluginInstance] {
        (0..<slots.count).flatMap { index in
            slots.withLock(index) { slot in
                let all = slot.idle
                slot.idle.removeAll()
                return all
            }
        }
    }
}
