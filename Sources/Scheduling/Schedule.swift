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
    /// (the task's `next_run`); nil when the task is new. Nil: no more runs.
    public func nextRun(after now: Timestamp, previous: Timestamp?) -> Timestamp? {
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
    private func nextCron(_ cron: CronExpression, after seconds: Int64) -> Int64? {
        var from = (Civil.floorDiv(seconds, 60) + 1) * 60
        let horizon = from + Self.horizonSeconds
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

    private func ceilMinute(_ s: Int64) -> Int64 { Civil.floorDiv(s + 59, 60) * 60 }

    /// The first wall minute in [from, before) the expression matches.
    private func firstMatch(_ cron: CronExpression, fromWall: Int64, beforeWall: Int64) -> Int64? {
        var day = Civil.floorDiv(fromWall, 86_400)
        var minuteOfDay = Int((fromWall - day * 86_400) / 60)
        let lastDay = Civil.floorDiv(beforeWall - 1, 86_400)
        while day <= lastDay {
            let date = Civil.date(days: day)
            if cron.matches(month: date.month, day: date.day, weekday: Civil.weekday(days: day)),
               let minute = firstMinute(cron, atOrAfter: minuteOfDay) {
                let wall = day * 86_400 + Int64(minute) * 60
                return wall < beforeWall ? wall : nil
            }
            day += 1
            minuteOfDay = 0
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
