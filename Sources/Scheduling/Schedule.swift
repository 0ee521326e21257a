import ProxyCore

/// When a task runs next, computed by the proxy from `schedule_type`,
/// `schedule_value` and `time_zone`, so that a scheduler in any language
/// needs no cron library. PROTOCOL.md ("Schedules") states the rules for users.
///
/// - `cron`: the first minute after the given instant whose wall-clock time
///   in the task's zone (UTC by default) matches. When clocks go back, a
///   wall time that occurs twice runs twice; when they go forward, a job at
///   fixed times of day whose time was skipped runs once, at the instant
///   after the gap, while one whose hour field allows every hour simply runs
///   at its next time that exists (Vixie cron's rule; croniter's behaviour,
///   checked against it in the Python suite).
/// - `interval`: fixed rate. The next slot is the previous `next_run` plus
///   whole periods, the first one after now (missed slots are skipped, not
///   run in a burst); with no previous `next_run`, now plus one period.
/// - `once`: `schedule_value` is the RFC 3339 instant; after it ran, none.
/// - any other type: the proxy computes nothing (the client sets `next_run`).
public struct Schedule: Sendable {
    private enum Kind: Sendable {
        case cron(CronExpression)
        case interval(Interval)
        case once(Timestamp)
    }

    private let kind: Kind
    private let zone: ZoneClock

    /// How far ahead a cron expression is searched: eight years covers every
    /// 29 February (there is none in 2100; an expression for it is refused).
    static let horizonSeconds: Int64 = 8 * 366 * 86_400
    /// The same in microseconds: an expression found to run never is refused only when the search did not stop at year 9999.
    public static let horizonMicroseconds = horizonSeconds * 1_000_000

    /// Nil for a type the proxy does not compute.
    init?(type: String, value: String, zone: ZoneClock) throws(ScheduleError) {
        switch type {
        case "cron": kind = .cron(try CronExpression(value))
        case "interval": kind = .interval(try Interval(value))
        case "once":
            guard let t = Timestamp(rfc3339: value) else { throw ScheduleError("must be an RFC 3339 timestamp for a once schedule") }
            kind = .once(t)
        default: return nil
        }
        self.zone = zone
    }

    /// The schedule these fields describe; nil for a type the proxy does not
    /// compute. An unusable one is `-32602` naming `\(fieldPrefix)schedule_value`
    /// or `\(fieldPrefix)time_zone`.
    public static func of(type: String, value: String, timeZone: String?, fieldPrefix: String) throws(ProxyError) -> Schedule? {
        guard ["cron", "interval", "once"].contains(type) else { return nil }  // no zone lookup for the rest
        let zone: ZoneClock
        do {
            zone = try ZoneClock(identifier: timeZone)
        } catch {
            throw .invalidParams(field: fieldPrefix + "time_zone", reason: error.reason)
        }
        do {
            return try Schedule(type: type, value: value, zone: zone)
        } catch {
            throw .invalidParams(field: fieldPrefix + "schedule_value", reason: error.reason)
        }
    }

    /// The first run after `now`. `previous` is the run that just happened
    /// (the task's `next_run`); nil when the task is new. Nil: no more runs,
    /// also when the next would fall past 9999-12-31T23:59:59Z, the last
    /// instant the contract can write (a schedule ends there).
    public func nextRun(after now: Timestamp, previous: Timestamp?) -> Timestamp? {
        guard let next = uncappedNextRun(after: now, previous: previous), next.isRepresentable else { return nil }
        return next
    }

    private func uncappedNextRun(after now: Timestamp, previous: Timestamp?) -> Timestamp? {
        let nowSeconds = Civil.floorDiv(now.microseconds, 1_000_000)
        switch kind {
        case .once(let at):
            return previous == nil ? at : nil
        case .interval(let period):
            guard let previous else { return Self.timestamp(period.added(to: nowSeconds, in: zone)) }
            var slot = Civil.floorDiv(previous.microseconds, 1_000_000)
            if period.isElapsedOnly {
                let behind = max(0, nowSeconds - slot)
                return Self.timestamp(slot + (behind / period.seconds + 1) * period.seconds)
            }
            var steps = 0
            while slot <= nowSeconds && steps < 10_000 { slot = period.added(to: slot, in: zone); steps += 1 }
            return Self.timestamp(slot > nowSeconds ? slot : period.added(to: nowSeconds, in: zone))
        case .cron(let expression):
            return nextCron(expression, after: nowSeconds).map(Self.timestamp)
        }
    }

