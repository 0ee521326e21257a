'use strict';
// The Node client: every method of the wire contract (protocol/PROTOCOL.md) as
// a promise, over one pipelined connection. Calls are written at once; the proxy
// answers in the order they were sent, so a FIFO of pending calls matches them.
//
//   const client = new StorageProxyClient('unix:///app/storage/proxy.sock');
//   await client.saveTask({ agent_name: 'news', ... });
//   await client.transaction(async (tx) => { await tx.updateTaskStatus('t1', 'done'); });

const fs = require('fs');
const net = require('net');
const tls = require('tls');
const errors = require('./errors');
const { ProxyConnectionError, errorFromWire } = errors;

const { RETRY_SAFE } = require('./methods');

/**
 * `unix:///path`, `tcp://host:port`, `tls://host:port[?ca=FILE&cert=FILE&key=FILE]`
 * (the proxy checked against `ca`, else Node's authorities; `cert`/`key` for
 * mutual TLS) or a plain socket path.
 */
function parseAddress(address) {
  if (address.startsWith('unix://')) return { path: address.slice('unix://'.length) };
  if (address.startsWith('tcp://') || address.startsWith('tls://')) {
    const url = new URL(address);
    const scheme = url.protocol.slice(0, -1);
    if (!url.hostname || !url.port) throw new Error(`${scheme}:// needs a host and a port: ${scheme}://host:port`);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const target = { host, port: Number(url.port) };
    for (const [name, value] of url.searchParams) {
      if (scheme !== 'tls' || !['ca', 'cert', 'key'].includes(name)) {
        throw new Error(`unknown option ${name} in ${address} (tls:// takes ca, cert and key)`);
      }
      target[name] = fs.readFileSync(value);
    }
    if (scheme === 'tls') {
      target.tls = true;
      target.minVersion = 'TLSv1.2';
      if (net.isIP(host) === 0) target.servername = host;
    }
    return target;
  }
  if (address.includes('://')) throw new Error(`unsupported address ${address}: use unix:///path, tcp://host:port or tls://host:port`);
  return { path: address };
}

/** Named parameters without the ones left undefined (the proxy's defaults apply). */
function named(fields) {
  const out = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}

/** One socket and its FIFO of calls waiting for answers. */
class Connection {
  static open(target) {
    return new Promise((resolve, reject) => {
      const socket = target.tls ? tls.connect(target) : net.connect(target);
      socket.once(target.tls ? 'secureConnect' : 'connect', () => { socket.removeAllListeners('error'); resolve(new Connection(socket)); });
      socket.once('error', (e) => reject(new ProxyConnectionError(`cannot connect to the proxy: ${e.message}`)));
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.pending = [];
    this.head = 0;
    this.buffered = '';
    this.closed = false;
    // Live events by subscription id; made by whichever comes first, the event or the subscriber.
    this.events = new Map();
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => this.received(chunk));
    socket.on('error', (e) => this.fail(`the connection to the proxy failed: ${e.message}`));
    socket.on('close', () => this.fail('the proxy closed the connection'));
  }

  send(id, line) {
    if (this.closed) return Promise.reject(new ProxyConnectionError('the connection to the proxy is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ id, resolve, reject });
      this.socket.write(line);
    });
  }

  received(chunk) {
    const text = this.buffered + chunk;
    let start = 0;
    let newline;
    while ((newline = text.indexOf('\n', start)) >= 0) {
      const line = text.slice(start, newline);
      start = newline + 1;
      if (!line.trim()) continue;
      if (line.includes('"method":"event"')) {
        let message;
        try { message = JSON.parse(line); } catch (e) { return this.fail(`unreadable event: ${e.message}`); }
        if (message.method === 'event' && !('id' in message)) {
          this.eventQueue(String((message.params || {}).subscription)).push(message.params || {});
          continue;
        }
      }
      const call = this.pending[this.head];
      if (!call) return this.fail('the proxy answered a request that was not sent');
      this.pending[this.head++] = undefined;
      if (this.head > 1024 && this.head * 2 > this.pending.length) {
        this.pending = this.pending.slice(this.head);
        this.head = 0;
      }
      let answer;
      try { answer = JSON.parse(line); } catch (e) { return this.fail(`unreadable answer: ${e.message}`); }
      if (answer.id !== call.id && answer.id !== null) {
        call.reject(new ProxyConnectionError(`answer for id ${answer.id} where ${call.id} was expected`));
        return this.fail('answers out of order');
      }
      call.resolve(answer);
    }
    this.buffered = text.slice(start);
  }

  eventQueue(subscription) {
    if (!this.events.has(subscription)) this.events.set(subscription, new EventQueue());
    return this.events.get(subscription);
  }

  fail(why) {
    if (this.closed) return;
    this.closed = true;
    for (const queue of this.events.values()) queue.push(null);  // the subscription's connection is gone
    for (let i = this.head; i < this.pending.length; i++) {
      const call = this.pending[i];
      if (call) call.reject(new ProxyConnectionError(`${why}; the call may or may not have run`));
    }
    this.pending = [];
    this.head = 0;
    this.socket.destroy();
  }

  close() {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', resolve);
      this.socket.end();
    });
  }
}

