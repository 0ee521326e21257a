import ProxyCore
import StoragePorts

/// LangGraph's checkpointer (`checkpoint.*`) as operations, written once for
/// both backends (`CheckpointStatements` holds the SQL). A put and a task's
/// writes are one write each (PostgreSQL: in a group commit); deletes,
/// copies and prunes are units. Reads of a thread are read-through entries
/// in the thread's group, which every write to the thread retires.
public enum CheckpointOperations {
    static func group(_ thread: String) -> String { "ckpt:" + CacheKeys.escape(thread) }
    static func retiring(_ threads: [String]) -> CacheInvalidation { CacheInvalidation(groups: threads.map(group)) }

    public static func put(_ c: CheckpointPut) -> Operation<Void> {
        var op = Operation<Void>(.write(.checkpoint(c.thread, c.namespace)), cache: .retiring(retiring([c.thread])), statement: { d in
            var values: [SQLValue] = [.text(c.thread), .text(c.namespace), .text(c.id), d.value(c.parentID), .text(c.checkpoint.jsonText),
                                      .text(JSONValue.object(c.metadata).jsonText), d.value(c.runID), d.value(c.now)]
            if d == .postgresql { values.append(.text(c.blobsJSON)) }
            return (CheckpointStatements.save(d), values)
        }, initial: ())
        op.firstOnSQLite = { (CheckpointStatements.saveBlobsSQLite(), [.text(c.thread), .text(c.namespace), .text(c.blobsJSON)]) }
        op.change = .checkpoint(CheckpointChange(.created, thread: c.thread, namespace: c.namespace, checkpointID: c.id,
                                                 parentID: c.parentID, metadata: .object(c.metadata)))
        return op
    }

    public static func putWrites(_ w: CheckpointWrites) -> Operation<Void> {
        var op = Operation<Void>(.write(.checkpoint(w.thread, w.namespace)), cache: .retiring(retiring([w.thread])), statement: { d in
            (CheckpointStatements.saveWrites(d), [.text(w.thread), .text(w.namespace), .text(w.checkpointID), .text(w.taskID),
                                                  .text(w.taskPath), .text(w.writesJSON)])
        }, initial: ())
        op.change = .checkpoint(CheckpointChange(.updated, thread: w.thread, namespace: w.namespace, checkpointID: w.checkpointID, taskID: w.taskID))
        return op
    }

    /// The thread's newest checkpoint in the namespace, or the one with this
    /// id, with its values and pending writes; nil when there is none.
    public static func get(thread: String, namespace: String, id: String?, budget: AnswerBudget) -> Operation<CheckpointTuples> {
        let entry = CacheEntry(key: "ckpt:\(CacheKeys.escape(thread)):\(CacheKeys.escape(namespace)):\(id.map(CacheKeys.escape) ?? "*")",
                               group: group(thread), ttl: 300)
        return Operation(.read, cache: .keep(entry), statement: { d in
            var values: [SQLValue] = [.text(thread), .text(namespace)]
            var page = "SELECT \(CheckpointStatements.checkpointColumns) FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2"
            if let id { values.append(.text(id)); page += " AND checkpoint_id = $3" }
            page += " ORDER BY checkpoint_id DESC LIMIT 1"
            return (CheckpointStatements.tuples(d, page: page), values)
        }, initial: CheckpointTuples(budget: budget, single: true), eachRow: { row, _, out throws(ProxyError) in try out.add(row) }, finish: { out, _ in out.finish() })
    }

    /// Newest first (by id, then thread and namespace), at most `q.limit`;
    /// `next` continues after the last one when the page is full.
    public static func list(_ q: CheckpointQuery) -> Operation<CheckpointTuples> {
        Operation(.read, cache: q.thread.map { thread in
            CacheEntry(key: "ckpts:\(CacheKeys.escape(thread)):\(q.cacheName)", group: group(thread), ttl: 60)
        }.map { .keep($0) }, statement: { d in
            var values: [SQLValue] = [], conditions: [String] = []
            func condition(_ value: SQLValue, _ make: (Int) -> String) { values.append(value); conditions.append(make(values.count)) }
            if let t = q.thread { condition(.text(t)) { "thread_id = $\($0)" } }
            if let ns = q.namespace { condition(.text(ns)) { "checkpoint_ns = $\($0)" } }
            if let id = q.checkpointID { condition(.text(id)) { "checkpoint_id = $\($0)" } }
            if let f = q.filter, !f.isEmpty { condition(.text(JSONValue.object(f).jsonText)) { CheckpointStatements.metadataMatches(d, $0) } }
            if let b = q.before { condition(.text(b)) { "checkpoint_id < $\($0)" } }
            if let a = q.after {
                values += [.text(a.checkpointID), .text(a.thread)]
                condition(.text(a.namespace)) { "(checkpoint_id, thread_id, checkpoint_ns) < ($\($0 - 2), $\($0 - 1), $\($0))" }
            }
            values.append(.int(Int64(q.limit)))
            let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            let page = "SELECT \(CheckpointStatements.checkpointColumns) FROM checkpoints\(filter) "
                + "ORDER BY checkpoint_id DESC, thread_id DESC, checkpoint_ns DESC LIMIT $\(values.count)"
            return (CheckpointStatements.tuples(d, page: page), values)
        }, initial: CheckpointTuples(budget: q.budget, single: false, limit: q.limit), eachRow: { row, _, out throws(ProxyError) in try out.add(row) },
           finish: { out, _ in out.finish() })
    }

