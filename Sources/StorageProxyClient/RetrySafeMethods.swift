// Generated from protocol/openrpc.json (x-retry-safe) by scripts/generate-client-methods: do not edit.

/// Methods that change nothing: sent again once if the connection was lost under them (outside a transaction).
enum RetrySafeMethods {
    static let names: Set<String> = [
        "cache.exists",
        "cache.get",
        "checkpoint.copy_thread",
        "checkpoint.delete_for_runs",
        "checkpoint.delete_thread",
        "checkpoint.get",
        "checkpoint.list",
        "checkpoint.prune",
        "checkpoint.put",
        "checkpoint.put_writes",
        "get_metadata",
        "get_task",
        "health_check",
        "list_metadata",
        "list_tasks",
        "query_logs",
        "renew_lease",
        "rpc.discover",
        "schedule.next_runs",
        "server.status",
        "subscribe",
        "unsubscribe",
        "vector.create_collection",
        "vector.drop_collection",
        "vector.get_documents",
        "vector.list_collections",
        "vector.search",
    ]
}