/** Events waiting for a reader, and readers waiting for events. */
class EventQueue {
  constructor() { this.items = []; this.waiting = []; }
  push(item) { if (this.waiting.length) this.waiting.shift()(item); else this.items.push(item); }
  /** The next item, or `timedOut` after `ms` (no limit when undefined). */
  next(ms, timedOut) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    return new Promise((resolve) => {
      const take = (item) => { clearTimeout(timer); resolve(item); };
      this.waiting.push(take);
      const timer = ms === undefined ? undefined : setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(take), 1);
        resolve(timedOut);
      }, ms);
    });
  }
}

/**
 * Live events: `for await (const event of client.subscribe({ topics: ['tasks'] }))`. Each event is
 * the `params` of the proxy's `event` notification ({subscription, topic, op, task | log}); an
 * `op: 'lagged'` one says changes were missed (a slow reader, or a lost connection after which the
 * subscription is made again by itself): re-read what you follow.
 */
class Subscription {
  constructor(client, params) {
    this.client = client;
    this.params = params;
    this.connection = null;
    this.id = null;
    this.closed = false;
  }

  /** Subscribes now (iterating does it too): changes committed after this resolves are seen. */
  async start() {
    if (this.id === null) {
      this.connection = await this.client.connected();
      this.id = (await this.client.call('subscribe', { ...this.params })).subscription;
      this.connection.eventQueue(this.id);
    }
    return this;
  }

  /** The next event; null when `timeoutMs` passes without one. */
  async next(timeoutMs) {
    if (this.closed) return null;
    await this.start();
    const params = await this.connection.eventQueue(this.id).next(timeoutMs, undefined);
    if (params === undefined) return null;
    if (params === null) {  // the connection was lost: subscribe again, and say so
      this.connection.events.delete(this.id);
      this.id = null;
      await this.start();
      return { subscription: this.id, op: 'lagged', dropped: {},
               reason: 'the connection to the proxy was lost and the subscription made again' };
    }
    return params;
  }

  /** Unsubscribes (the proxy frees it at once) and ends the iteration. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    if (this.id !== null && this.connection && !this.connection.closed) {
      await this.client.call('unsubscribe', { subscription: this.id }).catch(() => {});
      this.connection.events.delete(this.id);
    }
  }

  [Symbol.asyncIterator]() {
    return {
      next: async () => {
        const value = await this.next();
        return value === null ? { done: true, value: undefined } : { done: false, value };
      },
      return: async () => { await this.close(); return { done: true, value: undefined }; },
    };
  }
}

/** The storage methods; a transaction runs the same ones with its handle. */
class StorageMethods {
  inTx(method, params) {
    if (this.transactionHandle) params.transaction = this.transactionHandle;
    return this.call(method, params);
  }

  saveTask(task) { return this.inTx('save_task', { task }); }
  getTask(taskId) { return this.inTx('get_task', { task_id: taskId }); }
  listTasks({ agentName, status, limit, offset } = {}) {
    return this.inTx('list_tasks', named({ agent_name: agentName, status, limit, offset }));
  }
  /** How many tasks match; `leasedAt`: only those running under a lease live then. */
  countTasks({ agentName, status, leasedAt, groupBy } = {}) {
    return this.inTx('count_tasks', named({ agent_name: agentName, status, leased_at: leasedAt, group_by: groupBy }));
  }
  deleteTask(taskId) { return this.inTx('delete_task', { task_id: taskId }); }
  updateTaskStatus(taskId, status, { lastRun, nextRun } = {}) {
    return this.inTx('update_task_status', named({ task_id: taskId, status, last_run: lastRun, next_run: nextRun }));
  }
  saveLog(taskId, level, message, metadata) {
    return this.inTx('save_log', named({ task_id: taskId, level, message, metadata }));
  }
  queryLogs({ taskId, level, startTime, endTime, limit } = {}) {
    return this.inTx('query_logs', named({ task_id: taskId, level, start_time: startTime, end_time: endTime, limit }));
  }
  deleteOldLogs(before) { return this.inTx('delete_old_logs', { before }); }
  saveMetadata(key, value) { return this.inTx('save_metadata', { key, value: value === undefined ? null : value }); }
  getMetadata(key) { return this.inTx('get_metadata', { key }); }
  /** Stored keys starting with `prefix`, in byte order, after `after`: one page. */
  listMetadata(prefix = '', { after, limit } = {}) { return this.inTx('list_metadata', named({ prefix, after, limit })); }
  deleteMetadata(key) { return this.inTx('delete_metadata', { key }); }

