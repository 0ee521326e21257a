import ArgumentParser
import Foundation
import ProxyCore
import StorageProxyClient

struct ImportFiles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-files",
        abstract: "Import a seed-era storage/ folder (tasks/*.json, logs/*) into the configured storage.",
        discussion: """
            tasks/*.json: one task per file; the file name is the id when the JSON has none. A task whose id is \
            already stored is left as it is. logs/NAME[.log|.jsonl]: the logs of task NAME, one per line, in \
            Python's default format (`2026-11-24 10:00:00,123 - INFO - message`, read as UTC; lines that do not \
            start a record continue the one before, e.g. tracebacks) or as JSON objects (created_at|timestamp, \
            level, message; other members become metadata). Each log's id is its file and line, so running the \
            import again adds nothing. The source folder is only read. \
            Writes go through a proxy: the one at --address, or one this command starts on the configured storage \
            (give --address while a proxy already serves that storage).
            """)

    @Option(help: "The folder holding tasks/ and logs/ (e.g. ./storage).") var source: String
    @Flag(help: "Read and check everything, report what would be imported, write nothing.") var dryRun = false
    @Option(help: "A running proxy to import through (unix:///path or tcp://host:port).") var address: String?
    @Option(help: "Auth token for --address over TCP (default: $STORAGE_PROXY_AUTH_TOKEN).") var token: String?
    @Option(help: "YAML config file of the storage to import into (as for serve).") var config: String?
    @Option(help: "Storage backend: sqlite or postgresql.") var storage: String?
    @Option(help: "SQLite file path, or a postgresql:// URL.") var database: String?
    @Option(help: "Cache of the proxy this command starts: none, memory or redis://….") var cache: String?

    func run() async throws {
        let folder = try StorageFolder(source: source)
        var proxy: PrivateProxy?
        let dir = NSTemporaryDirectory() + "storage-proxy-import-\(getpid())"
        let client: ProxyClient
        if let address {
            let a = try proxyAddress(address)
            client = ProxyClient(a, token: token ?? environmentToken(), connectTimeout: 0)
        } else {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var args: [String] = []
            for (flag, value) in [("--config", config), ("--storage", storage), ("--database", database), ("--cache", cache)] {
                if let value { args += [flag, value] }
            }
            proxy = try await PrivateProxy(arguments: args, socket: dir + "/import.sock")
            client = ProxyClient(.unix(dir + "/import.sock"))
        }
        defer {
            client.close()
            proxy?.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        var importer = Importer(client: client, folder: folder, dryRun: dryRun)
        try await importer.run()
        print(importer.report(source: source))
    }
}
