import StrictJSON

/// `JSONValue` lives in `StrictJSON` (the grammar intake shares); Outbound's users keep naming it from here.
public typealias JSONValue = StrictJSON.JSONValue
