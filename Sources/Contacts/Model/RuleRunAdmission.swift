/// What the loop guard decided when a rule asked to start a flow for a person (`ContactStorage.admitRuleRun`).
/// A value type; thread-safe.
public enum RuleRunAdmission: Sendable, Equatable {
    case admitted
    /// The rule already started `maxPerDay` flows for this contact in the last 24 hours.
    case contactCap
    /// The rule already started `maxTotalPerDay` flows, for everyone, in the last 24 hours (recorded as a
    /// `max_per_day` holdback).
    case ruleCap
}
