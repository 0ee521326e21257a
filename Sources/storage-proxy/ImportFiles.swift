import ArgumentParser
import Foundation
import StorageCore
import StorageProxyClient

struct ImportFiles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-files",
        abstract: "Import a seed-era storage/ folder (tasks/*.json, logs/*) into the configured storage.",
        discussion: """
            tasks/*.json: one task per file; the file name is the id when the JSON has none. A task whose id is \
            already stored is left as it is. logs/NAME[.log|.jsonl]: the logs of task NAME, one per line, in \
            Python's default format (`2026-11-24 10:00:00,123 - INFO - message`, read as UTC; lines that do not \
            start a record continue the one before, e.g. tracebacks) or as JSON objects (created_at|timestamp, \
            level, message; other members become metadata). Each log's id is its file and line, so running the \
            import again adds nothing. The source folder is only read. \
            Writes go through a proxy: the one at --address, or one this command starts on the configured storage \
            (give --address while a proxy already serves that storage).
            """)

    @Option(help: "The folder holding tasks/ and logs/ (e.g. ./storage).") var source: String
    @Flag(help: "Read and check everything, report what would be imported, write nothing.") var dryRun = false
    @Option(help: "A running proxy to import through (unix:///path or tcp://host:port).") var address: String?
    @Option(help: "Auth token for --address over TCP (default: $STORAGE_PROXY_TOKEN).") var token: String?
    @Option(help: "YAML config file of the storage to import into (as for serve).") var config: String?
    @Option(help: "Storage backend: sqlite or postgresql.") var storage: String?
    @Option(help: "SQLite file path, or a postgresql:// URL.") var database: String?
    @Option(help: "Cache of the proxy this command starts: none, memory or redis://….") var cache: String?

    func run() async throws {
        let folder = try StorageFolder(source: source)
        var proxy: PrivateProxy?
        let dir = NSTemporaryDirectory() + "storage-proxy-import-\(getpid())"
        let client: ProxyClient
        if let address {
            guard let a = ProxyAddress(address) else { throw ValidationError("bad --address \(address)") }
            client = ProxyClient(a, token: token ?? environment("STORAGE_PROXY_TOKEN"), connectTimeout: 0)
        } else {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var args: [String] = []
            for (flag, value) in [("--config", config), ("--storage", storage), ("--database", database), ("--cache", cache)] {
                if let value { args += [flag, value] }
            }
            proxy = try await PrivateProxy(arguments: args, socket: dir + "/import.sock")
            client = ProxyClient(.unix(dir + "/import.sock"))
        }
        defer {
            client.close()
            proxy?.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
        var importer = Importer(client: client, folder: folder, dryRun: dryRun)
        try await importer.run()
        print(importer.report(source: source))
    }
}

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
