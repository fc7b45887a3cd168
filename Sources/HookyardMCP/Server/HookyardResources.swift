import Foundation
import MCP

/// What the server offers to read: the loaded configuration (`hookyard://configuration`, secrets never shown) and
/// each page of `docs/workflows/` (`hookyard://docs/workflows/<name>.md`), so an assistant can learn how the flows
/// work. Immutable; thread-safe. Pages are read from disk when asked for.
public struct HookyardResources: Sendable {
    public static let configurationURI = "hookyard://configuration"
    static let docsPrefix = "hookyard://docs/workflows/"

    let configuration: ConfigurationSummary
    /// The folder holding the workflow pages, or `nil` when none was found (the list then holds the configuration only).
    public let docsDirectory: URL?

    init(configuration: ConfigurationSummary, docsDirectory: URL?) {
        self.configuration = configuration
        self.docsDirectory = docsDirectory
    }

    /// The first `docs/workflows` folder among: `$HOOKYARD_DOCS`/workflows, ./docs/workflows, the source tree the
    /// running binary was built in (`.build/<config>/hookyard` → `docs/workflows`), /usr/share/doc/hookyard/workflows.
    public static func locateDocs(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        var candidates: [URL] = []
        if let root = environment["HOOKYARD_DOCS"] { candidates.append(URL(fileURLWithPath: root).appendingPathComponent("workflows")) }
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("docs/workflows"))
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(folder.appendingPathComponent("docs/workflows"))
            folder = folder.deletingLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: "/usr/share/doc/hookyard/workflows"))
        var isDirectory: ObjCBool = false
        return candidates.first { FileManager.default.fileExists(atPath: $0.path, isDirectory: &isDirectory) && isDirectory.boolValue }
    }

    var pages: [String] {
        guard let docsDirectory,
              let names = try? FileManager.default.contentsOfDirectory(atPath: docsDirectory.path) else { return [] }
        return names.filter { $0.hasSuffix(".md") }.sorted()
    }

    var list: [Resource] {
        [Resource(name: "configuration", uri: Self.configurationURI, title: "Hookyard configuration as loaded",
                  description: "Rules, segments, catalog and which secrets are set (never their values).", mimeType: "application/json")]
            + pages.map { page in
                Resource(name: "docs/workflows/\(page)", uri: Self.docsPrefix + page, title: "Workflow: \(page.dropLast(3))",
                         description: "How the \(page.dropLast(3)) flow works, step by step.", mimeType: "text/markdown")
            }
    }

    /// The content of `uri`. - Throws: `MCPError.invalidParams` naming an unknown resource.
    func read(_ uri: String) throws -> ReadResource.Result {
        if uri == Self.configurationURI {
            return ReadResource.Result(contents: [.text(configuration.structured.jsonText, uri: uri, mimeType: "application/json")])
        }
        if uri.hasPrefix(Self.docsPrefix) {
            let page = String(uri.dropFirst(Self.docsPrefix.count))
            if pages.contains(page), let docsDirectory,
               let text = try? String(contentsOf: docsDirectory.appendingPathComponent(page), encoding: .utf8) {
                return ReadResource.Result(contents: [.text(text, uri: uri, mimeType: "text/markdown")])
            }
        }
        throw MCPError.invalidParams("unknown resource '\(uri)'; the resources are: \(list.map(\.uri).joined(separator: ", "))")
    }
}
