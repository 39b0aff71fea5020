import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Threads reserved for running guest code, so that a long guest call (up to its timeout) never
/// occupies a thread of Swift's cooperative pool, where it would stall unrelated tasks and timers.
///
/// A `TaskExecutor`: ``Plugin`` runs each call under `withTaskExecutorPreference(executor)`.
/// Jobs run in FIFO order on `threadCount` threads.
public final class GuestExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` and `stopping` are guarded by `mutex`; threads are joined in deinit.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [UnownedJob] = []
    private var head = 0
    private var stopping = false
    /// Threads blocked on `condition`.
    private var sleepers = 0
    /// Jobs queued and not yet taken, readable without the lock by a spinning thread.
    private let pending = Atomic<Int>(0)
    /// Whether a thread is spinning for the next job (at most one spins).
    private let spinning = Atomic<Bool>(false)
    /// How long an idle thread spins for the next job before it sleeps. A caller making calls in
    /// a row then finds a thread awake instead of paying a wake-up (tens of µs on a busy VM).
    static let spinNanoseconds: UInt64 = 50_000
    private var threads: [pthread_t] = []
    public let threadCount: Int

    /// Starts `threadCount` threads (default: the number of cores).
    public init(threadCount: Int? = nil) {
        self.threadCount = max(1, threadCount ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        for _ in 0..<self.threadCount {
            var thread = pthread_t()
            let box = Unmanaged.passRetained(self)
            let result = pthread_create(&thread, nil, { argument in
                #if canImport(Darwin)
                    let executor = Unmanaged<GuestExecutor>.fromOpaque(argument).takeRetainedValue()
                #else
                    let executor = Unmanaged<GuestExecutor>.fromOpaque(argument!).takeRetainedValue()
                #endif
                executor.work()
                return nil
            }, box.toOpaque())
            if result == 0 {
                pthread_detach(thread)
                threads.append(thread)
            } else {
                box.release()
            }
        }
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Stops the threads once the queued jobs have run. Jobs enqueued afterwards run on the
    /// calling thread of `enqueue`.
    public func shutdown() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        pthread_mutex_lock(mutex)
        if stopping {
            pthread_mutex_unlock(mutex)
            unowned.runSynchronously(on: asUnownedTaskExecutor())
            return
        }
        jobs.append(unowned)
        let queued = pending.add(1, ordering: .sequentiallyConsistent).newValue
        // A spinning thread takes the first queued job; wake a sleeper for any more.
        if sleepers > 0 && (queued > 1 || !spinning.load(ordering: .sequentiallyConsistent)) {
            pthread_cond_signal(condition)
        }
        pthread_mutex_unlock(mutex)
    }

    private func work() {
        let executor = asUnownedTaskExecutor()
        while true {
            pthread_mutex_lock(mutex)
            while head == jobs.count && !stopping {
                if spinning.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
                    pthread_mutex_unlock(mutex)
                    let until = Watchdog.now() &+ Self.spinNanoseconds
                    while pending.load(ordering: .sequentiallyConsistent) == 0 && Watchdog.now() < until {}
                    spinning.store(false, ordering: .sequentiallyConsistent)
                    pthread_mutex_lock(mutex)
                    if head < jobs.count { break }
                }
                sleepers += 1
                pthread_cond_wait(condition, mutex)
                sleepers -= 1
            }
            if head == jobs.count && stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            let job = jobs[head]
            head += 1
            pending.subtract(1, ordering: .sequentiallyConsistent)
            if head > 1024 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            pthread_mutex_unlock(mutex)
            job.runSynchronously(on: executor)
        }
    }
}
