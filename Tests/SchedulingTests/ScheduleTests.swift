import ProxyCore
@testable import Scheduling
import StoragePorts
import Testing

/// The proxy's schedules on known instants; the Python suite checks
/// thousands more against croniter (clients/python/tests/test_schedules.py).
@Suite("Schedules")
struct ScheduleTests {
    func task(_ type: String, _ value: String, zone: String? = nil, next: String? = nil) -> TaskRecord {
        TaskRecord(id: "t", agentName: "a", taskPrompt: "p", scheduleType: type, scheduleValue: value,
                   createdAt: t("2026-01-01T00:00:00Z"), updatedAt: t("2026-01-01T00:00:00Z"),
                   nextRun: next.map(t), timeZone: zone)
    }

    func t(_ s: String) -> Timestamp { Timestamp(rfc3339: s)! }

    /// The next `count` runs after `from`, as RFC 3339 UTC to the second.
    func runs(_ type: String, _ value: String, zone: String? = nil, from: String, count: Int = 4) throws -> [String] {
        let schedule = try #require(try task(type, value, zone: zone).schedule())
        var now = t(from), out: [String] = []
        for _ in 0..<count {
            guard let next = schedule.nextRun(after: now, previous: nil) else { break }
            out.append(String(next.rfc3339.prefix(19)) + "Z")
            now = next
        }
        return out
    }