    private static func timestamp(_ seconds: Int64) -> Timestamp { Timestamp(microseconds: seconds * 1_000_000) }

    /// Walks the zone's stretches of constant offset: within one, wall time is
    /// the instant plus the offset, so the first matching wall minute is the answer.
    /// Asking the zone is the costly part, so the walk starts at the first date
    /// the expression matches at all (a sparse one, `0 0 29 2 *`, then needs
    /// one or two stretches, not every DST change of four years).
    private func nextCron(_ cron: CronExpression, after seconds: Int64) -> Int64? {
        var from = (Civil.floorDiv(seconds, 60) + 1) * 60
        let horizon = min(from + Self.horizonSeconds, Timestamp.latest.microseconds / 1_000_000 + 1)
        // Wall time is the instant plus an offset within ±15 hours.
        guard let day = nextMatchingDay(cron, from: Civil.floorDiv(from - Self.maxOffset, 86_400),
                                        through: Civil.floorDiv(horizon + Self.maxOffset, 86_400)) else { return nil }
        from = max(from, day * 86_400 - Self.maxOffset)
        while from < horizon {
            let offset = zone.offset(at: from)
            let end = zone.nextTransition(after: from).map { min($0, horizon) } ?? horizon
            if let wall = firstMatch(cron, fromWall: ceilMinute(from + offset), beforeWall: end + offset) { return wall - offset }
            guard end < horizon else { return nil }
            let after = zone.offset(at: end)
            // Clocks went forward: a fixed-time job whose time was skipped runs at the end of the gap.
            if after > offset, cron.isFixedTime, firstMatch(cron, fromWall: ceilMinute(end + offset), beforeWall: end + after) != nil { return end }
            from = end
        }
        return nil
    }

    /// More than any zone's UTC offset (they lie within −12 and +14 hours).
    private static let maxOffset: Int64 = 15 * 3600

    private func ceilMinute(_ s: Int64) -> Int64 { Civil.floorDiv(s + 59, 60) * 60 }

    /// The first wall minute in [from, before) the expression matches.
    private func firstMatch(_ cron: CronExpression, fromWall: Int64, beforeWall: Int64) -> Int64? {
        let firstDay = Civil.floorDiv(fromWall, 86_400)
        let lastDay = Civil.floorDiv(beforeWall - 1, 86_400)
        var day = firstDay
        while let found = nextMatchingDay(cron, from: day, through: lastDay) {
            if let minute = firstMinute(cron, atOrAfter: found == firstDay ? Int((fromWall - firstDay * 86_400) / 60) : 0) {
                let wall = found * 86_400 + Int64(minute) * 60
                return wall < beforeWall ? wall : nil
            }
            day = found + 1
        }
        return nil
    }

    /// The first day from `from` through `last` whose date the expression
    /// matches. A month the expression skips is passed in one step, and so are
    /// the days before its next day of month (when the day of week does not also
    /// decide): a few steps a year for a sparse expression, not one a day.
    private func nextMatchingDay(_ cron: CronExpression, from: Int64, through last: Int64) -> Int64? {
        var day = from
        while day <= last {
            let date = Civil.date(days: day)
            let (month, yearsLater) = cron.nextMonth(atOrAfter: date.month)
            if month != date.month || yearsLater > 0 {
                day = Civil.days(year: date.year + yearsLater, month: month, day: 1)
                continue
            }
            let length = Civil.daysInMonth(year: date.year, month: date.month)
            guard let dayOfMonth = cron.nextDayOfMonth(atOrAfter: date.day, daysInMonth: length) else {
                day += Int64(length - date.day + 1)  // to the first of the next month
                continue
            }
            if dayOfMonth > date.day {
                day += Int64(dayOfMonth - date.day)
                continue
            }
            if cron.matches(month: date.month, day: date.day, weekday: Civil.weekday(days: day)) { return day }
            day += 1
        }
        return nil
    }

    private func firstMinute(_ cron: CronExpression, atOrAfter start: Int) -> Int? {
        var hour = start / 60
        var minute = start % 60
        while hour < 24 {
            if cron.hours & (1 << UInt64(hour)) != 0 {
                let later = cron.minutes >> UInt64(minute)
                if later != 0 { return hour * 60 + minute + later.trailingZeroBitCount }
            }
            hour += 1
            minute = 0
        }
        return nil
    }
}
