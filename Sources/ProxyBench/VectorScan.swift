import ProxyCore
import VectorSearch

/// The exact scan alone, in process: `count` random unit vectors of
/// `dimension`, top-`k` queries for `duration` seconds on one thread. What
/// the vector store's search costs before any wire or storage.
public struct VectorScan {
    public struct Figures {
        public var queries: Int
        public var seconds: Double
        public var bytes: Int
        public var perSecond: Double { Double(queries) / seconds }
        /// Matrix bytes read per second.
        public var bandwidth: Double { Double(bytes) * perSecond }
    }

    let count: Int, dimension: Int, k: Int, duration: Double

    public init(count: Int, dimension: Int, k: Int, duration: Double) {
        self.count = count; self.dimension = dimension; self.k = k; self.duration = duration
    }

    public func run() throws -> Figures {
        var state: UInt64 = 42
        func unit() -> [Float] {
            var v = (0..<dimension).map { _ -> Float in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
            }
            let length = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for i in v.indices { v[i] /= length }
            return v
        }
        var matrix = VectorMatrix(dimension: dimension, metric: .dot)
        for i in 0..<count { try matrix.upsert(id: "v\(i)", unit()) }
        let queries = (0..<64).map { _ in unit() }
        let start = MonotonicClock.seconds()
        var done = 0
        while MonotonicClock.seconds() - start < duration {
            _ = try matrix.search(queries[done % queries.count], k: k)
            done += 1
        }
        return Figures(queries: done, seconds: MonotonicClock.seconds() - start, bytes: matrix.byteCount)
    }
}
