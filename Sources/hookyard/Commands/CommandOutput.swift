import HookyardConfiguration
import ArgumentParser
import Contacts
import Foundation
import HookyardFoundation
import Reports
import Store

/// Helpers the commands share for opening the store and printing: JSON lines, columns, times and amounts.

/// Opens one of the store's connections for a command; its failure (no database file, a newer schema) becomes the
/// command's error message.
func openStore<Connection>(_ open: () throws -> Connection) throws -> Connection {
    do {
        return try open()
    } catch {
        throw ValidationError("\(error)")
    }
}

func jsonLine(_ object: [String: Any], pretty: Bool = false) throws -> String {
    var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
    if pretty { options.insert(.prettyPrinted) }
    return String(decoding: try JSONSerialization.data(withJSONObject: object, options: options), as: UTF8.self)
}

/// `text` left-aligned in a column of `width` characters (at least one space after it).
func column(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

func isoTime(_ milliseconds: Int64) -> String { ISO8601Timestamp.string(milliseconds) }

/// `USD 147.00` from Stripe's smallest-unit amount (`JPY 500` for a zero-decimal currency).
func formatAmount(_ amount: Int64, currency: String) -> String { ReportFormat.amount(amount, currency: currency) }

/// A total that does not fit 64 bits (amounts are stored as received), said as such rather than summed.
func overflowedAmount(_ currency: String) -> String { "\(currency.uppercased()) overflowed (total beyond ±9.2e18 smallest units)" }
