import ArgumentParser
import ProxyServer

@main
struct StorageProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage-proxy",
        abstract: "A storage proxy for AI-agent schedulers: line-delimited JSON-RPC 2.0 over a Unix socket or TCP, "
            + "backed by SQLite (Personal Edition) or PostgreSQL + Redis (Enterprise Edition).",
        version: "storage-proxy \(ProxyServer.build.version) (commit \(ProxyServer.build.commit))",
        subcommands: [Serve.self, Migrate.self, Call.self, ImportFiles.self, Copy.self, Export.self, Checksum.self, Backup.self,
                      Bench.self, PrintOpenRPC.self, PrintConfigKeys.self],
        defaultSubcommand: Serve.self)
}

/// A failure at run time (not a usage mistake): printed as `Error: …`, exit 1, no usage text.
struct RuntimeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
