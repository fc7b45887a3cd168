/// What Stripe accepts as `metadata` on an object (its API reference): at most 50 keys, key names of at most 40
/// characters without square brackets, values of at most 500 characters. A request beyond them is refused with a
/// 400, so Hookyard checks configured metadata when the configuration is loaded and rendered metadata before it is
/// sent. Stateless; thread-safe.
public enum StripeMetadataLimits {
    public static let maxKeys = 50
    public static let maxKeyLength = 40
    public static let maxValueLength = 500

    /// Why Stripe would refuse `key` as a metadata key, or `nil`.
    public static func keyProblem(_ key: String) -> String? {
        if key.isEmpty { return "Stripe refuses an empty metadata key" }
        if key.contains("[") || key.contains("]") { return "Stripe refuses metadata keys containing '[' or ']'" }
        if key.count > maxKeyLength { return "Stripe refuses metadata keys over \(maxKeyLength) characters (this one has \(key.count))" }
        return nil
    }

    /// Why Stripe would refuse `value` as a metadata value, or `nil`.
    public static func valueProblem(_ value: String) -> String? {
        value.count > maxValueLength ? "Stripe refuses metadata values over \(maxValueLength) characters (this one has \(value.count))" : nil
    }

    /// The first reason Stripe would refuse these pairs as an object's metadata, naming the key; `nil` when it
    /// would accept them.
    public static func problem(_ pairs: [(String, String)]) -> String? {
        if pairs.count > maxKeys { return "Stripe refuses more than \(maxKeys) metadata keys (this has \(pairs.count))" }
        for (key, value) in pairs {
            if let problem = keyProblem(key) { return "metadata key '\(String(key.prefix(60)))': \(problem)" }
            if let problem = valueProblem(value) { return "metadata '\(key)': \(problem)" }
        }
        return nil
    }
}
