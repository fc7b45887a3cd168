import HookyardConfiguration
import Alerts
import ArgumentParser
import Dispatch
import Foundation
import SystemCalls
import HTTPServer
import Intake
import Logging
import Metrics
import Outbound
import Reports
import Store
import Synchronization
import Workflows

/// What `serve` asks of the process and the system: the open-file limit, and hints for a listener that failed.
extension Serve {
    /// Raises the soft open-file limit to the hard limit (the soft default of 1024 exists for select(), which
    /// Hookyard does not use). - Returns: the limit now in force.
    static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > UInt(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// What to do about a listener that could not be opened, naming the setting that moves it.
    static func listenHint(_ error: any Error, setting: String) -> String {
        switch (error as? SystemCallError)?.errno {
        case EADDRINUSE: "another process listens on this address (find it with `ss -ltnp`); stop it, or choose another address with \(setting)"
        case EACCES: "ports below 1024 need privileges; choose a port of 1024 or above with \(setting), or start under systemd"
        case EADDRNOTAVAIL: "this machine has no such address; choose one of its addresses (or 127.0.0.1) with \(setting)"
        default: "check the address given by \(setting)"
        }
    }
}
