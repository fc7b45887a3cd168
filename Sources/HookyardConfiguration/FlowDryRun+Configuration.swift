import Outbound
import Workflows

extension HookyardConfiguration {
    /// The dry run of these rules (`hookyard dry-run`, the MCP tool `dry_run_rule`): the configured rules, contact
    /// policy and catalog, with every provider and `http_targets:` entry in dry-run whatever the API keys, so it
    /// sends nothing, and the requests go to the configured API bases in what it shows.
    public func flowDryRun() -> FlowDryRun {
        let providers = ProviderSet(stripe: DryRunProviderTransport(provider: "Stripe", baseURL: stripe.apiBase),
                                    instantly: DryRunProviderTransport(provider: "Instantly", baseURL: instantly.apiBase),
                                    stripeDryRun: true, instantlyDryRun: true)
        let targets = httpTargets.compactMap { target -> HTTPTarget? in
            guard let base = HTTPTarget.split(url: target.url)?.base else { return nil }
            return HTTPTarget(name: target.name, url: target.url, secret: target.secret,
                              transport: DryRunProviderTransport(provider: "http:\(target.name)", baseURL: base))
        }
        return FlowDryRun(rules: rules, policy: contactPolicy, catalog: catalog, providers: providers,
                          runner: ActionRunner(httpTargets: targets))
    }
}
