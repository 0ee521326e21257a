import ProxyCore
import Scheduling

/// Schedules without a task: what the proxy would compute, for a client to
/// show or check (and for the tests that compare it with croniter).
enum ScheduleMethods {
    static let all: [MethodSpec] = [
        MethodSpec("schedule.next_runs", .anyone, "The next `count` runs of a schedule after `after`, as save_task and complete_task compute them. "
                   + "Fewer when it ends (once); [] for a type the proxy does not compute.",
                   params: [.required("schedule_type", Schema.string, "cron, interval or once."),
                            .required("schedule_value", Schema.string, "As in a task."),
                            .optional("time_zone", Schema.nullable(Schema.string), "IANA name; UTC when absent."),
                            .optional("after", Schema.timestamp, "Default: now."),
                            .integer("count", 1...100, default: 5, "How many run times.")],
                   result: Schema.array(Schema.timestamp), ordering: .read) { call in
            let p = call.params
            let type = try p.string("schedule_type")
            let count = try p.int("count")
            let after = try p.optionalTimestamp("after") ?? .now()
            // The same checks as a task's, with the fields named as this method's.
            guard let schedule = try Schedule.of(type: type, value: try p.string("schedule_value"),
                                                 timeZone: try p.optionalString("time_zone"), fieldPrefix: "") else {
                return call.reply(.success(JSONValue.array([])))
            }
            // Up to a hundred runs, each asking the zone's rules: on a worker, so
            // that a client pipelining many never holds up the others on the loop.
            call.services.compute.run({ () -> Result<JSONValue, ProxyError> in
                var runs: [JSONValue] = []
                var previous: Timestamp?, from = after
                while runs.count < count, let next = schedule.nextRun(after: from, previous: previous) {
                    runs.append(.string(next.rfc3339))
                    (previous, from) = (next, next)
                }
                if runs.isEmpty && type == "cron" && from.microseconds < Timestamp.latest.microseconds - Schedule.horizonMicroseconds {
                    return .failure(.invalidParams(field: "schedule_value", reason: "never matches a date in the next eight years"))
                }
                return .success(.array(runs))
            }) { call.relay($0) }
        },
    ]
}
