#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import StorageCore
import StorageProxyClient

struct Call: ParsableCommand {
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

    @Option(name: .long, help: "unix:///path/to.sock, a socket path, or tcp://host:port.")
    var address = "unix://./storage/proxy.sock"

    @Option(name: .long, help: "Auth token for TCP listeners that require one (default: $STORAGE_PROXY_TOKEN).")
    var token: String?

    func run() throws {
        guard let address = ProxyAddress(address) else { throw ValidationError("bad --address \(self.address)") }
        var paramsValue: JSONValue?
        if let params {
            guard let v = try? JSONParser.parse(params), case .object = v else {
                throw ValidationError("parameters must be a JSON object, e.g. '{\"task_id\":\"t1\"}'")
            }
            paramsValue = v
        }
        do {
            let client = try LineClient(address)
            if let token = token ?? environment("STORAGE_PROXY_TOKEN") {
                let auth = try client.call("auth", ["token": .string(token)], id: 0)
                if let error = auth["error"] { fail(error) }
            }
            let response = try client.call(method, paramsValue)
            if let error = response["error"] { fail(error) }
            print((response["result"] ?? .null).prettyPrinted())
        } catch {
            printError("storage-proxy: \(error.description)")
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

func environment(_ name: String) -> String? {
    guard let v = getenv(name) else { return nil }
    return String(cString: v)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) { fputs(string, stderr) }
}