    /// Every checkpoint, value and write of the thread; answers how many checkpoints there were (and the threads: `CheckpointsTouched`).
    public static func deleteThread(_ thread: String) -> Unit<CheckpointsTouched> {
        removing(threads: [thread]) { d in (CheckpointStatements.inList(d, "thread_id", 1), [idList([thread])]) }
    }

    /// Every checkpoint whose metadata's `run_id` is one of these, with its
    /// pending writes (its values may be shared: `prune` and `delete_thread`
    /// remove them); answers how many checkpoints.
    public static func deleteForRuns(_ runIDs: [String]) -> Unit<CheckpointsTouched> {
        Unit(.write) { steps, done in
            let writes = Operation<Void>.done(nil) { d in
                ("DELETE FROM checkpoint_writes WHERE (thread_id, checkpoint_ns, checkpoint_id) IN (SELECT thread_id, checkpoint_ns, checkpoint_id "
                 + "FROM checkpoints WHERE \(CheckpointStatements.inList(d, "run_id", 1)))", [idList(runIDs)])
            }
            let failed = FirstFailure()
            steps.run(writes) { failed.note($0) }
            steps.run(deleted { d in ("DELETE FROM checkpoints WHERE \(CheckpointStatements.inList(d, "run_id", 1))", [idList(runIDs)]) }) {
                done(failed.answer($0))
            }
        }
    }

    /// The thread's checkpoints, values and writes under another thread id
    /// (ids kept; what the target already has with the same keys stays).
    public static func copyThread(from source: String, to target: String) -> Unit<CheckpointsTouched> {
        Unit(.write) { steps, done in
            func copy(_ table: String, _ columns: String) -> Operation<Void> {
                .done(nil) { _ in
                    ("INSERT INTO \(table) (thread_id, \(columns)) SELECT $1, \(columns) FROM \(table) WHERE thread_id = $2 ON CONFLICT DO NOTHING",
                     [.text(target), .text(source)])
                }
            }
            let failed = FirstFailure()
            steps.run(copy("checkpoint_blobs", "checkpoint_ns, channel, version, type, data")) { failed.note($0) }
            steps.run(copy("checkpoint_writes", "checkpoint_ns, checkpoint_id, task_id, idx, channel, type, data, task_path")) { failed.note($0) }
            var checkpoints = Operation<CheckpointsTouched>(.write(nil), statement: { _ in
                ("INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata, run_id, created_at) "
                 + "SELECT $1, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata, run_id, created_at FROM checkpoints "
                 + "WHERE thread_id = $2 ON CONFLICT DO NOTHING RETURNING thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, metadata",
                 [.text(target), .text(source)])
            }, initial: CheckpointsTouched(), eachRow: { row, _, out in
                out.count += 1
                out.changes.append(CheckpointChange(.created, thread: row.text(0) ?? "", namespace: row.text(1) ?? "", checkpointID: row.text(2),
                                                    parentID: row.text(3), metadata: row.json(4)))
            })
            checkpoints.change = .checkpointsReturned
            steps.run(checkpoints) { done(failed.answer($0)) }
        }
    }

    public enum PruneStrategy: String { case keepLatest = "keep_latest", delete }

