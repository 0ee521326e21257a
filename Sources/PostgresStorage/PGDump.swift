import ProxyCore
import StoragePorts
import SQLStore

/// `export --format sql`: the stored tables as one SQL script for `psql -f`,
/// the seed's `dump.sql`. It creates the schema as `storage-proxy migrate`
/// would, applying the migrations missing (so a proxy serves the database as
/// it is), then inserts every row,
/// all in one transaction: a load that fails leaves the database as it was.
/// Rows whose key is already present are left alone, so loading twice is safe.
/// Documents go in as every write to a collection does: its version bumped
/// first, the rows stamped with it, so proxies on the database see them.
public enum PGDump {
    @discardableResult
    public static func write(_ store: TableStore, source: String, batchSize: Int = 1000,
                             into out: inout ExportWriter) throws(ProxyError) -> [StoredTable: Int] {
        out.append("""
            -- storage-proxy export of \(source), taken \(Timestamp.now().rfc3339)
            -- Load into a PostgreSQL database with: psql -d DATABASE -f dump.sql
            \\set ON_ERROR_STOP on
            SET client_encoding = 'UTF8';
            SET client_min_messages = warning;
            SET standard_conforming_strings = on;
            BEGIN;
            \(Schema.bookkeeping(.postgresql));

            """)
        // Each migration only where it is missing (psql's \if), as `migrate` does: a later
        // one may undo what an earlier one made (version 9 drops version 4's keyword index),
        // so running them all again on a loaded database would fail.
        for m in Schema.migrations(.postgresql) {
            out.append("""
                SELECT NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = \(m.version)) AS missing \\gset
                \\if :missing
                \(m.sql)
                INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(m.version), \(literal(m.name)), now());
                \\endif

                """)
        }
        var counts: [StoredTable: Int] = [:]
        for table in StoredTable.allCases {
            let (names, types) = Statements.insertColumns(table, .postgresql)
            let computed = Statements.computedColumn(table)
            try store.scan(table, batchSize: batchSize) { (batch) throws(ProxyError) in
                if table == .documents {
                    let collections = Set(batch.compactMap { row -> String? in if case .document(let d) = row { d.collection } else { nil } })
                    out.append("\nUPDATE vector_collections SET version = version + 1 WHERE name IN ("
                               + collections.sorted().map(literal).joined(separator: ", ") + ");")
                }
                out.append("\nINSERT INTO \(table.rawValue) (\(names)\(computed.map { ", \($0.name)" } ?? "")) VALUES\n")
                for (i, row) in batch.enumerated() {
                    var values = zip(Statements.postgresql.values(row), types).map { value, type in
                        value.pgText.map { literal($0) + "::" + type.lowercased() } ?? "NULL"
                    }
                    if let computed { values.append(computed.sql(values[0])) }
                    out.append((i == 0 ? "  (" : ", (") + values.joined(separator: ", ") + ")\n")
                }
                out.append("ON CONFLICT DO NOTHING;\n")
                counts[table, default: 0] += batch.count
            }
        }
        out.append("\nCOMMIT;\n")
        out.flush()
        return counts
    }

    /// A string constant under standard_conforming_strings: only `'` is special.
    static func literal(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
