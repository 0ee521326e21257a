import ProxyCore

/// A standard five-field cron expression: minute, hour, day of month, month,
/// day of week. Each field is `*` or a comma list of values, ranges `a-b` and
/// steps (`*/n`, `a-b/n`, `a/n`); months and days of week also by English
/// name (`jan`, `mon`); day of week 0-7 with 0 and 7 both Sunday. The macros
/// `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and
/// `@hourly` stand for their usual expansions.
///
/// When both day fields are restricted, a day matches if either does (Vixie
/// cron, croniter); otherwise both must. A day field is unrestricted when it
/// is `*`, or allows every value while the other day field holds a `*`
/// (`*/2`): croniter's reading, which the Python suite checks. Parsing is one
/// pass over the text with no recursion; each field becomes a bit set.
public struct CronExpression: Equatable, Sendable {
    public let minutes: UInt64
    public let hours: UInt64
    public let daysOfMonth: UInt64
    public let months: UInt64
    /// Bit 0 is Sunday.
    public let daysOfWeek: UInt64
    /// Both day fields restricted: either may match.
    public let dayOr: Bool
    /// The hour field does not allow every hour: a job at fixed hours, which
    /// runs once at the end of a skipped (DST) hour that held one of its times.
    /// An hourly job runs at its next time that exists instead (Vixie cron's
    /// rule for fixed-time and wildcard jobs, as croniter applies it).
    public let isFixedTime: Bool

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    private static let everyHour: UInt64 = (1 << 24) - 1
    private static let everyDayOfMonth: UInt64 = ((1 << 32) - 1) & ~1  // bits 1…31
    private static let everyDayOfWeek: UInt64 = (1 << 7) - 1  // bits 0…6

    /// The longest expression accepted (a schedule is a short string).
    public static let maxLength = 256

    public init(_ text: String) throws(ScheduleError) {
        guard text.utf8.count <= Self.maxLength else { throw ScheduleError("is longer than \(Self.maxLength) bytes") }
        let trimmed = text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        let expanded = Self.macros[trimmed.lowercased()] ?? trimmed
        let fields = expanded.split(separator: " ").map(String.init)
        guard fields.count == 5 else {
            throw ScheduleError("must have 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        minutes = try Self.field(fields[0], "minute", 0...59)
        hours = try Self.field(fields[1], "hour", 0...23)
        daysOfMonth = try Self.field(fields[2], "day of month", 1...31)
        months = try Self.field(fields[3], "month", 1...12, names: Self.monthNames, firstName: 1)
        var dow = try Self.field(fields[4], "day of week", 0...7, names: Self.dayNames, firstName: 0)
        if dow & (1 << 7) != 0 { dow = (dow | 1) & ~(1 << 7) }  // 7 is Sunday too
        daysOfWeek = dow
        let domUnrestricted = fields[2] == "*" || (daysOfMonth == Self.everyDayOfMonth && fields[4].contains("*"))
        let dowUnrestricted = fields[4] == "*" || (daysOfWeek == Self.everyDayOfWeek && fields[2].contains("*"))
        dayOr = !domUnrestricted && !dowUnrestricted
        isFixedTime = hours != Self.everyHour
    }

    /// Whether a wall-clock date (not time) is one the expression runs on.
    func matches(month: Int, day: Int, weekday: Int) -> Bool {
        guard months & (1 << UInt64(month)) != 0 else { return false }
        let dom = daysOfMonth & (1 << UInt64(day)) != 0
        let dow = daysOfWeek & (1 << UInt64(weekday)) != 0
        return dayOr ? (dom || dow) : (dom && dow)
    }

    /// The first month at or after `month` (1-12) the expression runs in, and
    /// how many years later (0 or 1).
    func nextMonth(atOrAfter month: Int) -> (month: Int, yearsLater: Int) {
        let later = months >> UInt64(month)
        if later != 0 { return (month + later.trailingZeroBitCount, 0) }
        return ((months >> 1).trailingZeroBitCount + 1, 1)  // bit 0 is never set: months are 1-12
    }

    /// The first day of month at or after `day` the day-of-month field allows,
    /// when it alone decides (not `dayOr`); nil: none is left in a month of
    /// `daysInMonth` days. With `dayOr`, `day` itself (any day may match by weekday).
    func nextDayOfMonth(atOrAfter day: Int, daysInMonth: Int) -> Int? {
        guard !dayOr else { return day }
        let later = daysOfMonth >> UInt64(day)
        guard later != 0, case let next = day + later.trailingZeroBitCount, next <= daysInMonth else { return nil }
        return next
    }

    private static func field(_ text: String, _ name: String, _ bounds: ClosedRange<Int>,
                              names: [String] = [], firstName: Int = 0) throws(ScheduleError) -> UInt64 {
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, !parts[0].isEmpty else { throw ScheduleError("the \(name) field has a malformed item \"\(item)\"") }
            var step = 1
            if parts.count == 2 {
                guard let s = Int(parts[1]), s >= 1, s <= bounds.upperBound + 1 else {
                    throw ScheduleError("the \(name) field has a bad step in \"\(item)\"")
                }
                step = s
            }
            var low = bounds.lowerBound, high = bounds.upperBound
            if parts[0] != "*" {
                let ends = parts[0].split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count <= 2 else { throw ScheduleError("the \(name) field has a malformed range \"\(item)\"") }
                low = try value(ends[0], name, bounds, names, firstName)
                high = ends.count == 2 ? try value(ends[1], name, bounds, names, firstName) : (parts.count == 2 ? bounds.upperBound : low)
                guard low <= high else { throw ScheduleError("the \(name) field has a range that runs backwards, \"\(item)\"") }
            }
            for v in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(v) }
        }
        return bits
    }

    private static func value(_ text: Substring, _ name: String, _ bounds: ClosedRange<Int>,
                              _ names: [String], _ firstName: Int) throws(ScheduleError) -> Int {
        if let n = Int(text), bounds.contains(n) { return n }
        if let i = names.firstIndex(of: text.lowercased()) { return i + firstName }
        throw ScheduleError("the \(name) field has \"\(text)\", which is not \(bounds.lowerBound)-\(bounds.upperBound)"
                            + (names.isEmpty ? "" : " or a name"))
    }
}

/// A schedule that cannot be used; the text says why (for `-32602`).
public struct ScheduleError: Error, Equatable, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}
