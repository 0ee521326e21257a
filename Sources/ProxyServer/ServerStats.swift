import ProxyCore

/// Request counters and latency histograms per method (`server.status`).
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

    struct MethodFigures {
        var calls: UInt64 = 0
        var errors: UInt64 = 0
        var latency = Histogram()
    }

    private(set) var perMethod: [MethodFigures]
    private(set) var invalid = MethodFigures()  // lines that never reached a method
    var connectionsAccepted: UInt64 = 0
    var connectionsRejected: UInt64 = 0
    let startedAt = MonotonicClock.seconds()

    static let sampleEvery: UInt64 = 8
    private var started: UInt64 = 0

    init(methodCount: Int) { perMethod = Array(repeating: MethodFigures(), count: methodCount) }

    func shouldSampleLatency() -> Bool {
        started &+= 1
        return started % Self.sampleEvery == 1
    }

    func record(method index: Int?, failed: Bool, nanoseconds: UInt64?) {
        if let index {
            perMethod[index].calls += 1
            if failed { perMethod[index].errors += 1 }
            if let nanoseconds { perMethod[index].latency.record(nanoseconds: nanoseconds) }
        } else {
            invalid.calls += 1
            invalid.errors += 1
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
