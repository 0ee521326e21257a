/// Zipf-distributed ranks 0..<count (s = 1): rank k with weight 1/(k+1).
public struct Zipf {
    private let cumulative: [Double]

    public init(count: Int) {
        var sum = 0.0
        cumulative = (0..<count).map { k in sum += 1 / Double(k + 1); return sum }
    }

    public func next(_ rng: inout some RandomNumberGenerator) -> Int {
        let x = Double.random(in: 0..<cumulative.last!, using: &rng)
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
