// swift-tools-version:6.0
import PackageDescription

/// Settings shared by every Swift target: Swift 6 language mode (strict concurrency is the default there).
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .unsafeFlags(["-warnings-as-errors"], .when(configuration: .debug)),
]

let package = Package(
    name: "hookyard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hookyard", targets: ["hookyard"]),
        .executable(name: "bench-requests", targets: ["BenchRequests"]),
        .executable(name: "bench-drain", targets: ["BenchDrain"]),
        .executable(name: "bench-contacts", targets: ["BenchContacts"]),
        .executable(name: "bench-report", targets: ["BenchReport"]),
        .executable(name: "bench-mcp", targets: ["BenchMCP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", exact: "0.12.1"),
    ],
    targets: [
        // C libraries: module maps only.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),

        .systemLibrary(name: "CPostgreSQL", path: "Sources/CPostgreSQL", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),

        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),

        // The one syscall layer (swift-nio's rule: EINTR retried, EAGAIN "would block", EBADF/EFAULT fatal) and
        // `FileDescriptor`, the owner that closes a descriptor once.
        .target(name: "SystemCalls", dependencies: ["CLinux"], swiftSettings: swiftSettings),
        // Sockets, epoll loops, Dispatch, the bounded HTTP/1.1 parser. Knows nothing of Stripe or Instantly.
        .target(name: "HTTPServer",
                dependencies: ["CLinux", "SystemCalls", "StrictJSON", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        // HMAC-SHA256, SHA-256 and the `t=…,v1=…` signature header, on libcrypto: the one place OpenSSL is called.
        .target(name: "Cryptography", dependencies: ["COpenSSL"], swiftSettings: swiftSettings),
        // Counters, gauges and histograms rendered in the Prometheus text format; Hookyard's named metrics.
        .target(name: "Metrics", swiftSettings: swiftSettings),
        // Conditions an admin is told about (dead jobs, deliverability, Instantly's webhook), raised and cleared.
        .target(name: "Alerts",
                dependencies: ["StrictJSON", "HookyardFoundation", "Store", "SQLite", "PostgreSQL", "Jobs", "Outbound", "Metrics", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        // The one SQLite wrapper: connections, statements, bindings, row decoding; SQLite's own words in its errors.
        .target(name: "SQLite", dependencies: ["CSQLite"], swiftSettings: swiftSettings),
        // The one libpq wrapper: connections, prepared statements, typed parameters, rows, advisory locks,
        // LISTEN/NOTIFY; PostgreSQL's SQLSTATE and message in its errors.
        .target(name: "PostgreSQL", dependencies: ["CPostgreSQL", "SystemCalls"], swiftSettings: swiftSettings),
        // Events, jobs, schema, migrations; group commit.
        .target(name: "Store",
                dependencies: ["HookyardFoundation", "SQLite", "PostgreSQL", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        // Contacts: what a contact is (model, engagement, payment status, registrations, export, erasure), what each
        // stored event says about a person, segments, and contact storage (`ContactStorage`, SQLite beside it).
        .target(name: "Contacts",
                dependencies: ["HookyardFoundation", "Store", "SQLite", "PostgreSQL", "StrictJSON"],
                swiftSettings: swiftSettings),
        // What every module may share: one injectable clock and ISO-8601 parsing, the one spelling of an email address,
        // Instantly's webhook event vocabulary. Depends on nothing of Hookyard's.
        .target(name: "HookyardFoundation", swiftSettings: swiftSettings),
        // The one JSON grammar (strict RFC 8259, UTF-8): intake's scanner and the workers' `JSONValue` share it.
        .target(name: "StrictJSON", swiftSettings: swiftSettings),
        // Routes, signature verification, event normalisation and dedup keys.
        .target(name: "Intake",
                dependencies: ["HookyardFoundation", "HTTPServer", "Store", "Cryptography", "Metrics", "StrictJSON",
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        // libcurl client, provider clients, signed outbound posts. Knows nothing of HTTP serving.
        .target(name: "Outbound",
                dependencies: ["HookyardFoundation", "CCurl", "Cryptography", "Metrics", "StrictJSON"],
                swiftSettings: swiftSettings),
        // Job execution: the worker pool, the retry policy, the registry of job kinds, JobFailure. Knows no workflow.
        .target(name: "Jobs",
                dependencies: ["HookyardFoundation", "Store", "Metrics", "SystemCalls", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        // Rules, actions and the engine that runs them as job kinds through Outbound.
        .target(name: "Workflows",
                dependencies: ["StrictJSON", "HookyardFoundation", "Store", "SQLite", "PostgreSQL", "Jobs", "Contacts", "Outbound", "Alerts", "Cluster", "Cryptography", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        // The success-metrics report (attribution, funnel, revenue, churn) computed from the store by SQL aggregates.
        .target(name: "Reports", dependencies: ["HookyardFoundation", "Store", "SQLite", "PostgreSQL"], swiftSettings: swiftSettings),
        // Generated report data (the demo dataset, the report benchmark's database) written straight into the store.
        .target(name: "DemoData", dependencies: ["HookyardFoundation", "Store", "SQLite", "PostgreSQL"], swiftSettings: swiftSettings),
        // The configuration file and environment read into the components' values: the YAML readers, secrets, and the
        // rule and segment language.
        .target(name: "HookyardConfiguration",
                dependencies: ["Jobs", "StrictJSON", "HookyardFoundation", "HTTPServer", "SQLite", "PostgreSQL", "Store", "Intake", "Outbound", "Contacts", "Workflows", "Alerts", "Reports", "Yams"],
                swiftSettings: swiftSettings),
        // The MCP server: Hookyard's tools, resources and prompts over the storage protocols, on the MCP Swift SDK.
        .target(name: "HookyardMCP",
                dependencies: ["HookyardFoundation", "HookyardConfiguration", "HTTPServer", "SQLite", "PostgreSQL", "Store", "Contacts", "Workflows", "Alerts", "Reports", "StrictJSON",
                               .product(name: "MCP", package: "swift-sdk"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        // What the nodes sharing one database coordinate: periodic tasks run by one node at a time, and request rate
        // limits that hold for the sum of the nodes.
        .target(name: "Cluster",
                dependencies: ["Store", "PostgreSQL", "Outbound", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        // CLI, logging, wiring.
        .executableTarget(name: "hookyard",
                          dependencies: ["HookyardFoundation", "HookyardConfiguration", "HTTPServer", "SystemCalls", "Store", "Intake", "Outbound", "Contacts", "Jobs", "Workflows", "Alerts", "Metrics", "Cryptography", "StrictJSON",
                                         "Cluster", "PostgreSQL", "SQLite",
                                         "Reports", "DemoData", "HookyardMCP",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log")],
                          swiftSettings: swiftSettings),

        // Generates signed deliveries for `make bench` (scripts/bench.sh).
        .executableTarget(name: "BenchRequests", dependencies: ["Intake"], path: "Benchmarks/BenchRequests",
                          swiftSettings: swiftSettings),
        // Drains a filled queue through the workers into the fake Stripe API (SQLite, or --postgresql URL), for
        // `make bench` and `make bench-postgresql`.
        .executableTarget(name: "BenchDrain",
                          dependencies: ["Workflows", "Jobs", "Store", "PostgreSQL", "Outbound", "TestSupport",
                                         .product(name: "Logging", package: "swift-log")],
                          path: "Benchmarks/BenchDrain", swiftSettings: swiftSettings),
        // Applies events to 100,000 seeded contacts through the workers (the contact job), for `make bench`.
        .executableTarget(name: "BenchContacts",
                          dependencies: ["StrictJSON", "HookyardFoundation", "Workflows", "Jobs", "Contacts", "Store", "SQLite", "Outbound", "TestSupport",
                                         .product(name: "Logging", package: "swift-log")],
                          path: "Benchmarks/BenchContacts", swiftSettings: swiftSettings),
        // Times the report (ReportBuilder) on 1,000,000 events and 100,000 contacts of demo data, for `make bench`.
        .executableTarget(name: "BenchReport", dependencies: ["HookyardFoundation", "Reports", "DemoData", "Store", "TestSupport"],
                          path: "Benchmarks/BenchReport", swiftSettings: swiftSettings),
        // Times every read tool of the MCP server on the report benchmark's database, for `make bench`.
        .executableTarget(name: "BenchMCP",
                          dependencies: ["HookyardFoundation", "HookyardMCP", "HookyardConfiguration", "DemoData", "PostgreSQL", "SQLite", "Store", "TestSupport",
                                         .product(name: "MCP", package: "swift-sdk")],
                          path: "Benchmarks/BenchMCP", swiftSettings: swiftSettings),

        // Helpers shared by the tests: a raw-socket HTTP client and a runner for the real binary.
        .target(name: "TestSupport", dependencies: ["HookyardFoundation", "HTTPServer", "Intake", "Store", "StrictJSON", "PostgreSQL", "SQLite", .product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "SystemCallsTests", dependencies: ["SystemCalls", "CLinux"], swiftSettings: swiftSettings),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "StrictJSON", "TestSupport", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "HookyardFoundationTests", dependencies: ["HookyardFoundation"], swiftSettings: swiftSettings),
        .testTarget(name: "SQLiteTests", dependencies: ["SQLite"], swiftSettings: swiftSettings),
        .testTarget(name: "PostgreSQLTests", dependencies: ["PostgreSQL", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Store", "PostgreSQL", "TestSupport", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(name: "StoreTests", dependencies: ["HookyardFoundation", "SQLite", "Store", "Contacts", "PostgreSQL", "TestSupport", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(name: "StrictJSONTests", dependencies: ["StrictJSON"], swiftSettings: swiftSettings),
        .testTarget(name: "IntakeTests", dependencies: ["StrictJSON", "Intake", "Cryptography", "HTTPServer", "Metrics", "SQLite", "Store", "TestSupport", .product(name: "Logging", package: "swift-log")],
                    resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(name: "OutboundTests", dependencies: ["Outbound", "HTTPServer", "StrictJSON", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ContactsTests", dependencies: ["HookyardFoundation", "SQLite", "Contacts", "Store", "PostgreSQL", "StrictJSON", "Workflows", "HookyardConfiguration", "TestSupport", .product(name: "Logging", package: "swift-log")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "JobsTests", dependencies: ["HookyardFoundation", "Jobs", "Store", "Metrics", "TestSupport", .product(name: "Logging", package: "swift-log")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "WorkflowsTests", dependencies: ["StrictJSON", "HookyardFoundation", "SQLite", "PostgreSQL", "Workflows", "Jobs", "Contacts", "Store", "Outbound", "Alerts", "TestSupport", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(name: "ReportsTests", dependencies: ["HookyardFoundation", "SQLite", "PostgreSQL", "Reports", "DemoData", "Store", "Contacts", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "AlertsTests", dependencies: ["HTTPServer", "StrictJSON", "HookyardFoundation", "Alerts", "PostgreSQL", "Jobs", "Workflows", "Store", "Outbound", "Metrics", "TestSupport", .product(name: "Logging", package: "swift-log")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "HookyardConfigurationTests",
                    dependencies: ["Intake", "HookyardConfiguration", "HTTPServer", "Contacts", "Outbound", "Store", "Jobs", "Workflows", "Yams", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "HookyardMCPTests",
                    dependencies: ["HookyardFoundation", "HookyardMCP", "HookyardConfiguration", "Store", "DemoData", "TestSupport",
                                   .product(name: "MCP", package: "swift-sdk")],
                    resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(name: "hookyardTests", dependencies: ["Metrics", "HTTPServer", "StrictJSON", "HookyardFoundation", "SQLite", "hookyard", "HookyardConfiguration", "Intake", "Store", "Contacts", "TestSupport", "Reports", "DemoData",
                                                         "Alerts", "Jobs", "Workflows", "Outbound", "PostgreSQL", .product(name: "Logging", package: "swift-log")],
                    exclude: ["Fixtures"], swiftSettings: swiftSettings),
    ]
)
