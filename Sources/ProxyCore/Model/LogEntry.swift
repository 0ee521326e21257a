/// A run-log line of a task.
public struct LogEntry: Equatable, Sendable {
    public var id: String
    public var taskID: String
    public var level: LogLevel
    public var message: String
    public var metadata: JSONObject?
    public var createdAt: Timestamp

    public init(id: String, taskID: String, level: LogLevel, message: String, metadata: JSONObject?, createdAt: Timestamp) {
        self.id = id; self.taskID = taskID; self.level = level; self.message = message
        self.metadata = metadata; self.createdAt = createdAt
    }
}

/// Python's logging levels; case-insensitive in, upper-case out.
public enum LogLevel: String, CaseIterable, Sendable {
    case debug = "DEBUG", info = "INFO", warning = "WARNING", error = "ERROR", critical = "CRITICAL"

    public init?(loose text: String) {
        self.init(rawValue: text.uppercased())
    }
}

extension LogEntry: JSONWritable {
    public func writeJSON(into out: inout [UInt8]) {
        JSONWriter.raw("{\"id\":", into: &out); JSONWriter.string(id, into: &out)
        JSONWriter.raw(",\"task_id\":", into: &out); JSONWriter.string(taskID, into: &out)
        JSONWriter.raw(",\"level\":", into: &out); JSONWriter.string(level.rawValue, into: &out)
        JSONWriter.raw(",\"message\":", into: &out); JSONWriter.string(message, into: &out)
        JSONWriter.raw(",\"metadata\":", into: &out)
        if let metadata { metadata.writeJSON(into: &out) } else { JSONWriter.raw("null", into: &out) }
        JSONWriter.raw(",\"created_at\":", into: &out); createdAt.writeJSON(into: &out)
        out.append(UInt8(ascii: "}"))
    }
}

/// The filters of `query_logs`.
public struct LogQuery: Sendable {
    public var taskID: String?
    public var level: LogLevel?
    public var startTime: Timestamp?   // inclusive
    public var endTime: Timestamp?     // exclusive
    public var limit: Int
    public var budget: AnswerBudget

    public init(taskID: String? = nil, level: LogLevel? = nil, startTime: Timestamp? = nil, endTime: Timestamp? = nil, limit: Int = 100,
                budget: AnswerBudget = .unlimited) {
        self.taskID = taskID; self.level = level; self.startTime = startTime; self.endTime = endTime; self.limit = limit
        self.budget = budget
    }
}
