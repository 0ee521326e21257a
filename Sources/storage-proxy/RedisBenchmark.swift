import Foundation

/// redis-benchmark's GET, for the side-by-side figure of a cached `get_task`.
enum RedisBenchmark {
    static func getRate(url: String, connections: Int, pipeline: Int, seconds: Double) throws -> Double {
        guard url.hasPrefix("redis://"), let hostPort = url.dropFirst("redis://".count).split(separator: "/").first else {
            throw RuntimeError("--redis-benchmark needs --cache redis://HOST:PORT")
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
            throw RuntimeError("redis-benchmark gave no figure:\n\(text)")
        }
        return rate
    }
}

/// Zipf-distributed ranks 0..<count (s = 1): rank k with weight 1/(k+1).
struct Zipf {
    private let cumulative: [Double]

    init(count: Int) {
        var sum = 0.0
        cumulative = (0..<count).map { k in sum += 1 / Double(k + 1); return sum }
    }

    func next(_ rng: inout some RandomNumberGenerator) -> Int {
        let x = Double.random(in: 0..<cumulative.last!, using: &rng)
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
