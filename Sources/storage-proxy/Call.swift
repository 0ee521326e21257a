#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ProxyCore
import StorageProxyClient

struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one request to a running proxy and print the result.",
        discussion: """
            Exits 0 with the result pretty-printed, or 1 with the JSON-RPC error on standard error. \
            Example: storage-proxy call get_task '{"task_id":"t1"}'
            """)

    @Argument(help: "Method name, e.g. health_check or save_task.")
    var method: String

    @Argument(help: "Parameters as a JSON object.")
    var params: String?

    @Option(name: .long, help: "unix:///path/to.sock, a socket path, tcp://host:port or host:port (default: $STORAGE_PROXY_ADDRESS, else unix://./storage/proxy.sock).")
    var address: String?

    @Option(name: .long, help: "Auth token for TCP listeners that require one (default: $STORAGE_PROXY_AUTH_TOKEN).")
    var token: String?

    func run() async throws {
        let text = address ?? environment("STORAGE_PROXY_ADDRESS") ?? "unix://./storage/proxy.sock"
        let address = try proxyAddress(text)
        var paramsValue = JSONObject()
        if let params {
            guard case .object(let object)? = try? JSONParser.parse(params) else {
                throw ValidationError("parameters must be a JSON object, e.g. '{\"task_id\":\"t1\"}'")
            }
            paramsValue = object
        }
        let client = ProxyClient(address, token: token ?? environmentToken(), connectTimeout: 0)
        defer { client.close() }
        do {
            let result = try await client.call(method, paramsValue)
            print(result.prettyPrinted())
            // Health checks (Dockerfile, compose) read the exit status: storage not answering is a failure.
            if method == "health_check", result == .bool(false) {
                printError("storage-proxy: health_check answered false: storage is not answering")
                Call.exit(withError: ExitCode(1))
            }
        } catch let error as ProxyError {
            var wire: JSONObject = ["code": .int(Int64(error.code)), "message": .string(error.message)]
            if let data = error.data { wire["data"] = data }
            fail(.object(wire))
        } catch {
            printError("storage-proxy: \(error)")
            throw ExitCode(2)
        }
    }

    private func fail(_ error: JSONValue) -> Never {
        printError(error.prettyPrinted())
        Call.exit(withError: ExitCode(1))
    }
}

func printError(_ text: String) {
    var stderr = StandardError()
    print(text, to: &stderr)
}

/// `STORAGE_PROXY_AUTH_TOKEN` (or the older `STORAGE_PROXY_TOKEN`).
func environmentToken() -> String? {
    environment("STORAGE_PROXY_AUTH_TOKEN") ?? environment("STORAGE_PROXY_TOKEN")
}

/// An address from the command line or the environment; an unknown scheme is a usage error naming the ones there are.
func proxyAddress(_ text: String) throws -> ProxyAddress {
    guard let address = ProxyAddress(text) else {
        throw ValidationError("cannot use the address '\(text)': expected unix:///path/to.sock, a socket path, tcp://host:port or host:port")
    }
    return address
}

func environment(_ name: String) -> String? {
    guard let v = getenv(name) else { return nil }
    return String(cString: v)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) { fputs(string, stderr) }
}
