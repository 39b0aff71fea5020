import NIOCore

/// A timer that is cheap to re-arm, for deadlines that move on every request (header read,
/// keep-alive idle, upstream response). Moving the deadline later only stores it; the task
/// already scheduled re-schedules itself for the new deadline when it fires early. So a busy
/// keep-alive connection schedules about one task per timeout period instead of several per
/// request. Used only on `eventLoop`.
final class LazyTimer {
    private let eventLoop: any EventLoop
    private var deadline: NIODeadline?
    private var scheduled: Scheduled<Void>?
    private var scheduledAt = NIODeadline.distantFuture
    private let onFire: () -> Void

    init(eventLoop: any EventLoop, onFire: @escaping () -> Void) {
        self.eventLoop = eventLoop
        self.onFire = onFire
    }

    /// Fires `amount` from now, replacing any earlier deadline.
    func arm(in amount: TimeAmount) {
        let new = NIODeadline.now() + amount
        deadline = new
        if scheduled == nil || new < scheduledAt { schedule(new) }
    }

    /// Does not fire until armed again.
    func disarm() {
        deadline = nil
    }

    /// Disarms and cancels the scheduled task (the owner is going away).
    func stop() {
        deadline = nil
        scheduled?.cancel()
        scheduled = nil
    }

    private func schedule(_ at: NIODeadline) {
        scheduled?.cancel()
        scheduledAt = at
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        scheduled = eventLoop.scheduleTask(deadline: at) { loopBound.value.fired() }
    }

    private func fired() {
        scheduled = nil
        guard let deadline else { return }
        if deadline <= .now() {
            self.deadline = nil
            onFire()
        } else {
            schedule(deadline)
        }
    }
}
