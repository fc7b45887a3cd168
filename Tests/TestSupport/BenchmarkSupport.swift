import Logging

/// What the benchmark programs (`Benchmarks/`) share: positional whole-number arguments with defaults, and logs
/// kept out of their printed figures.
public enum BenchmarkSupport {
    /// The command line's positional arguments as whole numbers, each falling back to its default when absent or
    /// not a number.
    public static func arguments(defaults: [Int]) -> [Int] {
        let given = CommandLine.arguments.dropFirst().map { Int($0) }
        return defaults.indices.map { index in index < given.count ? given[index] ?? defaults[index] : defaults[index] }
    }

    /// Only critical log lines, on standard error.
    public static func silenceLogs() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .critical
            return handler
        }
    }
}
