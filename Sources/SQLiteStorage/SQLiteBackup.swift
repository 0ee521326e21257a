import CSQLite
import ProxyCore

/// An online copy of a SQLite database with SQLite's backup API: consistent
/// (one snapshot of the source) while a proxy keeps writing to it, since the
/// source is read in WAL mode and writers are not blocked.
public enum SQLiteBackup {
    public struct Outcome: Sendable {
        public let pages: Int
        public let tasks: Int
        public let logs: Int
        public let metadata: Int
        public let collections: Int
        public let documents: Int
    }

    /// Copies `source` into a new file at `destination`, then checks the copy
    /// (`PRAGMA integrity_check`) and counts its rows.
    public static func run(source: String, destination: String) throws(ProxyError) -> Outcome {
        let from = try SQLiteConnection(.init(path: source, readOnly: true))
        let to = try SQLiteConnection(.init(path: destination, synchronous: "FULL"))
        guard let backup = sqlite3_backup_init(to.handle, "main", from.handle, "main") else {
            throw .backendUnavailable("cannot start the backup: \(String(cString: sqlite3_errmsg(to.handle)))", retryAfterMs: 1000)
        }
        // All pages in one step: one read transaction, so one snapshot of the source.
        var rc = sqlite3_backup_step(backup, -1)
        var waited = 0
        while rc == SQLITE_BUSY || rc == SQLITE_LOCKED, waited < 5000 {
            sqlite3_sleep(50)
            waited += 50
            rc = sqlite3_backup_step(backup, -1)
        }
        let pages = Int(sqlite3_backup_pagecount(backup))
        sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else {
            throw .backendUnavailable("the backup did not finish: \(String(cString: sqlite3_errstr(rc)))", retryAfterMs: 1000)
        }
        var verdict = ""
        try to.query("PRAGMA integrity_check") { row in verdict = row.text(0) ?? "" }
        guard verdict == "ok" else { throw .internalError("the backup failed its integrity check: \(verdict)") }
        // The whole file is copied, every table with it: these are what the report names.
        var n = [Int](repeating: 0, count: 5)
        try to.query("SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM logs), (SELECT count(*) FROM metadata), "
                     + "(SELECT count(*) FROM vector_collections), (SELECT count(*) FROM vector_documents)") { row in
            for i in n.indices { n[i] = Int(row.int(i) ?? 0) }
        }
        return Outcome(pages: pages, tasks: n[0], logs: n[1], metadata: n[2], collections: n[3], documents: n[4])
    }
}
