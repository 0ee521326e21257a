import Foundation

/// redis-benchmark's GET, for the side-by-side figure of a cached `get_task`.
public enum RedisBenchmark {
    public static func getRate(url: String, connections: Int, pipeline: Int, seconds: Double) throws -> Double {
        guard url.hasPrefix("redis://"), let hostPort = url.dropFirst("redis://".count).split(separator: "/").first else {
            throw BenchError("--redis-benchmark needs --cache redis://HOST:PORT")
        }
        let parts = hostPort.split(separator: ":")
        // Enough requests to run about `seconds` at the rates seen here.
        let requests = max(100_000, Int(seconds * 400_000))
        let text = try output(of: "/usr/bin/redis-benchmark", [
            "-h", String(parts[0]), "-p", parts.count > 1 ? String(parts[1]) : "6379", "-c", String(connections),
            "-P", String(pipeline), "-n", String(requests), "-t", "get", "-d", "300", "-q"])
        // "GET: 123456.79 requests per second, p50=…"
        guard let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).last(where: { $0.contains("GET: ") }),
              let rate = Double(line.components(separatedBy: "GET: ").last?.split(separator: " ").first ?? "") else {
            throw BenchError("redis-benchmark gave no figure:\n\(text)")
        }
        return rate
    }
}