  /** Stores documents (an id already stored is replaced); resolves with their ids. `embeddings`: arrays or typed arrays. */
  addDocuments(documents, metadata, embeddings, { ids, collection } = {}) {
    return this.inTx('vector.add_documents', named({ documents, metadata, embeddings: vectors(embeddings), ids, collection }));
  }
  deleteDocuments(ids, { collection } = {}) { return this.inTx('vector.delete_documents', named({ ids, collection })); }
  /** The stored documents, in the order asked: {id, document, metadata, embedding}, null for an id not stored. */
  getDocuments(ids, { collection } = {}) { return this.inTx('vector.get_documents', named({ ids, collection })); }
}

/** Typed arrays (Float32Array) as plain arrays, so that JSON.stringify writes them as arrays. */
function vectors(list) { return list == null ? list : list.map(vectorToWire); }

/** A vector as the proxy takes it fastest: the base64 of its components as little-endian float32
 * (PROTOCOL.md, "Embeddings"); one holding something other than numbers goes as an array, for the proxy to name. */
function vectorToWire(v) {
  if (v == null) return null;
  const bytes = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'number') return Array.from(v);
    bytes.writeFloatLE(v[i], i * 4);
  }
  return bytes.toString('base64');
}

class Transaction extends StorageMethods {
  constructor(client, handle) {
    super();
    this.client = client;
    this.transactionHandle = handle;
  }

  call(method, params) { return this.client.call(method, params); }
  commit() { return this.client.commitTransaction(this.transactionHandle); }
  rollback() { return this.client.rollbackTransaction(this.transactionHandle); }
}

class StorageProxyClient extends StorageMethods {
  /**
   * @param {string} address `unix:///path/proxy.sock` or `tcp://host:port`
   * @param {{token?: string, connectTimeoutMs?: number, firstConnectTimeoutMs?: number}} options
   *   `token`: the server's auth_token (TCP). The first connect is tried once, for at most
   *   firstConnectTimeoutMs: a proxy that is not there is an error at once. A lost connection
   *   is reopened by the next call, retrying for up to connectTimeoutMs.
   */
  constructor(address = 'unix://storage/proxy.sock', { token, connectTimeoutMs = 10000, firstConnectTimeoutMs = 1000 } = {}) {
    super();
    this.target = parseAddress(address);
    this.token = token;
    this.connectTimeoutMs = connectTimeoutMs;
    this.firstConnectTimeoutMs = firstConnectTimeoutMs;
    this.everConnected = false;
    this.connection = null;
    this.connecting = null;
    this.nextId = 1;
  }

  async connect() { await this.connected(); }

  async close() {
    const c = this.connection;
    this.connection = null;
    if (c) await c.close();
  }

  connected() {
    if (this.connection && !this.connection.closed) return Promise.resolve(this.connection);
    if (!this.connecting) {  // one reconnect for every call that found it closed
      this.connecting = this.open().then(
        (c) => { this.connecting = null; this.connection = c; return c; },
        (e) => { this.connecting = null; throw e; });
    }
    return this.connecting;
  }

