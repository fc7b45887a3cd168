#if canImport(Glibc)
import Glibc
#endif

/// `serve`'s signals, caught from the first instant: `install()` sets plain `sigaction` handlers for SIGTERM, SIGINT
/// and SIGHUP synchronously, and each handler only posts a POSIX semaphore (async-signal-safe), so a signal that
/// arrives at any moment after `install()` returns is counted and waited for, never lost or fatal. (A Dispatch signal
/// source needs the signal ignored first and arms itself asynchronously: a SIGTERM in between was dropped, and the
/// daemon then waited for a stop that had already come.)
///
/// One per process; thread-safe (the waits may run on any threads).
final class StopSignals: Sendable {
    private init() {}

    /// Installs the handlers. Call once, before starting anything that a stop must stop.
    static func install() -> StopSignals {
        // Touch the semaphores first: the handlers must find them initialised.
        _ = stopSemaphore
        _ = reloadSemaphore
        install(SIGTERM) { _ in sem_post(stopSemaphore) }
        install(SIGINT) { _ in sem_post(stopSemaphore) }
        install(SIGHUP) { _ in sem_post(reloadSemaphore) }
        return StopSignals()
    }

    /// Blocks until SIGTERM or SIGINT has arrived (at once if one came before the call).
    func waitForStop() { wait(stopSemaphore) }

    /// Blocks until a SIGHUP arrives that has not been waited for yet.
    func waitForReload() { wait(reloadSemaphore) }

    private func wait(_ semaphore: UnsafeMutablePointer<sem_t>) {
        while sem_wait(semaphore) != 0 {
            guard errno == EINTR else { return }  // sem_wait fails otherwise only for an invalid semaphore
        }
    }

    private static func install(_ number: Int32, _ handler: @convention(c) (Int32) -> Void) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(number, &action, nil)
    }
}

/// Posted by the SIGTERM and SIGINT handlers. Allocated once and never freed: a handler may run at any time.
private nonisolated(unsafe) let stopSemaphore: UnsafeMutablePointer<sem_t> = makeSemaphore()
/// Posted by the SIGHUP handler.
private nonisolated(unsafe) let reloadSemaphore: UnsafeMutablePointer<sem_t> = makeSemaphore()

private func makeSemaphore() -> UnsafeMutablePointer<sem_t> {
    let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    sem_init(semaphore, 0, 0)
    return semaphore
}
