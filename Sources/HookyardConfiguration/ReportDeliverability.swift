import Alerts
import Reports

extension HookyardConfiguration {
    /// The report's deliverability rows, for `ReportBuilder`: bounce, unsubscribe and reply rates per sending account
    /// and per campaign over the deliverability watch's window (`deliverability.window`, 7 days) ending at the report's
    /// `until`, every account and campaign that sent at least one email in it (the watch judges only those with
    /// `deliverability.min_sent`). Read on a connection of its own, opened per report.
    public func reportDeliverability() -> ReportBuilder.DeliverabilityProvider {
        let database = databaseLocation
        let window = deliverability.windowMilliseconds
        return { query in
            let reader = try DeliverabilityRatesReadingOpening.open(database)
            return try reader.rates(windowMilliseconds: window, now: query.until, minimumSent: 1).map { rates in
                DeliverabilityRow(scope: rates.scope == .account ? .account : .campaign, key: rates.key, sent: rates.sent,
                                  bounced: rates.bounced, unsubscribed: rates.unsubscribed, replied: rates.replied,
                                  bounceRate: rates.bounceRate, unsubscribeRate: rates.unsubscribeRate, replyRate: rates.replyRate)
            }
        }
    }
}
