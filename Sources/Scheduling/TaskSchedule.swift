import ProxyCore
import StoragePorts

/// Schedules applied to tasks: the one place that turns a task's schedule
/// fields into `next_run` (both backends call it inside their write).
extension TaskRecord {
    /// The task's schedule; nil for a type the proxy does not compute.
    /// An unusable one is `-32602` naming the field (`task.schedule_value`, `task.time_zone`).
    public func schedule() throws(ProxyError) -> Schedule? {
        try Schedule.of(type: scheduleType, value: scheduleValue, timeZone: timeZone, fieldPrefix: "task.")
    }

    /// `save_task` as both backends store it: `fields` merged over the stored
    /// task (those present replace, the rest stay; `updated_at` now), or a new
    /// task made of them when nothing is stored under `id`.
    public static func saving(_ fields: JSONObject, over stored: TaskRecord?, id: String, now: Timestamp) throws(ProxyError) -> TaskRecord {
        guard var task = stored else {
            var task = try TaskRecord.inserting(fields, id: id, now: now)
            try task.fillNextRun(sent: fields, isInsert: true, now: now)
            return task
        }
        try task.apply(fields, isUpdate: true)
        try task.fillNextRun(sent: fields, isInsert: false, now: now)
        task.updatedAt = now
        return task
    }

    /// `save_task`: a schedule that is new (an insert) or changed is checked,
    /// whatever else was sent: one the proxy would compute must be usable, since
    /// `complete_task` will compute from it. When the client sent no `next_run`,
    /// `next_run` becomes the schedule's first run after now.
    public mutating func fillNextRun(sent fields: JSONObject, isInsert: Bool, now: Timestamp) throws(ProxyError) {
        let changed = isInsert || fields["schedule_type"] != nil || fields["schedule_value"] != nil || fields["time_zone"] != nil
        guard changed, let schedule = try schedule(), fields["next_run"] == nil else { return }
        guard let next = schedule.nextRun(after: now, previous: nil) else {
            throw .invalidParams(field: "task.schedule_value", reason: "never matches a date in the next eight years")
        }
        nextRun = next
    }

    /// `complete_task` by the lease owner: the task as it will be stored.
    /// With a next run it goes back to `pending` (attempts start over);
    /// without one it keeps the reported status.
    public func completed(_ c: TaskCompletion) -> TaskRecord {
        var task = self
        let next: Timestamp?
        switch c.nextRun {
        case .none: next = nil
        case .at(let t): next = t
        case .fromSchedule:
            // A completion never fails on its schedule: `save_task` checks every
            // schedule it accepts, and one stored before that check (unusable)
            // has no next run, so the task ends with the reported status.
            next = (try? schedule())??.nextRun(after: c.now, previous: nextRun)
        }
        task.nextRun = next
        task.status = next == nil ? c.status : "pending"
        if next != nil { task.attempts = 0 }
        task.leaseOwner = nil
        task.leaseUntil = nil
        task.lastStatus = c.status
        task.lastResult = c.result
        task.updatedAt = c.now
        return task
    }
}
