import ArgumentParser
import Foundation
import ProxyCore
import StoragePorts

struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the stored tables (tasks, logs, metadata, vector collections and documents, LangGraph's checkpoints and store) from one database into another: "
            + "SQLite ⇄ PostgreSQL, verified.",
        discussion: """
            Databases: a SQLite file (path or sqlite:PATH) or a postgresql:// URL. The target is created (SQLite) \
            and migrated as needed. Rows are copied in key order, a batch per target transaction; each batch \
            commits with a mark of how far the copy got, so a copy that is interrupted (even kill -9) goes on from \
            its last batch when the same command is run again: nothing twice, nothing skipped. The source is read \
            in one snapshot per run; stop the proxies on both sides for the move (DEPLOYMENT.md). At the end both \
            sides are read again and each table's row count and content checksum are printed side by side; the \
            exit status is 1 if they differ. A target that already holds rows is refused, unless --merge: then \
            rows whose key the target holds stay as they are, and the check is that every source row is present.
            """)

    @Option(help: "The database to copy from (only read).") var from: String
    @Option(help: "The database to copy into.") var to: String
    @Flag(help: "Copy into a target that already holds rows, adding the source's rows it lacks.") var merge = false
    @Option(help: "Rows per batch (one target transaction each).") var batchSize = 1000

    func run() async throws {
        let (source, target) = (DatabaseLocation(from), DatabaseLocation(to))
        guard source.description != target.description else { throw ValidationError("--from and --to name the same database") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
        let copy = TableCopy(from: try source.open(writable: false), to: try target.open(writable: true),
                             sourceName: source.description, batchSize: batchSize)
        do {
            try await run(copy, source: source, target: target)
        } catch let error as ProxyError {
            throw RuntimeError("the copy stopped: \(error.message). Run the same command again to go on from the last batch.")
        }
    }

    private func run(_ copy: TableCopy, source: DatabaseLocation, target: DatabaseLocation) async throws {
        let marks = try copy.earlierMarks()
        let merge = self.merge || marks.contains(where: \.merge)  // a merge stays one when resumed
        if marks.isEmpty && !merge {
            let held = try copy.targetContents()
            if !held.isEmpty {
                throw RuntimeError("\(target) already holds " + held.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", ")
                    + ": copy into an empty database, or give --merge to add the source's rows to it")
            }
        }
        print("copying \(source) → \(target)")
        if !marks.isEmpty {
            print("resuming an interrupted copy\(merge ? " (merging)" : ""): " + marks.map { "\($0.table.rawValue) after \($0.rows) rows" }.joined(separator: ", "))
        }
        var bar: ProgressBar?
        let started = MonotonicClock.seconds()
        let (outcomes, checks) = try copy.run(merge: merge, totals: { counts in
            bar = ProgressBar(total: counts.values.reduce(0, +))
            bar?.advance(by: marks.reduce(0) { $0 + $1.rows })
        }, progress: { _, n in bar?.advance(by: n) })
        bar?.finish()

        var inserted: [StoredTable: Int] = [:], present = 0
        for o in outcomes { inserted[o.table] = o.inserted; present += o.present }
        let seconds = MonotonicClock.seconds() - started
        print("copied \(inserted.countsText) and verified in \(String(format: "%.1f", seconds)) s"
              + (present > 0 ? "; \(present) rows were already in the target and left as they were" : ""))
        print(report(checks, merge: merge, source: source, target: target))

        let problems = merge
            ? checks.filter { $0.missing > 0 }.map { "\($0.missing) \($0.table.rawValue) rows of the source are missing" }
            : checks.filter { $0.source != $0.target }.map { "\($0.table.rawValue) differs" }
        try copy.target.clearMarks(source: copy.sourceName)  // verified or not, a rerun starts afresh
        guard problems.isEmpty else {
            throw RuntimeError("verification failed: " + problems.joined(separator: "; ")
                + ". Did something write to the source during the copy? Stop its proxies and copy again "
                + "(with --merge to add what is missing).")
        }
        print(merge ? "verified: every source row is in the target" : "verified: the target holds exactly the source's rows")
    }

    private func report(_ checks: [TableCopy.Check], merge: Bool, source: DatabaseLocation, target: DatabaseLocation) -> String {
        var table = SummaryTable(databases: ["source " + source.description, "target " + target.description])
        for c in checks {
            let note = merge
                ? "source rows in the target: \(c.identical) identical, \(c.differing) kept the target's own, \(c.missing) missing"
                : (c.source == c.target ? "same" : "DIFFERENT")
            table.rows.append((c.table, [c.source, c.target], note))
        }
        return table.text
    }
}
