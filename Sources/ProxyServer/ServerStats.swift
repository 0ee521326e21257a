import ProxyCore

/// Request counters and latency histograms per method, connection and byte
/// counters (`server.status`, `GET /metrics`).
/// Counters are exact; latency is sampled (one request in `sampleEvery`),
/// which keeps two clock reads off most requests. Loop thread only.
final class ServerStats {
    /// Log-scale latency buckets: 8 per power of two from 1 µs up to ~70 s.
    struct Histogram {
        static let bucketsPerOctave = 8
        private var buckets = [UInt64](repeating: 0, count: 27 * Histogram.bucketsPerOctave)
        private(set) var count: UInt64 = 0

        mutating func record(nanoseconds: UInt64) {
            // Octave from the highest set bit, the 3 bits below it pick one of 8 sub-buckets.
            let us = max(1, nanoseconds / 1000)
            let octave = 63 - us.leadingZeroBitCount
            let sub = octave >= 3 ? Int((us >> UInt64(octave - 3)) & 7) : Int((us << UInt64(3 - octave)) & 7)
            let i = min(buckets.count - 1, octave * Self.bucketsPerOctave + sub)
            buckets[i] += 1
            count += 1
        }

        /// The upper bound (µs) of the bucket holding the q-quantile.
        func quantile(_ q: Double) -> Double {
            guard count > 0 else { return 0 }
            let target = UInt64((Double(count) * q).rounded(.up))
            var seen: UInt64 = 0
            for (i, n) in buckets.enumerated() {
                seen += n
                if seen >= target {  // the bucket's upper bound
                    let octave = i / Self.bucketsPerOctave, sub = i % Self.bucketsPerOctave
                    return Double(1 << octave) * (1 + Double(sub + 1) / Double(Self.bucketsPerOctave))
                }
            }
            return 0
        }
    }

    /// The same samples in Prometheus' cumulative buckets (seconds), with their sum.
    struct PrometheusHistogram {
        static let bounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1, 0.25, 0.5, 1, 2.5, 5, 10]
        private(set) var counts = [UInt64](repeating: 0, count: bounds.count + 1)  // the last: +Inf
        private(set) var sum = 0.0

        mutating func record(nanoseconds: UInt64) {
            let seconds = Double(nanoseconds) / 1e9
            sum += seconds
            var i = 0
            while i < Self.bounds.count && seconds > Self.bounds[i] { i += 1 }
            counts[i] += 1
        }
    }

    struct MethodFigures {
        var calls: UInt64 = 0
        var errors: UInt64 = 0
        /// Failures by JSON-RPC code (a handful of codes: a small dictionary, touched only on failure).
        var errorsByCode: [Int: UInt64] = [:]
        var latency = Histogram()
        var seconds = PrometheusHistogram()
    }

    /// Why a client was turned away at accept.
    enum Rejection: String, CaseIterable {
        case maxConnections = "max_connections", outOfDescriptors = "out_of_descriptors", stopping, acceptFailed = "accept_failed"
    }

    private(set) var perMethod: [MethodFigures]
    private(set) var invalid = MethodFigures()  // lines that never reached a method
    var connectionsAccepted: UInt64 = 0
    private(set) var rejected = [UInt64](repeating: 0, count: Rejection.allCases.count)
    var connectionsRejected: UInt64 { rejected.reduce(0, +) }
    var bytesReceived: UInt64 = 0
    /// TLS handshakes or records that failed (the connection closed).
    var tlsFailures: UInt64 = 0
    /// Wrong tokens: `auth` on a line, bearer tokens over HTTP.
    var authFailures: UInt64 = 0
    var bytesSent: UInt64 = 0
    /// Transactions the server rolled back because they idled or lived too long.
    var transactionsExpired: UInt64 = 0
    /// HTTP endpoint requests by path and status (few of each: a small dictionary).
    var httpRequests: [String: UInt64] = [:]
    /// The last calls slower than `server.slow_log_ms`, oldest first (`server.status`, the console).
    private(set) var slowCalls: [JSONValue] = []
    static let slowCallsKept = 50

    func recordSlowCall(method: String, ms: String, outcome: String, client: String) {
        if slowCalls.count == Self.slowCallsKept { slowCalls.removeFirst() }
        slowCalls.append(["at": .string(Timestamp.now().rfc3339), "method": .string(method), "ms": .int(Int64(ms) ?? 0),
                          "outcome": .string(outcome), "client": .string(client)])
    }
    let startedAt = MonotonicClock.seconds()

    static let sampleEvery: UInt64 = 8
    private var started: UInt64 = 0

    init(methodCount: Int) { perMethod = Array(repeating: MethodFigures(), count: methodCount) }

    func shouldSampleLatency() -> Bool {
        started &+= 1
        return started % Self.sampleEvery == 1
    }

    func rejected(_ why: Rejection) { rejected[Rejection.allCases.firstIndex(of: why)!] += 1 }
    func rejections(_ why: Rejection) -> UInt64 { rejected[Rejection.allCases.firstIndex(of: why)!] }

    /// `errorCode`: the JSON-RPC code of a failure, nil for a success.
    func record(method index: Int?, errorCode: Int?, nanoseconds: UInt64?) {
        if let index {
            perMethod[index].calls += 1
            if let errorCode {
                perMethod[index].errors += 1
                perMethod[index].errorsByCode[errorCode, default: 0] += 1
            }
            if let nanoseconds {
                perMethod[index].latency.record(nanoseconds: nanoseconds)
                perMethod[index].seconds.record(nanoseconds: nanoseconds)
            }
        } else {
            invalid.calls += 1
            invalid.errors += 1
            invalid.errorsByCode[errorCode ?? ProxyError.invalidRequest("").code, default: 0] += 1
        }
    }

    func report(methods: MethodTable) -> JSONValue {
        var byMethod = JSONObject()
        var total: UInt64 = invalid.calls, errors: UInt64 = invalid.errors
        for spec in methods.ordered {
            let f = perMethod[spec.index]
            total += f.calls
            errors += f.errors
            guard f.calls > 0 else { continue }
            byMethod[spec.name] = [
                "calls": .int(Int64(f.calls)), "errors": .int(Int64(f.errors)),
                "p50_us": .double(f.latency.quantile(0.5)), "p99_us": .double(f.latency.quantile(0.99)),
                "latency_samples": .int(Int64(f.latency.count)),
            ]
        }
        return [
            "total": .int(Int64(total)), "errors": .int(Int64(errors)),
            "invalid": .int(Int64(invalid.calls)), "by_method": .object(byMethod),
        ]
    }
}