    @Test func cronInUTC() throws {
        #expect(try runs("cron", "0 9 * * *", from: "2026-11-30T08:59:59Z", count: 2) == ["2026-11-30T09:00:00Z", "2026-12-01T09:00:00Z"])
        #expect(try runs("cron", "*/15 * * * *", from: "2026-11-30T23:50:00Z", count: 2) == ["2026-12-01T00:00:00Z", "2026-12-01T00:15:00Z"])
        #expect(try runs("cron", "0 0 29 feb *", from: "2026-03-01T00:00:00Z", count: 1) == ["2028-02-29T00:00:00Z"])
        #expect(try runs("cron", "30 4 1-7 * mon-fri/2", from: "2026-01-01T00:00:00Z", count: 3)
                == ["2026-01-01T04:30:00Z", "2026-01-02T04:30:00Z", "2026-01-03T04:30:00Z"])  // either day field (Jan 1 is a Thursday)
        #expect(try runs("cron", "@weekly", from: "2026-01-01T00:00:00Z", count: 1) == ["2026-01-04T00:00:00Z"])
        #expect(try runs("cron", "0 12 * * 7", from: "2026-01-01T00:00:00Z", count: 1) == ["2026-01-04T12:00:00Z"])  // 7 is Sunday
    }

    /// America/New_York: clocks go back on 2026-11-01 at 02:00, forward on 2026-03-08 at 02:00 (croniter agrees).
    @Test func cronAcrossDaylightSavingChanges() throws {
        let ny = "America/New_York"
        #expect(try runs("cron", "30 1 * * *", zone: ny, from: "2026-10-31T16:00:00Z", count: 3)
                == ["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"])  // 01:30 happens twice
        #expect(try runs("cron", "30 2 * * *", zone: ny, from: "2026-03-07T17:00:00Z", count: 2)
                == ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"])  // 02:30 does not exist: at 03:00, the gap's end
        // With `*` in the hour field, times in the skipped hour are skipped too.
        #expect(try runs("cron", "4 * * * *", zone: "Europe/Berlin", from: "2026-03-28T23:30:00Z", count: 3)
                == ["2026-03-29T00:04:00Z", "2026-03-29T01:04:00Z", "2026-03-29T02:04:00Z"])
        #expect(try runs("cron", "0 * * * *", zone: ny, from: "2026-03-08T05:30:00Z", count: 3)
                == ["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"])
        #expect(try runs("cron", "*/20 1 * * *", zone: ny, from: "2026-11-01T04:50:00Z", count: 4)
                == ["2026-11-01T05:00:00Z", "2026-11-01T05:20:00Z", "2026-11-01T05:40:00Z", "2026-11-01T06:00:00Z"])
    }

    @Test func intervalsAreFixedRateAndSkipMissedSlots() throws {
        let hourly = try #require(try task("interval", "3600").schedule())
        #expect(hourly.nextRun(after: t("2026-01-01T10:00:00Z"), previous: nil) == t("2026-01-01T11:00:00Z"))
        #expect(hourly.nextRun(after: t("2026-01-01T10:20:00Z"), previous: t("2026-01-01T10:00:00Z")) == t("2026-01-01T11:00:00Z"))
        #expect(hourly.nextRun(after: t("2026-01-01T13:20:00Z"), previous: t("2026-01-01T10:00:00Z")) == t("2026-01-01T14:00:00Z"))
        let monthly = try #require(try task("interval", "P1M").schedule())
        #expect(monthly.nextRun(after: t("2026-01-31T12:00:00Z"), previous: t("2026-01-31T09:00:00Z")) == t("2026-02-28T09:00:00Z"))
        // A calendar day keeps the wall-clock time across a DST change (23 hours here).
        let daily = try #require(try task("interval", "P1D", zone: "Europe/Berlin").schedule())
        #expect(daily.nextRun(after: t("2026-03-28T09:00:00Z"), previous: t("2026-03-28T08:00:00Z")) == t("2026-03-29T07:00:00Z"))
        #expect(try #require(try task("interval", "PT1H30M").schedule()).nextRun(after: t("2026-01-01T00:00:00Z"), previous: nil)
                == t("2026-01-01T01:30:00Z"))
    }

    @Test func onceRunsAtItsInstantThenNever() throws {
        let once = try #require(try task("once", "2026-12-24T18:00:00+01:00").schedule())
        #expect(once.nextRun(after: t("2026-12-01T00:00:00Z"), previous: nil) == t("2026-12-24T17:00:00Z"))
        #expect(once.nextRun(after: t("2026-12-25T00:00:00Z"), previous: t("2026-12-24T17:00:00Z")) == nil)
    }

    @Test func otherTypesAreLeftToTheClient() throws {
        #expect(try task("manual", "whatever").schedule() == nil)
    }

    @Test(arguments: [
        ("cron", "0 9 * *", "task.schedule_value"), ("cron", "61 * * * *", "task.schedule_value"),
        ("cron", "5-1 * * * *", "task.schedule_value"), ("cron", "* * * * * *", "task.schedule_value"),
        ("cron", "*/0 * * * *", "task.schedule_value"), ("interval", "0", "task.schedule_value"),
        ("interval", "P", "task.schedule_value"), ("interval", "PT1X", "task.schedule_value"),
        ("once", "tomorrow", "task.schedule_value"),
    ])
    func badSchedulesNameTheField(type: String, value: String, field: String) {
        #expect(throws: ProxyError.self) { _ = try task(type, value).schedule() }
        do { _ = try task(type, value).schedule() } catch { #expect(error.message.contains(field)) }
    }

    @Test func anUnknownZoneIsRefused() {
        do {
            _ = try task("cron", "* * * * *", zone: "Mars/Olympus").schedule()
            Issue.record("accepted an unknown zone")
        } catch {
            #expect(error.message.contains("task.time_zone"))
        }
    }

    @Test func aCronThatNeverMatchesIsRefusedOnSave() {
        var t = task("cron", "0 0 30 2 *")
        #expect(throws: ProxyError.self) { try t.fillNextRun(sent: [:], isInsert: true, now: .now()) }
    }

    @Test func completingReschedulesOrEnds() throws {
        var running = task("cron", "0 * * * *", next: "2026-01-01T10:00:00Z")
        running.status = "running"; running.leaseOwner = "w1"; running.attempts = 2
        let now = t("2026-01-01T10:05:00Z")
        let again = running.completed(TaskCompletion(taskID: "t", worker: "w1", status: "completed", nextRun: .fromSchedule, result: ["ok": true], now: now))
        #expect(again.status == "pending" && again.nextRun == t("2026-01-01T11:00:00Z") && again.attempts == 0)
        #expect(again.leaseOwner == nil && again.lastStatus == "completed" && again.lastResult == ["ok": true])
        let ended = running.completed(TaskCompletion(taskID: "t", worker: "w1", status: "failed", nextRun: .none, result: nil, now: now))
        #expect(ended.status == "failed" && ended.nextRun == nil && ended.attempts == 2)
    }
}

