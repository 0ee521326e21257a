/// Decimal to binary for the JSON parser: a number's digits as one integer
/// and a power of ten, to the nearest double, without text or allocation.
/// Embeddings arrive as hundreds of numbers of 16–17 significant digits each
/// (Python writes a float32's shortest double form), past the exact fast
/// path's 2^53: through strtod on a String, a 384-float vector search cost
/// the loop 40–60 µs more CPU (of ~240; BENCHMARKS.md, "Search").
enum JSONNumber {
    /// `mantissa × 10^exponent` correctly rounded, or nil where the fast
    /// paths cannot tell (then the caller asks strtod).
    @inline(__always)
    static func double(mantissa: UInt64, exponent: Int, negative: Bool) -> Double? {
        // Clinger's fast path: a mantissa up to 2^53 and a power of ten up to
        // 10^22 are both exact doubles, so one IEEE multiplication or
        // division rounds correctly.
        if mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
            let m = Double(mantissa)
            let d = exponent < 0 ? m / powersOfTen[-exponent] : m * powersOfTen[exponent]
            return negative ? -d : d
        }
        return eiselLemire(mantissa: mantissa, exponent: exponent, negative: negative)
    }

    /// 10^0 … 10^22, each exact in a double.
    private static let powersOfTen: [Double] = (0...22).map { n in (0..<n).reduce(1.0) { p, _ in p * 10 } }

    /// The Eisel-Lemire algorithm (Lemire, "Number Parsing at a Gigabyte per
    /// Second", 2021; as in Go's strconv and Wuffs): the mantissa times a
    /// 128-bit approximation of 10^exponent gives the double's 53 bits, or
    /// says it cannot be sure (a product too close to a rounding boundary,
    /// a halfway case, subnormal or infinite results): nil, about 1 number
    /// in 40 of random 19-digit ones, next to none of the numbers written
    /// by a shortest-form printer.
    static func eiselLemire(mantissa: UInt64, exponent: Int, negative: Bool) -> Double? {
        if mantissa == 0 { return negative ? -0.0 : 0.0 }
        guard powersOfTenRange.contains(exponent) else { return nil }
        let shift = mantissa.leadingZeroBitCount
        let man = mantissa << shift
        // 217706 / 2^16 ≈ log2(10): the binary exponent of 10^exponent.
        var binaryExponent = UInt64(bitPattern: Int64((217706 * exponent) >> 16 + 64 + 1023 - shift))
        let index = 2 * (exponent - powersOfTenRange.lowerBound)
        let tableHigh = powersOfTen128[index], tableLow = powersOfTen128[index + 1]
        var (high, low) = man.multipliedFullWidth(by: tableHigh)
        // The product's low bits may hide a carry: widen with the table's low word.
        if high & 0x1FF == 0x1FF, low &+ man < man {
            let (yHigh, yLow) = man.multipliedFullWidth(by: tableLow)
            var mergedHigh = high
            let mergedLow = low &+ yHigh
            if mergedLow < low { mergedHigh &+= 1 }
            if mergedHigh & 0x1FF == 0x1FF, mergedLow &+ 1 == 0, yLow &+ man < man { return nil }
            (high, low) = (mergedHigh, mergedLow)
        }
        let top = high >> 63
        var bits = high >> (top + 9)  // 54 bits
        binaryExponent &-= 1 ^ top
        if low == 0, high & 0x1FF == 0, bits & 3 == 1 { return nil }  // exactly halfway: ties-to-even needs more digits
        bits += bits & 1
        bits >>= 1
        if bits >> 53 > 0 {
            bits >>= 1
            binaryExponent &+= 1
        }
        guard binaryExponent &- 1 < 0x7FF - 1 else { return nil }  // subnormal or infinite
        let sign: UInt64 = negative ? 1 << 63 : 0
        return Double(bitPattern: sign | binaryExponent << 52 | bits & ((1 << 52) - 1))
    }
}
