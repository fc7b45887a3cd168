// bench-report: how long the success-metrics report takes on a large database.
//
// Setup (not timed, about 20 s): a fresh database in a temporary directory filled by `DemoDataset` (the generator of
// `hookyard demo seed`) with `contacts` leads over 90 days: 100,000 contacts give about 1,000,000 events, each with
// its contact_activity or contact_payments row, as the daemon leaves them. Then `ReportBuilder` computes the report
// for each attribution model and grouping, `runs` times each, on one connection, for two periods: the default (the
// last 30 days) and the whole 90 days. Prints the median and the largest time per combination, in milliseconds, and
// the median CPU time of a report (both of its threads: what it costs on a machine whose cores are busy).
//
// Usage: bench-report [contacts=100000] [runs=5]
// With BENCH_REPORT_DATABASE=FILE, a database `hookyard demo seed` made (or an earlier run kept) is reported on instead
// of a new one, and kept; a PostgreSQL URI there reports on a PostgreSQL demo database (`hookyard demo seed --database
// postgresql://…`; the password, if any, from HOOKYARD_DATABASE_PASSWORD).
import DemoData
import Foundation
import HookyardFoundation
import Reports
import Store
import TestSupport

let arguments = BenchmarkSupport.arguments(defaults: [100_000, 5])
let (contacts, runs) = (arguments[0], max(1, arguments[1]))
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-report-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }
let given = ProcessInfo.processInfo.environment["BENCH_REPORT_DATABASE"].flatMap { $0.isEmpty ? nil : $0 }
let path = given ?? directory.appendingPathComponent("report.db").path

func milliseconds(since start: DispatchTime) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6 }

/// CPU time this process has used, user and system, in milliseconds.
func cpuMilliseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000
}

let now = WallClock.nowMilliseconds()
let bytes = { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
let location: DatabaseLocation = DatabaseLocation.isPostgreSQLURI(path)
    ? .postgresql(url: path, password: ProcessInfo.processInfo.environment["HOOKYARD_DATABASE_PASSWORD"])
    : .sqlite(path: path)
if let given {
    let size = location.engine == "sqlite" ? ", database \(bytes() / 1_048_576) MB" : ""
    print("report benchmark: \(given)\(size); \(runs) runs per line, \(ProcessInfo.processInfo.activeProcessorCount) cores")
} else {
    let seeding = DispatchTime.now()
    let summary = try DemoDataset(contacts: contacts, seed: 7, now: now).create(path: path, force: false)
    print("""
        report benchmark: \(summary.events) events, \(summary.contacts) contacts, \(summary.payments) payments, \
        \(summary.links) payment links; database \(bytes() / 1_048_576) MB, seeded in \(String(format: "%.1f", milliseconds(since: seeding) / 1000)) s \
        (not timed); \(runs) runs per line, \(ProcessInfo.processInfo.activeProcessorCount) cores
        """)
}

let builder = try ReportBuilder(location)
defer { builder.close() }
var worst = 0.0
for (label, days) in [("last 30 days", Int64(30)), ("all 90 days", Int64(90))] {
    for model in AttributionModel.allCases {
        for grouping in ReportGrouping.allCases {
            let query = ReportQuery(since: now - days * 86_400_000, until: now, model: model, grouping: grouping)
            var times: [Double] = []
            var cpu: [Double] = []
            var report: Report?
            for _ in 0..<runs {
                let (start, startCPU) = (DispatchTime.now(), cpuMilliseconds())
                report = try builder.build(query, now: now)
                times.append(milliseconds(since: start))
                cpu.append(cpuMilliseconds() - startCPU)
            }
            times.sort()
            cpu.sort()
            worst = max(worst, times.last!)
            let orders = report?.headline.figures.orders ?? 0
            let name = "\(label)  \(model.rawValue) touch by \(grouping.rawValue)"
            print(name.padding(toLength: 38, withPad: " ", startingAt: 0)
                  + String(format: "median %6.1f ms  max %6.1f ms  CPU %6.1f ms  (%d groups, %d orders)", times[times.count / 2],
                           times.last!, cpu[cpu.count / 2], report?.groups.count ?? 0, orders))
        }
    }
}
print(String(format: "slowest report: %.1f ms (target: under 1000 ms)", worst))
