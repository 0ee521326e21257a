import ArgumentParser
import Foundation
import PostgresStorage
import ProxyCore
import StoragePorts

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the stored tables to a file: SQL for psql (the seed's dump.sql) or JSON lines.",
        discussion: """
            --format sql writes one script that creates the schema (as `storage-proxy migrate` would) and inserts \
            every row, in one transaction: load it with `psql -d DATABASE -f dump.sql`, into an empty database or \
            one that already has the schema (rows whose key is present are left alone, so loading twice is safe). \
            --format jsonl writes one line per row, {"table":"tasks","row":{…}}, every column by name, tasks before \
            logs, collections before documents (an embedding as the base64 of its float32 little-endian bytes). The database is read in one snapshot, while a proxy may keep serving it. The file appears only \
            when complete. Check a load with `storage-proxy checksum SOURCE TARGET`.
            """)

    @Option(help: "The database to export: a SQLite file (path or sqlite:PATH) or a postgresql:// URL.")
    var database = "./storage/data.db"
    @Option(help: "sql or jsonl (default: jsonl when --output ends in .jsonl, else sql).") var format: String?
    @Option(help: "The file to write (default: standard output).") var output: String?
    @Option(help: "Rows read per query.") var batchSize = 1000

    func run() async throws {
        let asJSONLines: Bool
        switch format ?? (output?.hasSuffix(".jsonl") == true ? "jsonl" : "sql") {
        case "sql": asJSONLines = false
        case "jsonl": asJSONLines = true
        case let other: throw ValidationError("--format must be sql or jsonl, not \(other)")
        }
        let location = DatabaseLocation(database)
        let store = try location.open(writable: false)
        let partial = output.map { $0 + ".partial" }
        guard let file = partial.map({ fopen($0, "w") }) ?? stdout else {
            throw RuntimeError("cannot write \(partial ?? "-"): \(String(cString: strerror(errno)))")
        }
        var writer = ExportWriter { bytes in _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) } }
        let counts: [StoredTable: Int]
        do {
            counts = try export(store, from: location, asJSONLines: asJSONLines, into: &writer)
        } catch {
            if let partial { fclose(file); unlink(partial) }
            throw RuntimeError("\(location): \(error.message)")
        }
        let failed = fflush(file) != 0 || ferror(file) != 0
        if let partial, let output {
            let closed = fclose(file) == 0
            guard !failed, closed, rename(partial, output) == 0 else {
                unlink(partial)
                throw RuntimeError("cannot write \(output): \(String(cString: strerror(errno)))")
            }
        } else if failed {
            throw RuntimeError("cannot write to standard output")
        }
        fputs("exported \(counts.countsText) from \(location) to \(output ?? "standard output")\n", stderr)
    }

    private func export(_ store: TableStore, from location: DatabaseLocation, asJSONLines: Bool,
                        into writer: inout ExportWriter) throws(ProxyError) -> [StoredTable: Int] {
        try store.beginSnapshot()
        defer { store.endSnapshot() }
        return asJSONLines
            ? try JSONLinesExport.write(store, batchSize: batchSize, into: &writer)
            : try PGDump.write(store, source: location.description, batchSize: batchSize, into: &writer)
    }
}
