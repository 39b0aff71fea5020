
/// Bounds the calls that run at once. Callers beyond the limit wait in order, each up to its own
/// timeout, and are then refused.
final class CallGate: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var active = 0
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    let limit: Int
    private let state = Locked(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// The calls running now.
    var activeCount: Int { state.withLock { $0.active } }
    /// The callers waiting for a slot.
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Takes a slot if one is free, without waiting.
    func tryAcquire() -> Bool {
        state.withLock { state in
            guard state.active < limit else { return false }
            state.active += 1
            return true
        }
    }

    /// Takes a slot, waiting up to `timeout` for one. Returns false when none came free in time.
    func acquire(timeout: Duration) async -> Bool {
        if tryAcquire() { return true }
        guard timeout > .zero else { return false }
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let acquiredNow = state.withLock { state -> Bool in
                if state.active < limit {
                    state.active += 1
                    return true
                }
                state.waiters.append(Waiter(id: id, continuation: continuation))
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
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: false)
    }

    /// Gives a slot back; the longest-waiting caller gets it.
    func release() {
        let next = state.withLock { state -> Waiter? in
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.active -= 1
            return nil
        }
        next?.continuation.resume(returning: true)
    }
}

/// Warm instances of one plugin version, ready to be handed to a caller.
final class InstancePool: Sendable {
    let capacity: Int
    private let idle = Locked<[PluginInstance]>([])

    init(capacity: Int) {
        self.capacity = capacity
    }

    var idleCount: Int { idle.withLock { $0.count } }

    func take() -> PluginInstance? {
        idle.withLock { $0.popLast() }
    }

    /// Keeps `instance` for reuse. Returns false (and keeps nothing) when the pool is full.
    func put(_ instance: PluginInstance) -> Bool {
        idle.withLock { idle in
            guard idle.count < capacity else { return false }
            idle.append(instance)
            return true
        }
    }

    func drain() -> [PluginInstance] {
        idle.withLock { idle in
            let all = idle
            idle.removeAll()
            return all
        }
    }
}
