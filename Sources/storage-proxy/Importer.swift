import ProxyCore
import StorageProxyClient

/// Moves a `StorageFolder` into storage through a proxy and counts what happened.
struct Importer {
    let client: ProxyClient
    let folder: StorageFolder
    let dryRun: Bool
    private(set) var tasks = Counts(), logs = Counts()
    private(set) var skipped: [StorageFolder.Skip] = []
    private var progress: ProgressBar

    struct Counts { var imported = 0, present = 0, skipped = 0 }

    init(client: ProxyClient, folder: StorageFolder, dryRun: Bool) {
        self.client = client
        self.folder = folder
        self.dryRun = dryRun
        progress = ProgressBar(total: folder.tasks.count + folder.logs.reduce(0) { $0 + $1.entries.count })
    }

    /// A dry run writes inside a transaction that it rolls back: the proxy
    /// checks every task and line exactly as in a real run, and nothing stays.
    mutating func run() async throws {
        let tx = dryRun ? try await client.beginTransaction() : nil
        do {
            try await importAll(tx)
        } catch {
            try? await tx?.rollback()
            throw error
        }
        try await tx?.rollback()
        progress.finish()
    }

    private mutating func importAll(_ tx: Transaction?) async throws {
        var known = Set<String>()
        for file in folder.tasks {
            defer { progress.advance() }
            switch file.task {
            case .failure(let skip):
                skipped.append(skip)
                tasks.skipped += 1
            case .success(let task):
                let id = task["id"]?.stringValue ?? ""
                if try await client.getTask(id) != nil {
                    tasks.present += 1
                    known.insert(id)
                    continue
                }
                do {
                    if let tx { try await tx.saveTask(task) } else { try await client.saveTask(task) }
                    tasks.imported += 1
                    known.insert(id)
                } catch let error as ProxyError {
                    skipped.append(.init(path: file.path, why: error.message))
                    tasks.skipped += 1
                }
            }
        }
        for file in folder.logs {
            skipped += file.skipped
            logs.skipped += file.skipped.count
            if !known.contains(file.taskID), (try await client.getTask(file.taskID)) == nil {
                skipped.append(.init(path: file.path, why: "logs for unknown task \(file.taskID) (\(file.entries.count) log lines)"))
                logs.skipped += file.entries.count
                progress.advance(by: file.entries.count)
                continue
            }
            try await importLines(file, tx)
        }
    }

    /// The lines not stored yet (by id), saved 256 at a time, pipelined.
    private mutating func importLines(_ file: StorageFolder.LogFile, _ tx: Transaction?) async throws {
        // Ids already stored: an import run before, or stopped half-way.
        let stored = try await storedLogIDs(of: file.taskID)
        var fresh: [StorageFolder.LogLine] = []
        for entry in file.entries {
            if stored.contains(entry.id) { logs.present += 1 } else { fresh.append(entry) }
        }
        progress.advance(by: file.entries.count - fresh.count)
        var start = 0
        while start < fresh.count {
            let chunk = Array(fresh[start..<min(fresh.count, start + 256)])
            start += chunk.count
            let failures: [(String, String)] = try await withThrowingTaskGroup(of: (String, String)?.self) { group in
                for entry in chunk {
                    group.addTask { [client] in
                        var params: JSONObject = ["task_id": .string(file.taskID), "level": .string(entry.level), "message": .string(entry.message),
                                                  "id": .string(entry.id), "created_at": .string(entry.createdAt)]
                        if let metadata = entry.metadata { params["metadata"] = .object(metadata) }
                        if let tx { params["transaction"] = .string(tx.handle) }
                        do {
                            _ = try await client.call("save_log", params)
                            return nil
                        } catch let error as ProxyError {
                            return (entry.id, error.message)
                        }
                    }
                }
                return try await group.reduce(into: []) { if let f = $1 { $0.append(f) } }
            }
            for (id, why) in failures { skipped.append(.init(path: id, why: why)) }
            logs.skipped += failures.count
            logs.imported += chunk.count - failures.count
            progress.advance(by: chunk.count)
        }
    }

    /// Every stored log id of a task, read newest first a page at a time
    /// (`query_logs` returns at most 10,000). Each page ends *at* the oldest
    /// time of the page before, inclusive, so logs sharing that time are read
    /// again rather than skipped. (Only a page whose 10,000 logs all share
    /// one microsecond stops the walk early; lines past it would be sent
    /// again, and the proxy drops them by id.)
    private func storedLogIDs(of taskID: String) async throws -> Set<String> {
        let page = 10_000
        var ids = Set<String>()
        var end: Timestamp?
        while true {
            let logs = try await client.queryLogs(taskID: taskID, endTime: end, limit: page)
            let before = ids.count
            for log in logs { if let id = log["id"]?.stringValue { ids.insert(id) } }
            guard logs.count == page, ids.count > before,
                  let oldest = logs.last?["created_at"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) else { return ids }
            end = Timestamp(microseconds: oldest.microseconds + 1)
        }
    }

    func report(source: String) -> String {
        var lines = ["import-files from \(source)" + (dryRun ? " (dry run: checked in a transaction that was rolled back; \"imported\" is what would be)" : ""),
                     "tasks: \(tasks.imported) imported, \(tasks.present) already present, \(tasks.skipped) skipped",
                     "logs:  \(logs.imported) imported, \(logs.present) already present, \(logs.skipped) skipped (\(folder.logs.count) files)"]
        if !skipped.isEmpty {
            lines.append("skipped:")
            lines += skipped.map { "  \($0.path): \($0.why)" }
        }
        return lines.joined(separator: "\n")
    }
}