  /** One connect attempt that gives up after `ms` (a connection made after that is closed). */
  openWithin(ms) {
    let timer;
    let timedOut = false;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new ProxyConnectionError(`cannot connect to the proxy: no answer within ${ms} ms`));
      }, ms);
    });
    const attempt = Connection.open(this.target);
    attempt.then((c) => { if (timedOut) c.close(); }, () => {});
    return Promise.race([attempt, timeout]).finally(() => clearTimeout(timer));
  }

  async open() {
    let connection;
    if (!this.everConnected) {
      connection = await this.openWithin(this.firstConnectTimeoutMs);  // never reached: say so at once
    } else {
      const deadline = Date.now() + this.connectTimeoutMs;
      let delay = 50;
      for (;;) {
        try {
          connection = await this.openWithin(Math.max(50, deadline - Date.now()));
          break;
        } catch (e) {
          if (Date.now() + delay > deadline) throw e;
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 1000);
        }
      }
    }
    this.everConnected = true;
    if (this.token !== undefined) {
      const id = this.nextId++;
      const answer = await connection.send(id, line(id, 'auth', { token: this.token }));
      if (answer.error) {
        await connection.close();
        throw errorFromWire(answer.error);
      }
    }
    return connection;
  }

  async send(method, params) {
    const connection = await this.connected();
    const id = this.nextId++;
    return connection.send(id, line(id, method, params));
  }

  /** Any method by name, e.g. call('server.status'). Resolves with the result, rejects with its error. */
  async call(method, params) {
    let answer;
    try {
      answer = await this.send(method, params);
    } catch (e) {
      if (!(e instanceof ProxyConnectionError) || !RETRY_SAFE.has(method) || (params && params.transaction)) throw e;
      answer = await this.send(method, params);
    }
    if (answer.error) throw errorFromWire(answer.error);
    return answer.result;
  }

  healthCheck() { return this.call('health_check'); }
  beginTransaction() { return this.call('begin_transaction'); }
  commitTransaction(handle) { return this.call('commit_transaction', { transaction: handle }); }
  rollbackTransaction(handle) { return this.call('rollback_transaction', { transaction: handle }); }

  /** Runs `body(tx)` in a transaction: committed if it resolves, rolled back if it throws. */
  async transaction(body) {
    const tx = new Transaction(this, await this.beginTransaction());
    let result;
    try {
      result = await body(tx);
    } catch (e) {
      await tx.rollback().catch(() => {});
      throw e;
    }
    await tx.commit();
    return result;
  }

  // Claims and leases (never in a transaction); lease seconds default to 60.
  claimDueTasks(worker, { limit, leaseSeconds, agentName, now, maxRunning, agentPrefix } = {}) {
    return this.call('claim_due_tasks', named({ worker, limit, lease_seconds: leaseSeconds, agent_name: agentName, now,
      max_running: maxRunning, agent_prefix: agentPrefix }));
  }
  renewLease(taskId, worker, leaseSeconds, { now } = {}) {
    return this.call('renew_lease', named({ task_id: taskId, worker, lease_seconds: leaseSeconds, now }));
  }
  /** `nextRun`: undefined lets the proxy compute it from the schedule; null means no next run. */
  completeTask(taskId, worker, status, { nextRun, result, now } = {}) {
    return this.call('complete_task', named({ task_id: taskId, worker, status, next_run: nextRun, result, now }));
  }
  nextRuns(scheduleType, scheduleValue, { timeZone, after, count } = {}) {
    return this.call('schedule.next_runs', named({ schedule_type: scheduleType, schedule_value: scheduleValue,
                                                   time_zone: timeZone, after, count }));
  }

  /** Live events (see Subscription); `topics`: any of 'tasks', 'logs' (default both). */
  subscribe({ topics, agentName, taskId, agentPrefix, leases } = {}) {
    return new Subscription(this, named({ topics, agent_name: agentName, task_id: taskId, agent_prefix: agentPrefix, leases }));
  }

  // cache.* (the application's key space); ttl in seconds
  cacheGet(key) { return this.call('cache.get', { key }); }
  cacheSet(key, value, ttl) { return this.call('cache.set', named({ key, value: value === undefined ? null : value, ttl })); }
  cacheDelete(key) { return this.call('cache.delete', { key }); }
  cacheExists(key) { return this.call('cache.exists', { key }); }
  cacheClearPattern(pattern) { return this.call('cache.clear_pattern', { pattern }); }

  // vector.*: search and collections (adds and deletes are in StorageMethods, so transactions have them)
  /** Best first: by keyword (`query`), by exact vector similarity (`embedding`), or both fused (hybrid). */
  search(query, { topK, filter, embedding, mode, collection } = {}) {
    return this.call('vector.search', named({ query: query == null ? undefined : query, top_k: topK, filter,
                                              embedding: embedding == null ? undefined : vectorToWire(embedding), mode, collection }));
  }
  createCollection(name, dimension, metric = 'cosine') { return this.call('vector.create_collection', { name, dimension, metric }); }
  listCollections() { return this.call('vector.list_collections'); }
  dropCollection(name) { return this.call('vector.drop_collection', { name }); }
}

function line(id, method, params) {
  const message = { jsonrpc: '2.0', id, method };
  if (params && Object.keys(params).length) message.params = params;
  return JSON.stringify(message) + '\n';  // a Date becomes its ISO string (toJSON)
}

module.exports = { StorageProxyClient, Transaction, Subscription, parseAddress, ...errors };
