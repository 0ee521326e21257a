import ArgumentParser
import Embedder
import EventLoop
import ProxyServer
import ProxyConfig
import ProxyCore
import StoragePorts

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the proxy (the default). With no arguments: the Personal Edition in ./storage/.",
        discussion: """
            Listens on a Unix socket (./storage/proxy.sock, mode 0660) and, with --listen, on TCP. \
            Stops cleanly on SIGINT/SIGTERM: answers what it received, commits, closes, removes the socket file.
            """)

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try options.resolve()
        let log = Logger(level: config.server.logLevel, format: Logger.Format(rawValue: config.server.logFormat) ?? .plain)
        // The loop first, then the backends on it, then the server with them.
        let loop = UVLoop()
        let handoff = LoopHandoff(loop: loop)
        // A start that fails closes the hand-off, so that what it holds is freed
        // (its close callback runs in one more loop turn) before the process exits.
        func failed(_ why: String) -> RuntimeError {
            handoff.close()
            loop.runPending()
            return RuntimeError(why)
        }
        let backends: Backends
        do {
            backends = try BackendFactory.make(config, loop: loop, handoff: handoff, log: log)
        } catch let error as ProxyError {
            throw failed(error.message)
        }
        let embedder = config.vector.embedder.map { OpenAIEmbedder(loop: loop, settings: $0, maxDimension: config.vector.maxDimension) }
        var vector = config.vector
        vector.graphDirectory = config.graphDirectory ?? ""
        let server = ProxyServer(config: config.server, log: log, loop: loop, handoff: handoff, backends: backends,
                                 vector: vector, embedder: embedder)
        server.startedWith = config
        if options.config != nil { server.reloadConfiguration = { try options.resolve() } }
        do {
            try server.start()
        } catch {
            throw failed(error.description)
        }
        log.info("storage-proxy \(ProxyServer.build.version) (\(ProxyServer.build.commit)) serving. " + BackendFactory.describe(config),
                 event: "start", BackendFactory.summary(config))
        if let embedder { log.info("vector embedder: \(embedder.model) at \(embedder.address)", event: "start") }
        server.run()
    }
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending schema migrations and exit (serve applies them too). Safe to repeat.")

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try options.resolve()
        let outcome = Result { () throws(ProxyError) in try BackendFactory.migrate(config) }
        switch outcome {
        case .success(let (applied, version)):
            print(applied.isEmpty ? "schema is up to date (version \(version))"
                  : "applied migration(s) \(applied.map(String.init).joined(separator: ", ")); schema version \(version)")
        case .failure(let error):
            throw RuntimeError(error.message)
        }
    }
}

struct PrintOpenRPC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openrpc", abstract: "Print the OpenRPC description of the API (protocol/openrpc.json).")

    func run() {
        print(ProxyServer.openRPCDocument().prettyPrinted())
    }
}

struct PrintConfigKeys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-keys", abstract: "Print every configuration key, its default and meaning (README's table).")

    func run() {
        print(ConfigKey.markdownTable, terminator: "")
    }
}
