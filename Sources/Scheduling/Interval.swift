/// An `interval` schedule's period: whole seconds (`"3600"`) or an ISO 8601
/// duration (`"PT1H30M"`, `"P1D"`, `"P1M"`, `"P2W"`). Years, months, weeks and
/// days step the task's wall-clock calendar (P1D is "same time tomorrow",
/// 23 or 25 hours across a DST change; P1M from 31 January is 28 or 29
/// February); hours, minutes and seconds are elapsed time.
struct Interval: Equatable {
    var months = 0
    var days = 0
    var seconds: Int64 = 0

    var isElapsedOnly: Bool { months == 0 && days == 0 }

    /// Ten years: a longer period is surely a mistake (and keeps arithmetic far from overflow).
    static let maxSeconds: Int64 = 10 * 366 * 86_400

    init(_ text: String) throws(ScheduleError) {
        if let n = Int64(text) {
            guard n >= 1, n <= Self.maxSeconds else { throw ScheduleError("must be 1 to \(Self.maxSeconds) seconds") }
            seconds = n
            return
        }
        let bad = ScheduleError("must be whole seconds (\"3600\") or an ISO 8601 duration (\"PT1H\", \"P1D\", \"P1M\")")
        var chars = Substring(text.uppercased())
        guard chars.count <= 64, chars.popFirst() == "P", !chars.isEmpty else { throw bad }
        var inTime = false, number = "", any = false
        for c in chars {
            if c.isASCII && c.isNumber { number.append(c); continue }
            if c == "T" { guard !inTime, number.isEmpty else { throw bad }; inTime = true; continue }
            guard let n = Int(number), n <= 100_000 else { throw bad }
            number = ""
            any = true
            switch (c, inTime) {
            case ("Y", false): months += 12 * n
            case ("M", false): months += n
            case ("W", false): days += 7 * n
            case ("D", false): days += n
            case ("H", true): seconds += Int64(n) * 3600
            case ("M", true): seconds += Int64(n) * 60
            case ("S", true): seconds += Int64(n)
            default: throw bad
            }
        }
        guard number.isEmpty, any else { throw bad }
        guard months > 0 || days > 0 || seconds > 0 else { throw ScheduleError("must be longer than zero") }
        guard Int64(months) * 31 * 86_400 + Int64(days) * 86_400 + seconds <= Self.maxSeconds else {
            throw ScheduleError("must be at most ten years")
        }
    }

    /// `seconds` (an instant) plus this period, calendar parts on the zone's wall clock.
    func added(to seconds: Int64, in zone: ZoneClock) -> Int64 {
        guard !isElapsedOnly else { return seconds + self.seconds }
        let wall = seconds + zone.offset(at: seconds)
        let day = Civil.floorDiv(wall, 86_400)
        let timeOfDay = wall - day * 86_400
        var (y, m, d) = Civil.date(days: day)
        let monthIndex = y * 12 + (m - 1) + months
        y = monthIndex / 12
        m = monthIndex % 12 + 1
        d = min(d, Civil.daysInMonth(year: y, month: m))
        let newWall = (Civil.days(year: y, month: m, day: d) + Int64(days)) * 86_400 + timeOfDay
        // A wall time skipped by a DST change falls to the instant after the gap.
        let instant = zone.instants(atWall: newWall).first ?? (newWall - zone.offset(at: newWall))
        return instant + self.seconds
    }
}
