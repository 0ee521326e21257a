import Foundation
import ProxyCore

/// What a seed-era `storage/` folder holds, read without changing anything:
/// `tasks/*.json` (one task per file; the file name is the id when the JSON
/// has none) and `logs/*` (one file per task, named after it; lines in
/// Python's default logging format or JSON lines).
struct StorageFolder {
    struct TaskFile {
        let path: String           // relative to the source folder, for the report
        let task: Result<JSONObject, Skip>
    }

    struct LogFile {
        let path: String
        let taskID: String
        let entries: [LogLine]
        let skipped: [Skip]        // lines that could not be read
    }

    struct LogLine {
        let id: String             // derived from file and line: a second import adds nothing
        let level: String
        let message: String
        let createdAt: String
        let metadata: JSONObject?
    }

    struct Skip: Error {
        let path: String
        let why: String
    }

    static let requiredTaskFields = ["agent_name", "task_prompt", "schedule_type", "schedule_value"]

    let tasks: [TaskFile]
    let logs: [LogFile]

    init(source: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RuntimeError("no folder at \(source)")
        }
        tasks = Self.files(in: source + "/tasks").filter { $0.hasSuffix(".json") }.map { Self.readTask(source: source, name: $0) }
        logs = Self.files(in: source + "/logs").map { Self.readLogs(source: source, name: $0) }
    }

    private static func files(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    // MARK: - Tasks

    private static func readTask(source: String, name: String) -> TaskFile {
        let path = "tasks/" + name
        func skip(_ why: String) -> TaskFile { TaskFile(path: path, task: .failure(Skip(path: path, why: why))) }
        guard let data = FileManager.default.contents(atPath: source + "/" + path) else { return skip("cannot read the file") }
        let value: JSONValue
        do { value = try JSONParser.parse(String(decoding: data, as: UTF8.self)) } catch { return skip("bad JSON: \(error)") }
        guard case .object(var task) = value else { return skip("not a JSON object") }
        if task["id"] == nil || task["id"] == .null { task["id"] = .string(String(name.dropLast(".json".count))) }
        for field in requiredTaskFields where task[field] == nil || task[field] == .null {
            return skip("missing \(field)")
        }
        return TaskFile(path: path, task: .success(task))
    }

    // MARK: - Logs

    private static func readLogs(source: String, name: String) -> LogFile {
        let path = "logs/" + name
        let taskID = name.split(separator: ".").count > 1 ? String(name[..<name.lastIndex(of: ".")!]) : name
        guard let data = FileManager.default.contents(atPath: source + "/" + path) else {
            return LogFile(path: path, taskID: taskID, entries: [], skipped: [Skip(path: path, why: "cannot read the file")])
        }
        var entries: [LogLine] = [], skipped: [Skip] = []
        var pending: (line: Int, level: String, time: String, message: String)?
        func flush() {
            guard let p = pending else { return }
            entries.append(LogLine(id: logID(path, p.line), level: p.level, message: p.message, createdAt: p.time, metadata: nil))
            pending = nil
        }
        for (index, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : String(raw)
            let number = index + 1
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            if line.hasPrefix("{") {
                flush()
                switch jsonLine(line) {
                case .success(let (time, level, message, metadata)):
                    entries.append(LogLine(id: logID(path, number), level: level, message: message, createdAt: time, metadata: metadata))
                case .failure(let unreadable):
                    skipped.append(Skip(path: "\(path):\(number)", why: unreadable.why))
                }
            } else if let (time, level, message) = pythonLogLine(line) {
                flush()
                pending = (number, level, time, message)
            } else if pending != nil {
                pending!.message += "\n" + line  // a traceback or a multi-line message
            } else {
                skipped.append(Skip(path: "\(path):\(number)", why: "neither `date - LEVEL - message` nor a JSON object"))
            }
        }
        flush()
        return LogFile(path: path, taskID: taskID, entries: entries, skipped: skipped)
    }

    /// `2026-11-24 10:00:00,123 - INFO - message` (Python's `%(asctime)s - %(levelname)s - %(message)s`).
    /// The time has no zone in that format; it is read as UTC.
    static func pythonLogLine(_ line: String) -> (time: String, level: String, message: String)? {
        let parts = line.components(separatedBy: " - ")
        guard parts.count >= 3, parts[0].count == 23, LogLevel(loose: parts[1]) != nil else { return nil }
        let time = parts[0].replacingOccurrences(of: ",", with: ".") + "Z"
        guard Timestamp(rfc3339: time) != nil else { return nil }
        return (time, parts[1], parts[2...].joined(separator: " - "))
    }

    /// `{"timestamp"|"created_at"|"time": …, "level"|"levelname": …, "message"|"msg": …, …}`; other members become metadata.
    struct Unreadable: Error { let why: String }

    static func jsonLine(_ line: String) -> Result<(String, String, String, JSONObject?), Unreadable> {
        guard case .object(let o)? = try? JSONParser.parse(line) else { return .failure(Unreadable(why: "bad JSON")) }
        func first(_ keys: [String]) -> (key: String, value: String)? {
            for k in keys { if let v = o[k]?.stringValue { return (k, v) } }
            return nil
        }
        guard let time = first(["created_at", "timestamp", "time", "asctime"]) else { return .failure(Unreadable(why: "no created_at/timestamp")) }
        guard let level = first(["level", "levelname"]), LogLevel(loose: level.value) != nil else { return .failure(Unreadable(why: "no valid level")) }
        guard let message = first(["message", "msg"]) else { return .failure(Unreadable(why: "no message")) }
        let used: Set<String> = [time.key, level.key, message.key, "task_id"]
        var metadata = o["metadata"]?.objectValue ?? JSONObject()
        for (k, v) in o.members where !used.contains(k) && k != "metadata" { metadata[k] = v }
        return .success((time.value, level.value, message.value, metadata.isEmpty ? nil : metadata))
    }

    /// `file:line`, shortened with a hash when the name is long (ids are at most 128 characters).
    static func logID(_ path: String, _ line: Int) -> String {
        let id = "\(path):\(line)"
        guard id.unicodeScalars.count > 120 else { return id }
        var hash: UInt64 = 0xcbf29ce484222325  // FNV-1a
        for b in path.utf8 { hash = (hash ^ UInt64(b)) &* 0x100000001b3 }
        return String(path.suffix(80)) + "#" + String(hash, radix: 16) + ":\(line)"
    }
}
