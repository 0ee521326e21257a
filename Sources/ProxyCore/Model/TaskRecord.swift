/// A task as stored: the seed's columns plus `updated_at`, the scheduling
/// columns (time zone, attempts, lease, last outcome), and the client's own
/// fields that are not columns (`extra`), kept and returned as sent.
public struct TaskRecord: Equatable, Sendable {
    public var id: String
    public var agentName: String
    public var taskPrompt: String
    public var scheduleType: String
    public var scheduleValue: String
    public var repeats: Bool
    public var repeatInterval: String?
    public var enabled: Bool
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var lastRun: Timestamp?
    public var nextRun: Timestamp?
    public var status: String
    /// IANA zone a cron or calendar interval is read in; nil is UTC.
    public var timeZone: String?
    /// Claims of the current run (reset when a completed task is rescheduled).
    public var attempts: Int
    /// Claims allowed before a task that keeps losing its lease fails; nil: the server's default.
    public var maxAttempts: Int?
    /// The worker holding the task (`claim_due_tasks`) and until when; the server's to set.
    public var leaseOwner: String?
    public var leaseUntil: Timestamp?
    /// What the last `complete_task` reported; the server's to set.
    public var lastStatus: String?
    public var lastResult: JSONValue?
    public var extra: JSONObject

    public init(id: String, agentName: String, taskPrompt: String, scheduleType: String, scheduleValue: String,
                repeats: Bool = false, repeatInterval: String? = nil, enabled: Bool = true,
                createdAt: Timestamp, updatedAt: Timestamp, lastRun: Timestamp? = nil, nextRun: Timestamp? = nil,
                status: String = "pending", timeZone: String? = nil, attempts: Int = 0, maxAttempts: Int? = nil,
                leaseOwner: String? = nil, leaseUntil: Timestamp? = nil, lastStatus: String? = nil, lastResult: JSONValue? = nil,
                extra: JSONObject = JSONObject()) {
        self.id = id; self.agentName = agentName; self.taskPrompt = taskPrompt
        self.scheduleType = scheduleType; self.scheduleValue = scheduleValue
        self.repeats = repeats; self.repeatInterval = repeatInterval; self.enabled = enabled
        self.createdAt = createdAt; self.updatedAt = updatedAt; self.lastRun = lastRun; self.nextRun = nextRun
        self.status = status; self.timeZone = timeZone; self.attempts = attempts; self.maxAttempts = maxAttempts
        self.leaseOwner = leaseOwner; self.leaseUntil = leaseUntil; self.lastStatus = lastStatus; self.lastResult = lastResult
        self.extra = extra
    }


    public static let requiredOnInsert = ["agent_name", "task_prompt", "schedule_type", "schedule_value"]

    /// A new task from a client's object; `id` is the client's or a fresh one.
    public static func inserting(_ fields: JSONObject, id: String, now: Timestamp) throws(ProxyError) -> TaskRecord {
        for name in requiredOnInsert where fields[name] == nil || fields[name] == .null {
            throw .invalidParams(field: "task.\(name)", reason: "is required")
        }
        var task = TaskRecord(id: id, agentName: "", taskPrompt: "", scheduleType: "", scheduleValue: "",
                              createdAt: now, updatedAt: now)
        try task.apply(fields)
        task.updatedAt = now
        return task
    }

    /// Applies the fields a client sent: present fields replace stored ones,
    /// `created_at` only on insert, `updated_at` and `id` are the server's.
    public mutating func apply(_ fields: JSONObject, isUpdate: Bool = false) throws(ProxyError) {
        for (key, value) in fields.members {
            switch key {
            // The server's own fields: a client that saves back a task it read sends them, and they are ignored.
            case "id", "updated_at", "lease_owner", "lease_until", "last_status", "last_result": continue
            case "time_zone": timeZone = value == .null ? nil : try Self.string(value, key)
            case "attempts": attempts = try Self.int(value, key, in: 0...1_000_000)
            case "max_attempts": maxAttempts = value == .null ? nil : try Self.int(value, key, in: 0...1_000_000)  // 0: no limit
            case "agent_name": agentName = try Self.string(value, key)
            case "task_prompt": taskPrompt = try Self.string(value, key)
            case "schedule_type": scheduleType = try Self.string(value, key)
            case "schedule_value": scheduleValue = try Self.string(value, key)
            case "status": status = try Self.string(value, key)
            case "repeat": repeats = try Self.bool(value, key)
            case "enabled": enabled = try Self.bool(value, key)
            case "repeat_interval": repeatInterval = value == .null ? nil : try Self.string(value, key)
            case "last_run": lastRun = try Self.optionalTime(value, key)
            case "next_run": nextRun = try Self.optionalTime(value, key)
            case "created_at":
                guard let t = try Self.optionalTime(value, key) else { continue }
                if !isUpdate { createdAt = t }
            default:
                extra[key] = value
            }
        }
    }