/// Schedules at the end of time (the contract's last instant is
/// 9999-12-31T23:59:59Z) and sparse cron expressions, which skip months and
/// days in one step: the same runs as a walk over every day.
@Suite("Schedules: sparse expressions and the end of time")
struct ScheduleEdgeTests {
    func t(_ s: String) -> Timestamp { Timestamp(rfc3339: s)! }

    func runs(_ type: String, _ value: String, zone: String? = nil, from: String, previous: String? = nil, count: Int) throws -> [String] {
        let schedule = try #require(try Schedule.of(type: type, value: value, timeZone: zone, fieldPrefix: ""))
        var now = t(from), prev = previous.map(t), out: [String] = []
        while out.count < count, let next = schedule.nextRun(after: now, previous: prev) {
            out.append(next.rfc3339)
            (now, prev) = (next, next)
        }
        return out
    }

    @Test("runs stop at 9999-12-31T23:59:59Z: never wrapped, repeated or clamped")
    func endOfTime() throws {
        #expect(try runs("cron", "* * * * *", from: "9999-12-31T23:57:00Z", count: 5)
                == ["9999-12-31T23:58:00.000000Z", "9999-12-31T23:59:00.000000Z"])
        #expect(try runs("cron", "59 23 31 12 *", from: "9999-12-31T23:58:00Z", count: 100) == ["9999-12-31T23:59:00.000000Z"])
        #expect(try runs("cron", "0 0 1 1 *", from: "9999-06-01T00:00:00Z", count: 3) == [])
        #expect(try runs("interval", "P1Y", from: "9999-06-01T00:00:00Z", count: 5) == [])
        #expect(try runs("interval", "P1Y", from: "9999-06-01T00:00:00Z", previous: "9999-06-01T00:00:00Z", count: 5) == [])
        #expect(try runs("interval", "60", from: "9999-12-31T23:58:30Z", count: 5) == ["9999-12-31T23:59:30.000000Z"])
    }

    /// The day walk the cron search did before it skipped: every day checked.
    func reference(_ cron: CronExpression, after: Int64, horizonDays: Int64) -> Int64? {
        var day = (after / 60 + 1) * 60 / 86_400
        var minuteOfDay = Int(((after / 60 + 1) * 60 - day * 86_400) / 60)
        for _ in 0..<horizonDays {
            let (y, m, d) = Timestamp.civil(fromDays: day)
            if cron.matches(month: Int(m), day: Int(d), weekday: Int(((day % 7) + 11) % 7)) {
                for minute in minuteOfDay..<1440 where cron.hours & (1 << UInt64(minute / 60)) != 0 && cron.minutes & (1 << UInt64(minute % 60)) != 0 {
                    return day * 86_400 + Int64(minute) * 60
                }
            }
            _ = y
            day += 1
            minuteOfDay = 0
        }
        return nil
    }

    @Test("sparse expressions: the same runs as a walk over every day (UTC)", arguments: [
        "0 0 29 2 *", "30 12 31 * *", "0 6 31 4,6,9,11,12 *", "15 3 1,15,31 */3 *", "0 0 29 2 1", "0 0 13 * 5", "5 4 * 2 0",
        "0 0 30 1-12/5 *", "59 23 28-31 2 *", "0 0 1 jan *", "*/20 * 31 * *",
    ])
    func sparseExpressionsAsTheDayWalk(_ value: String) throws {
        let cron = try CronExpression(value)
        let schedule = try #require(try Schedule.of(type: "cron", value: value, timeZone: nil, fieldPrefix: ""))
        var after = t("2023-01-01T00:00:00Z").microseconds / 1_000_000
        for _ in 0..<40 {
            let expected = reference(cron, after: after, horizonDays: 9 * 366)
            let got = schedule.nextRun(after: Timestamp(microseconds: after * 1_000_000), previous: nil).map { $0.microseconds / 1_000_000 }
            #expect(got == expected, "\(value) after \(Timestamp(microseconds: after * 1_000_000).rfc3339)")
            guard let got else { break }
            after = got
        }
    }
}
