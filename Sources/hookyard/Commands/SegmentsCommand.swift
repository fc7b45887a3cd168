import HookyardConfiguration
import ArgumentParser
import Contacts
import Cryptography
import Foundation
import Intake
import Logging
import Outbound
import Store
import StrictJSON
import Workflows

/// `hookyard segments list`: the configured segments with their member counts now.
struct SegmentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "segments", abstract: "Inspect the configured segments.", subcommands: [List.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the segments with how many contacts are in each now.")
        @OptionGroup var options: ConfigurationOptions
        @Flag(help: "Print JSON lines.") var json = false

        func run() throws {
            let settings = try options.load(rules: false)
            let store = try openContacts(settings.databaseLocation)
            defer { store.close() }
            let compiler = settings.segmentCompiler
            let at = now()
            var rows: [(name: String, members: Int)] = []
            for definition in settings.segments {
                guard let query = compiler.query(segment: definition.name) else { continue }
                rows.append((definition.name, try store.count(matching: query, now: at)))
            }
            if json {
                for row in rows { print(JSONValue.object(["segment": .string(row.name), "members": .integer(Int64(row.members))]).serialized()) }
                return
            }
            for issue in settings.ignoredIssues {
                FileHandle.standardError.write(Data("left out: \(issue)\n".utf8))
            }
            if rows.isEmpty {
                print("no segments are configured (see docs/segments.md)")
                return
            }
            print(column("SEGMENT", 30) + "MEMBERS")
            for row in rows { print(column(row.name, 30) + String(row.members)) }
        }
    }
}