    /// `delete`: the threads go whole. `keep_latest`: each namespace keeps
    /// its newest checkpoint, its writes (and newer ones, of a checkpoint
    /// still being saved) and the values it names; it becomes a root (no
    /// parent). A thread whose graph uses a `DeltaChannel` is refused, as
    /// LangGraph's PostgreSQL saver refuses it: its newest checkpoint's
    /// values are rebuilt from the ancestors' writes. Answers how many
    /// checkpoints were removed.
    public static func prune(_ threads: [String], strategy: PruneStrategy) -> Unit<CheckpointsTouched> {
        guard strategy == .keepLatest else {
            return removing(threads: threads) { d in (CheckpointStatements.inList(d, "thread_id", 1), [idList(threads)]) }
        }
        return Unit(.write) { steps, done in
            let list = idList(threads)
            let delta = Operation<[String]>.all { d in
                ("SELECT DISTINCT thread_id FROM checkpoints WHERE \(CheckpointStatements.inList(d, "thread_id", 1)) AND "
                 + "\(CheckpointStatements.usesDeltaChannels(d)) ORDER BY thread_id", [list])
            } decode: { row, _ in row.text(0) ?? "" }
            steps.run(delta) { found in
                let refused: [String]
                switch found { case .success(let r): refused = r; case .failure(let e): return done(.failure(e)) }
                guard refused.isEmpty else {
                    return done(.failure(.invalidParams(field: "thread_ids",
                                                        reason: "keep_latest can't prune threads that use a DeltaChannel: " + refused.joined(separator: ", "))))
                }
                let failed = FirstFailure()
                let newest = "(SELECT max(n.checkpoint_id) FROM checkpoints n WHERE n.thread_id = %@.thread_id AND n.checkpoint_ns = %@.checkpoint_ns)"
                func older(_ table: String) -> String { "checkpoint_id < " + newest.replacingOccurrences(of: "%@", with: table) }
                steps.run(Operation<Void>.done(nil) { d in
                    ("DELETE FROM checkpoint_writes WHERE \(CheckpointStatements.inList(d, "thread_id", 1)) AND \(older("checkpoint_writes"))", [list])
                }) { failed.note($0) }
                steps.run(deleted { d in
                    ("DELETE FROM checkpoints WHERE \(CheckpointStatements.inList(d, "thread_id", 1)) AND \(older("checkpoints"))", [list])
                }) { removed in
                    failed.note(removed)
                    steps.run(Operation<Void>.done(nil) { d in
                        ("UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE \(CheckpointStatements.inList(d, "thread_id", 1)) "
                         + "AND parent_checkpoint_id IS NOT NULL", [list])
                    }) { failed.note($0) }
                    steps.run(Operation<Void>.done(nil) { d in (CheckpointStatements.deleteUnreferencedBlobs(d), [list]) }) { last in done(failed.answer(last.flatMap { removed })) }
                }
            }
        }
    }

    /// Removes the rows of the threads `condition` selects from the three tables.
    private static func removing(threads: [String], _ condition: @escaping (SQLDialect) -> BoundStatement) -> Unit<CheckpointsTouched> {
        Unit(.write) { steps, done in
            let failed = FirstFailure()
            for table in ["checkpoint_blobs", "checkpoint_writes"] {
                steps.run(Operation<Void>.done(nil) { d in let (c, v) = condition(d); return ("DELETE FROM \(table) WHERE \(c)", v) }) { failed.note($0) }
            }
            steps.run(deleted { d in let (c, v) = condition(d); return ("DELETE FROM checkpoints WHERE \(c)", v) }) {
                done(failed.answer($0))
            }
        }
    }

    /// A delete of checkpoints that says which threads and namespaces lost some (live events: `deleted`).
    private static func deleted(_ statement: @escaping (SQLDialect) -> BoundStatement) -> Operation<CheckpointsTouched> {
        var op = Operation<CheckpointsTouched>(.write(nil), statement: { d in
            let (sql, values) = statement(d)
            return (sql + " RETURNING thread_id, checkpoint_ns", values)
        }, initial: CheckpointsTouched(), eachRow: { row, _, out in
            out.count += 1
            let change = CheckpointChange(.deleted, thread: row.text(0) ?? "", namespace: row.text(1) ?? "")
            if !out.changes.contains(change) { out.changes.append(change) }
        })
        op.change = .checkpointsReturned
        return op
    }

    private static func idList(_ ids: [String]) -> SQLValue { VectorStatements.idList(ids) }
}

/// What a bulk checkpoint statement did: how many checkpoints, and the live events it makes.
public struct CheckpointsTouched {
    public var count = 0
    public var changes: [CheckpointChange] = []

    /// The read-through groups of the threads it touched.
    public var retired: CacheInvalidation { CheckpointOperations.retiring(Array(Set(changes.map(\.threadID))).sorted()) }
}
