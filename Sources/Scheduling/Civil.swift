import ProxyCore

/// The calendar of wall-clock time in day numbers (days since 1970-01-01):
/// `Timestamp`'s exact conversions, with the small helpers schedules need.
enum Civil {
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        Timestamp.days(fromCivil: Int64(year), Int64(month), Int64(day))
    }

    static func date(days: Int64) -> (year: Int, month: Int, day: Int) {
        let (y, m, d) = Timestamp.civil(fromDays: days)
        return (Int(y), Int(m), Int(d))
    }

    /// 0 is Sunday (1970-01-01 was a Thursday).
    static func weekday(days: Int64) -> Int { Int(((days % 7) + 11) % 7) }

    static func daysInMonth(year: Int, month: Int) -> Int {
        month == 12 ? 31 : Int(days(year: year, month: month + 1, day: 1) - days(year: year, month: month, day: 1))
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
}
