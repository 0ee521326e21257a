// Generated from protocol/openrpc.json (x-retry-safe) by scripts/generate-client-methods: do not edit.
'use strict';

// Methods that change nothing: sent again once if the connection was lost under them (outside a transaction).
const RETRY_SAFE = new Set([
  'cache.exists',
  'cache.get',
  'checkpoint.copy_thread',
  'checkpoint.delete_for_runs',
  'checkpoint.delete_thread',
  'checkpoint.get',
  'checkpoint.list',
  'checkpoint.prune',
  'checkpoint.put',
  'checkpoint.put_writes',
  'count_tasks',
  'get_metadata',
  'get_task',
  'health_check',
  'list_metadata',
  'list_tasks',
  'query_logs',
  'renew_lease',
  'rpc.discover',
  'schedule.next_runs',
  'server.reload_preview',
  'server.status',
  'store.delete',
  'store.get',
  'store.list_namespaces',
  'store.put',
  'store.search',
  'store.sweep',
  'subscribe',
  'unsubscribe',
  'vector.create_collection',
  'vector.drop_collection',
  'vector.get_documents',
  'vector.list_collections',
  'vector.search',
]);

module.exports = { RETRY_SAFE };
