import Synchronization

/// State that built-in filters keep across config reloads: rate-limit buckets, a fetched key set.
///
/// A filter value is made again on every reload; what it keeps that should outlive it goes in a
/// state object it asks for with ``FilterSetup/state(key:make:)``. The gateway owns one store.
/// Each routing table is built with a ``Build`` that hands out the live object kept under a key,
/// or makes a new one that only the build knows of. When the table goes live the build commits:
/// the store then holds exactly the objects that table uses, so a state no route asks for any more
/// is dropped (however many reloads rename routes or change keys). A build that is not committed
/// (``Gateway/check()``, a reload that fails anywhere) leaves the store as it was, and the running
/// table goes on with its objects.
///
/// Building a filter must not change a live object: the config being built may still be refused.
/// Settings that can apply to existing state (a rate, a TTL) stay in the filter value and are passed
/// to the object when it is used, so the old and the new filter can share it during the swap.
final class FilterStateStore: Sendable {
    /// Where an object is kept: the route, the entry within it, and what the filter says gives the
    /// state its meaning.
    struct Key: Hashable, Sendable {
        var route: String
        /// `filters/rate-limit#0`: the list, the filter's name, and its place among the entries of
        /// that name in that list (so adding or removing other filters keeps it).
        var entry: String
        var identity: Identity
    }

    /// A filter's own part of a key.
    struct Identity: Hashable, @unchecked Sendable {  // only ever made from a `Hashable & Sendable` value
        let value: AnyHashable
        init(_ value: some Hashable & Sendable) { self.value = AnyHashable(value) }
    }

    private let live = Mutex<[Key: any AnyObject & Sendable]>([:])

    /// A build for a routing table that will go live and then be committed.
    func makeBuild() -> Build { Build(mode: .live(self)) }

    /// Objects held, for tests and diagnostics.
    var count: Int { live.withLock { $0.count } }

    fileprivate func object(at key: Key) -> (any AnyObject & Sendable)? { live.withLock { $0[key] } }

    fileprivate func replace(with objects: [Key: any AnyObject & Sendable]) { live.withLock { $0 = objects } }

    /// The state objects one routing table uses, and what to run when it goes live.
    final class Build: Sendable {
        enum Mode: Sendable {
            /// Reuses the store's objects; ``commit()`` makes this build's objects the store's.
            case live(FilterStateStore)
            /// Nothing is kept and nothing runs: ``Gateway/check()``.
            case dryRun
            /// A filter made outside a gateway (tests, embedders): its own objects, and
            /// ``FilterSetup/whenServing(_:)`` actions run at once.
            case standalone
        }

        private struct Pending {
            var used: [Key: any AnyObject & Sendable] = [:]
            var actions: [@Sendable () -> Void] = []
            var committed = false
        }

        let mode: Mode
        private let pending = Mutex(Pending())

        init(mode: Mode) { self.mode = mode }

        /// The object at `key`: the one this build already handed out, else the live one (when it
        /// is a `State`), else a new one from `make`.
        func state<State: AnyObject & Sendable, Failure: Error>(
            at key: Key, make: () throws(Failure) -> State
        ) throws(Failure) -> State {
            if let used = pending.withLock({ $0.used[key] }) as? State { return used }
            if case .live(let store) = mode, let live = store.object(at: key) as? State {
                pending.withLock { $0.used[key] = live }
                return live
            }
            let made = try make()
            pending.withLock { $0.used[key] = made }
            return made
        }

        func whenServing(_ action: @escaping @Sendable () -> Void) {
            switch mode {
            case .standalone: action()
            case .dryRun: break
            case .live: pending.withLock { $0.actions.append(action) }
            }
        }

        /// Called once the table built with this goes live: the store keeps this build's objects
        /// and drops the others, then the ``whenServing(_:)`` actions run.
        func commit() {
            guard case .live(let store) = mode else { return }
            typealias Taken = (used: [Key: any AnyObject & Sendable], actions: [@Sendable () -> Void])
            let taken = pending.withLock { pending -> Taken? in
                guard !pending.committed else { return nil }
                pending.committed = true
                defer { pending.actions = [] }
                return (pending.used, pending.actions)
            }
            guard let taken else { return }
            store.replace(with: taken.used)
            for action in taken.actions { action() }
        }
    }
}

/// The part of a ``FilterStateStore/Build`` one filter entry sees.
struct FilterStateScope: Sendable {
    let build: FilterStateStore.Build
    let route: String
    let entry: String

    /// Objects that belong to this entry alone and actions that run at once: a filter made outside
    /// a gateway.
    static func standalone(route: String) -> FilterStateScope {
        FilterStateScope(build: FilterStateStore.Build(mode: .standalone), route: route, entry: "standalone")
    }
}