    private static func string(_ v: JSONValue, _ key: String) throws(ProxyError) -> String {
        guard case .string(let s) = v else { throw .invalidParams(field: "task.\(key)", reason: "must be a string, got \(v.typeName)") }
        return s
    }

    private static func int(_ v: JSONValue, _ key: String, in range: ClosedRange<Int>) throws(ProxyError) -> Int {
        guard let i = v.intValue, let n = Int(exactly: i), range.contains(n) else {
            throw .invalidParams(field: "task.\(key)", reason: "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    private static func bool(_ v: JSONValue, _ key: String) throws(ProxyError) -> Bool {
        guard case .bool(let b) = v else { throw .invalidParams(field: "task.\(key)", reason: "must be a boolean, got \(v.typeName)") }
        return b
    }

    private static func optionalTime(_ v: JSONValue, _ key: String) throws(ProxyError) -> Timestamp? {
        if v == .null { return nil }
        guard case .string(let s) = v, let t = Timestamp(rfc3339: s) else {
            throw .invalidParams(field: "task.\(key)", reason: "must be an RFC 3339 timestamp string")
        }
        return t
    }
}

extension TaskRecord: JSONWritable {
    public func writeJSON(into out: inout [UInt8]) {
        JSONWriter.raw("{\"id\":", into: &out); JSONWriter.string(id, into: &out)
        JSONWriter.raw(",\"agent_name\":", into: &out); JSONWriter.string(agentName, into: &out)
        JSONWriter.raw(",\"task_prompt\":", into: &out); JSONWriter.string(taskPrompt, into: &out)
        JSONWriter.raw(",\"schedule_type\":", into: &out); JSONWriter.string(scheduleType, into: &out)
        JSONWriter.raw(",\"schedule_value\":", into: &out); JSONWriter.string(scheduleValue, into: &out)
        JSONWriter.raw(",\"repeat\":", into: &out); JSONWriter.bool(repeats, into: &out)
        JSONWriter.raw(",\"repeat_interval\":", into: &out); JSONWriter.optionalString(repeatInterval, into: &out)
        JSONWriter.raw(",\"enabled\":", into: &out); JSONWriter.bool(enabled, into: &out)
        JSONWriter.raw(",\"created_at\":", into: &out); createdAt.writeJSON(into: &out)
        JSONWriter.raw(",\"updated_at\":", into: &out); updatedAt.writeJSON(into: &out)
        JSONWriter.raw(",\"last_run\":", into: &out); Self.writeTime(lastRun, into: &out)
        JSONWriter.raw(",\"next_run\":", into: &out); Self.writeTime(nextRun, into: &out)
        JSONWriter.raw(",\"status\":", into: &out); JSONWriter.string(status, into: &out)
        JSONWriter.raw(",\"time_zone\":", into: &out); JSONWriter.optionalString(timeZone, into: &out)
        JSONWriter.raw(",\"attempts\":", into: &out); JSONValue.int(Int64(attempts)).writeJSON(into: &out)
        JSONWriter.raw(",\"max_attempts\":", into: &out); (maxAttempts.map { JSONValue.int(Int64($0)) } ?? .null).writeJSON(into: &out)
        JSONWriter.raw(",\"lease_owner\":", into: &out); JSONWriter.optionalString(leaseOwner, into: &out)
        JSONWriter.raw(",\"lease_until\":", into: &out); Self.writeTime(leaseUntil, into: &out)
        JSONWriter.raw(",\"last_status\":", into: &out); JSONWriter.optionalString(lastStatus, into: &out)
        JSONWriter.raw(",\"last_result\":", into: &out); (lastResult ?? .null).writeJSON(into: &out)
        for (key, value) in extra.members {
            out.append(UInt8(ascii: ","))
            JSONWriter.string(key, into: &out)
            out.append(UInt8(ascii: ":"))
            value.writeJSON(into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    static func writeTime(_ t: Timestamp?, into out: inout [UInt8]) {
        if let t { t.writeJSON(into: &out) } else { JSONWriter.raw("null", into: &out) }
    }
}

/// The fields a `list_tasks` call filters and pages by.
public struct TaskQuery: Hashable, Sendable {
    public var agentName: String?
    public var status: String?
    public var limit: Int
    public var offset: Int
    public var budget: AnswerBudget

    public init(agentName: String? = nil, status: String? = nil, limit: Int = 100, offset: Int = 0, budget: AnswerBudget = .unlimited) {
        self.agentName = agentName; self.status = status; self.limit = limit; self.offset = offset; self.budget = budget
    }
}
