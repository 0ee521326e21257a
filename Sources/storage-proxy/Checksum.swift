import ArgumentParser
import ProxyCore
import StoragePorts

struct Checksum: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each stored table's row count and content checksum, for one database or several side by side.",
        discussion: """
            Tables: tasks, logs, metadata, vector_collections and vector_documents (embeddings by their bytes). \
            The checksum covers every column of every row (JSON compared by value, times to the microsecond) and \
            does not depend on the backend: a SQLite file and a PostgreSQL database holding the same rows print the \
            same figures. Each database is read in one snapshot. With several databases, the exit status is 1 when \
            any table differs. Databases: a SQLite file (path or sqlite:PATH) or a postgresql:// URL.
            """)

    @Argument(help: "The databases to compare.") var databases: [String]
    @Option(help: "Rows read per query.") var batchSize = 1000

    func run() async throws {
        guard !databases.isEmpty else { throw ValidationError("name at least one database") }
        let locations = databases.map(DatabaseLocation.init)
        var table = SummaryTable(databases: locations.map(\.description))
        var perDatabase: [[TableSummary]] = []
        for location in locations {
            let store = try location.open(writable: false)
            try store.beginSnapshot()
            defer { store.endSnapshot() }
            perDatabase.append(try StoredTable.allCases.map { try TableSummary.of($0, in: store, batchSize: batchSize) })
        }
        var differing: [StoredTable] = []
        for (i, name) in StoredTable.allCases.enumerated() {
            let summaries = perDatabase.map { $0[i] }
            let same = summaries.allSatisfy { $0 == summaries[0] }
            if !same { differing.append(name) }
            table.rows.append((name, summaries, locations.count > 1 ? (same ? "same" : "DIFFERENT") : ""))
        }
        print(table.text)
        if !differing.isEmpty {
            throw RuntimeError("the databases differ in " + differing.map(\.rawValue).joined(separator: ", "))
        }
    }
}
