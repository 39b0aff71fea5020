import Synchronization


/// Bounds the calls that run at once. Callers beyond the limit wait in order, each up to its own
/// timeout, and are then refused.
///
/// The uncontended path is one compare-and-swap to take a slot and one atomic decrement to give it
/// back; the lock is taken only when someone waits.
final class CallGate: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct Queue {
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    let limit: Int
    private let active = Atomic<Int>(0)
    /// Callers queued or about to queue; read by `release` to decide whether to take the lock.
    private let waiting = Atomic<Int>(0)
    private let queue = Locked(Queue())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// The calls running now.
    var activeCount: Int { active.load(ordering: .relaxed) }
    /// The callers waiting for a slot.
    var waitingCount: Int { queue.withLock { $0.waiters.count } }

    /// Takes a slot if one is free, without waiting.
    @inline(__always)
    func tryAcquire() -> Bool {
        // Sequentially consistent, with `waiting`, so that a caller that queues and a `release`
        // that checks for waiters cannot both miss each other.
        active.increment(below: limit)
    }

    /// Takes a slot, waiting up to `timeout` for one. Returns false when none came free in time.
    func acquire(timeout: Duration) async -> Bool {
        if tryAcquire() { return true }
        guard timeout > .zero else { return false }
        let id = queue.withLock { queue in
            queue.nextID += 1
            return queue.nextID
        }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let acquiredNow = queue.withLock { queue -> Bool in
                waiting.add(1, ordering: .sequentiallyConsistent)
                if tryAcquire() {
                    waiting.subtract(1, ordering: .sequentiallyConsistent)
                    return true
                }
                queue.waiters.append(Waiter(id: id, continuation: continuation))
                return false
            }
            if acquiredNow {
                continuation.resume(returning: true)
                return
            }
            Task { [self] in
                try? await Task.sleep(for: timeout)
                expire(id)
            }
        }
    }

    private func expire(_ id: UInt64) {
        let waiter = queue.withLock { queue -> Waiter? in
            guard let index = queue.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            waiting.subtract(1, ordering: .sequentiallyConsistent)
            return queue.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: false)
        // A slot freed while this waiter was leaving must not be stranded.
        handOver()
    }

    /// Gives a slot back; the longest-waiting caller gets it.
    @inline(__always)
    func release() {
        active.subtract(1, ordering: .sequentiallyConsistent)
        if waiting.load(ordering: .sequentiallyConsistent) > 0 { handOver() }
    }

    /// Gives free slots to waiting callers, in order.
    private func handOver() {
        while true {
            let next = queue.withLock { queue -> Waiter? in
                guard !queue.waiters.isEmpty, tryAcquire() else { return nil }
                waiting.subtract(1, ordering: .sequentiallyConsistent)
                return queue.waiters.removeFirst()
            }
            guard let next else { return }
            next.continuation.resume(returning: true)
        }
    }
}

extension Atomic where Value == Int {
    /// Adds one unless the value has reached `limit`, sequentially consistent (on x86 no dearer
    /// than relaxed for a read-modify-write). Returns whether it added.
    @inline(__always)
    func increment(below limit: Int) -> Bool {
        var current = load(ordering: .sequentiallyConsistent)
        while current < limit {
            let (exchanged, original) = compareExchange(expected: current, desired: current + 1, ordering: .sequentiallyConsistent)
            if exchanged { return true }
            current = original
        }
        return false
    }
}
