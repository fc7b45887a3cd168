import StrictJSON

/// The scanner lives in `StrictJSON`, beside the workers' parser whose grammar it shares.
public typealias JSONObjectScanner = StrictJSON.JSONObjectScanner
