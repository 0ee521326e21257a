import ArgumentParser
import Foundation
import SQLiteStorage

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take an online backup of the Personal Edition's SQLite file, while a proxy serves it.",
        discussion: """
            Uses SQLite's backup API: the copy is one consistent snapshot, writers are not stopped, and the copy \
            is checked (PRAGMA integrity_check) before the command succeeds. The copy is a complete database: \
            serve it with --database FILE. For PostgreSQL use pg_dump, or `storage-proxy export`.
            """)

    @Option(help: "The SQLite file to copy.") var database = "./storage/data.db"
    @Option(help: "Where to write the copy (must not exist).") var to: String

    func run() async throws {
        guard FileManager.default.fileExists(atPath: database) else { throw RuntimeError("no database at \(database)") }
        guard !FileManager.default.fileExists(atPath: to) else { throw RuntimeError("\(to) exists; give a new file") }
        do {
            let outcome = try SQLiteBackup.run(source: database, destination: to)
            print("backed up \(database) to \(to): \(outcome.tasks) tasks, \(outcome.logs) logs, \(outcome.metadata) metadata, "
                  + "\(outcome.collections) vector_collections, \(outcome.documents) vector_documents, \(outcome.pages) pages, integrity ok")
        } catch {
            try? FileManager.default.removeItem(atPath: to)
            throw RuntimeError(error.message)
        }
    }
}
